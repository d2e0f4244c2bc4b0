"""Where a thousand small files spend their time (not a test): the many scenario once, with profilers on.

    python bench/many_profile.py [--files 1000] [--upload-method post|put] [--frames] [--no-js-profile]

Runs upload_bench.py's "many" scenario (choose -> every file "Verified", LocalStack) once after a short
warm-up, and prints per file:
- CPU by process (Chromium's renderer, browser, network; the app; LocalStack), as upload_bench does;
- the renderer's main thread (DevTools Performance metrics: script, style, layout, all tasks) and, with
  the DevTools sampling Profiler, its self time by function and by script (the component's uploader.js,
  Streamlit's bundle, GC, native "(program)");
- the app server's CPU by thread and by function, from a sampler inside its process
  (bench/profiling/sitecustomize.py, put on the app's PYTHONPATH; the app itself knows nothing of it);
- the bytes the app server sent the browser and received from it (the WebSocket: reruns, data, events);
- with --frames, each WebSocket message to the browser (DevTools Network events: costs time, so
  that run's timings mean less): how many, and how large as the batch goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from upload_bench import Stage, browser_upload, cpu_seconds, cpu_spent, make_small_files  # noqa: E402

from tests.support.browser import launch_chromium  # noqa: E402


def js_profile_table(profile: dict, files: int, top: int) -> None:
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    own: dict[tuple[str, str], float] = defaultdict(float)
    inclusive: dict[tuple[str, str], float] = defaultdict(float)
    by_script: dict[str, float] = defaultdict(float)
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]["callFrame"]
        key = (script_of(frame["url"]), frame["functionName"] or "(anonymous)")
        own[key] += delta / 1000
        by_script[key[0] if frame["url"] else key[1]] += delta / 1000
        seen, node = set(), sample
        while node in nodes:
            call = nodes[node]["callFrame"]
            name = (script_of(call["url"]), call["functionName"] or "(anonymous)")
            if name not in seen:
                seen.add(name)
                inclusive[name] += delta / 1000
            node = parent.get(node, -1)
    busy = sum(v for k, v in by_script.items() if k != "(idle)")
    print(f"  renderer main thread, sampled: {busy / files:.2f} ms per file busy")
    for script, ms in sorted(by_script.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {ms / files:7.2f} ms/file  {script}")
    print("  by function, self time (ms per file):")
    for (script, name), ms in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {ms / files:7.3f}  {name}  [{script}]")
    print("  uploader.js, inclusive time (ms per file):")
    mine = [(k, v) for k, v in inclusive.items() if k[0] == "uploader.js"]
    for (_script, name), ms in sorted(mine, key=lambda kv: -kv[1])[:top]:
        print(f"    {ms / files:7.3f}  {name}")


def frame_table(frames: list[tuple[float, str]], files: int) -> list[int]:
    """Decode Streamlit's ForwardMsgs (base64 protobuf): bytes by kind of message and element, reruns."""
    import base64

    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    sizes, by_kind, reruns = [], defaultdict(lambda: [0, 0]), 0
    component_sizes = []
    for _, payload in frames:
        raw = base64.b64decode(payload)
        sizes.append(len(raw))
        msg = ForwardMsg()
        try:
            msg.ParseFromString(raw)
        except Exception:
            by_kind["(undecodable)"][0] += 1
            by_kind["(undecodable)"][1] += len(raw)
            continue
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            reruns += 1
        if kind == "delta":
            delta = msg.delta
            which = delta.WhichOneof("type")
            if which == "new_element":
                kind = "element " + delta.new_element.WhichOneof("type")
                if kind.endswith(("bidi_component", "component_instance")):
                    component_sizes.append(len(raw))
            else:
                kind = f"delta {which}"
        by_kind[kind][0] += 1
        by_kind[kind][1] += len(raw)
    print(f"  {reruns} script runs (new_session messages) for {files} files; by message kind (count, bytes):")
    for kind, (count, size) in sorted(by_kind.items(), key=lambda kv: -kv[1][1])[:14]:
        print(f"    {count:6} {size:>10,}  {kind}")
    if component_sizes:
        print(f"  the component's element, each run: {', '.join(f'{s // 1024}K' for s in component_sizes[:60])}")
    return sizes


TRACE_CATEGORIES = [
    "toplevel",
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "blink",
    "loading",
    "cc",
    "gpu",
]


def trace_table(trace: dict, files: int, top: int) -> None:
    """Self time of every event on each renderer main thread (CrRendererMain), by name."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    spans: dict[tuple, list] = defaultdict(list)
    for e in events:
        where = (e.get("pid"), e.get("tid"))
        if where in mains and e.get("ph") == "X" and "dur" in e:
            spans[where].append((e["ts"], e["ts"] + e["dur"], e["name"]))
    own: dict[str, float] = defaultdict(float)
    for items in spans.values():
        items.sort(key=lambda s: (s[0], -s[1]))
        stack: list[list] = []  # [end, name, child time]
        for start, end, name in items:
            while stack and stack[-1][0] <= start:
                ended = stack.pop()
                own[ended[1]] += ended[3] - ended[2]
            if stack:
                stack[-1][2] += end - start
            stack.append([end, name, 0.0, end - start])
        while stack:
            ended = stack.pop()
            own[ended[1]] += ended[3] - ended[2]
    total = sum(own.values())
    print(f"  renderer main thread, traced: {total / 1000 / files:.2f} ms per file in events; self time by event:")
    for name, us in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {us / 1000 / files:7.3f}  {name}")


def script_of(url: str) -> str:
    if not url:
        return "(native)"
    # Streamlit loads a component's module from a blob: URL named by a UUID
    if "uploader" in url or "bucketdesk" in url or re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", url):
        return "uploader.js"
    return url.rsplit("/", 1)[-1].split("?")[0][:60] or url[:60]


def app_profile_table(data: dict, files: int, top: int) -> None:
    total = sum(data["threads"].values())
    print(
        f"  app server CPU, sampled: {total * 1000 / files:.2f} ms per file "
        f"(sampler's own: {data['sampler_cpu'] * 1000 / files:.2f} ms per file, not included)"
    )
    for thread, seconds in sorted(data["threads"].items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {seconds * 1000 / files:7.2f} ms/file  thread {thread}")
    print("  by function, inclusive (ms per file):")
    for name, seconds in sorted(data["inclusive"].items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {seconds * 1000 / files:7.3f}  {name}")
    print("  by function, self (ms per file):")
    for name, seconds in sorted(data["self"].items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {seconds * 1000 / files:7.3f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--upload-method", choices=["post", "put"], default="post")
    parser.add_argument("--upload-concurrency", type=int, default=6)
    parser.add_argument("--frames", action="store_true", help="count the WebSocket messages (slows the run)")
    parser.add_argument("--no-js-profile", action="store_true", help="leave the DevTools Profiler off")
    parser.add_argument("--trace", action="store_true", help="a Chromium trace: the main thread's time by event")
    parser.add_argument("--bare", action="store_true", help="the floor: bare XHRs from a page, no component")
    parser.add_argument("--checksums", choices=["required", "optional", "off"], help="the app's checksums setting")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the app's environment (experiments)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", help="write the raw JS profile here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-profile-"))
    out = str(workdir / "app-profile.json")
    paths = make_small_files(workdir / "many", args.files, 20 * 1024)
    stage = Stage(100 * 1024 * 1024, None, args.checksums)
    extra = {"PYTHONPATH": str(ROOT / "bench" / "profiling"), "BENCH_PROFILE_OUT": out}
    extra.update(item.split("=", 1) for item in args.env)
    proxy, _ = stage.app(
        "localstack",
        extra,
        upload_concurrency=str(args.upload_concurrency),
        upload_method=args.upload_method,
    )
    seen: dict = {}

    def watch(page):
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before = metrics(cdp)
        frames: list[tuple[float, int]] = []
        if args.frames:
            cdp.send("Network.enable")
            cdp.on(
                "Network.webSocketFrameReceived",
                lambda ev: frames.append((time.perf_counter(), ev["response"]["payloadData"])),
            )
        if not args.no_js_profile:
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 500})
            cdp.send("Profiler.start")
        if args.trace:
            page.context.browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        Path(out + ".reset").touch()
        proxy.reset()

        def stop():
            Path(out + ".dump").touch()
            seen["bytes"] = (proxy.bytes_to_client, proxy.bytes_to_server)
            seen["metrics"] = {k: metrics(cdp)[k] - before.get(k, 0) for k in before}
            if not args.no_js_profile:
                seen["profile"] = cdp.send("Profiler.stop")["profile"]
            seen["frames"] = frames
            if args.trace:
                seen["trace"] = json.loads(page.context.browser.stop_tracing())
            cdp.detach()

        return stop

    if args.bare:
        try:
            with sync_playwright() as playwright:
                bare_floor(stage, launch_chromium(playwright), args)
        finally:
            stage.close()
        return
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            browser_upload(browser, proxy.url, paths[:30], timeout_s=300)  # warm: imports, first reruns
            run = browser_upload(browser, proxy.url, paths, timeout_s=1200, watch=watch)
            browser.close()
        for _ in range(100):
            if Path(out).exists():
                break
            time.sleep(0.1)
        app = json.loads(Path(out).read_text())
    finally:
        stage.close()
    report(run, seen, app, args)


def report(run: dict, seen: dict, app: dict, args) -> None:
    n = args.files
    print(
        f"\n[many profile] {n} files of 20 KiB, LocalStack, {args.upload_method.upper()}: "
        f"{run['seconds']:.1f} s, {n / run['seconds']:.0f} files/s (profilers on), load {os.getloadavg()[0]:.1f}"
    )
    print(
        "  CPU ms per file by process: "
        + ", ".join(f"{k} {v * 1000 / n:.1f}" for k, v in sorted(run["cpu"].items(), key=lambda kv: -kv[1]))
    )
    m = seen["metrics"]
    print(
        "  renderer main thread (Performance metrics, ms per file): "
        + ", ".join(
            f"{name} {m.get(key, 0) * 1000 / n:.2f}"
            for name, key in [
                ("all tasks", "TaskDuration"),
                ("script", "ScriptDuration"),
                ("style", "RecalcStyleDuration"),
                ("layout", "LayoutDuration"),
                ("compile", "V8CompileDuration"),
            ]
        )
        + f"; layouts {m.get('LayoutCount', 0):.0f}, style recalcs {m.get('RecalcStyleCount', 0):.0f}"
    )
    to_browser, to_server = seen["bytes"]
    print(
        f"  WebSocket + HTTP: app -> browser {to_browser / n:,.0f} bytes per file, browser -> app {to_server / n:,.0f}"
    )
    if seen["frames"]:
        sizes = frame_table(seen["frames"], n)
        tenth = max(1, len(sizes) // 10)
        print(
            f"  messages to the browser: {len(sizes)}, {sum(sizes):,} bytes; median {statistics.median(sizes):,.0f}; "
            f"largest {max(sizes):,}; mean by tenth of the run: "
            + ", ".join(f"{statistics.mean(sizes[i : i + tenth]):,.0f}" for i in range(0, len(sizes), tenth))
        )
    if "profile" in seen:
        js_profile_table(seen["profile"], n, args.top)
        if args.json:
            Path(args.json).write_text(json.dumps(seen["profile"]))
    if "trace" in seen:
        trace_table(seen["trace"], n, args.top)
        if args.json:
            Path(args.json + ".trace").write_text(json.dumps(seen["trace"]))
    app_profile_table(app, n, args.top)


BARE_XHRS = """async ([requests, size, concurrency, progress]) => {
    const blob = new Blob([new Uint8Array(size)], {type: "video/mp4"});
    let next = 0;
    const one = (request) => new Promise((done) => {
        const xhr = new XMLHttpRequest();
        xhr.open(request.method, request.url, true);
        let body = blob;
        if (request.method === "POST") {
            body = new FormData();
            for (const [k, v] of Object.entries(request.fields)) body.append(k, v);
            body.append("file", blob);
        } else for (const [k, v] of Object.entries(request.headers)) xhr.setRequestHeader(k, v);
        if (progress) xhr.upload.onprogress = () => {};
        xhr.onload = xhr.onerror = () => done(xhr.status);
        xhr.send(body);
    });
    const statuses = [];
    await Promise.all(Array.from({length: concurrency}, async () => {
        while (next < requests.length) statuses.push(await one(requests[next++]));
    }));
    return statuses.filter((s) => s >= 200 && s < 300).length;
}"""


def bare_floor(stage: Stage, browser, args) -> None:
    """What the browser spends on bare XHRs of 20 KiB to the same LocalStack: the floor under the component."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.support.localstack import localstack_client

    class Blank(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html></html>")

        def log_message(self, *_):
            pass

    # A page on a loopback origin (Chromium lets only those reach LocalStack's loopback address)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    env, _ = stage.localstack_env(origin)
    s3 = localstack_client(env["AWS_ENDPOINT_URL_S3"])
    bucket, n = env["BUCKETDESK_BUCKET"], args.files
    page = browser.new_page()
    page.goto(origin + "/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    for method, progress in [("POST", False), ("POST", True), ("PUT", False), ("PUT", True)]:
        requests = []
        for i in range(n):
            key = f"bare/{uuid.uuid4().hex}/f{i}.mp4"
            if method == "POST":
                post = s3.generate_presigned_post(
                    bucket, key, Fields={"Content-Type": "video/mp4"}, Conditions=[{"Content-Type": "video/mp4"}]
                )
                requests.append({"method": "POST", "url": post["url"], "fields": post["fields"]})
            else:
                url = s3.generate_presigned_url(
                    "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "video/mp4"}
                )
                requests.append({"method": "PUT", "url": url, "headers": {"Content-Type": "video/mp4"}})
        if args.trace and progress:
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        before, cpu_before, started = metrics(cdp), cpu_seconds(), time.perf_counter()
        ok = page.evaluate(BARE_XHRS, [requests, 20 * 1024, args.upload_concurrency, progress])
        seconds = time.perf_counter() - started
        if args.trace and progress:
            trace_table(json.loads(browser.stop_tracing()), n, args.top)
        cpu = cpu_spent(cpu_before, cpu_seconds())
        after = metrics(cdp)
        print(
            f"  bare {method} x{n} (upload listener {'on' if progress else 'off'}): {ok} stored, {n / seconds:.0f} files/s; "
            f"main thread {(after['TaskDuration'] - before['TaskDuration']) * 1000 / n:.2f} ms/file "
            f"(script {(after['ScriptDuration'] - before['ScriptDuration']) * 1000 / n:.2f}); CPU ms/file: "
            + ", ".join(f"{k} {v * 1000 / n:.1f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
            + f"; load {os.getloadavg()[0]:.1f}"
        )


def metrics(cdp) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


if __name__ == "__main__":
    main()
