"""What Chromium's processes spend to read, hash and send a large file chosen in a page, step by step.

    python bench/chromium_cost_bench.py [--size-mb 1024] [--part-mb 32] [--driver cdp|playwright|both]
                                        [--modes read,digest,hash,xhr-blob,xhr-buffer,xhr-buffer-hashed]

A plain page (served with a sink that discards every byte PUT to it) chooses the file, then runs each mode
over its parts; printed: seconds and CPU seconds per GiB by Chromium process role (browser, renderer,
network service). Modes:

- read: `blob.slice().arrayBuffer()` of every part, one at a time (as the uploader hashes ahead)
- digest: `crypto.subtle.digest("SHA-256")` of one part's buffer, as many times as there are parts
- hash: read + digest, one part at a time (the uploader's hashing today)
- xhr-blob: XHR PUT of each part's Blob slice, 8 at once (the uploader's sending today)
- xhr-buffer: read each part into an ArrayBuffer and XHR PUT that, 8 at once
- xhr-buffer-hashed: read, digest, PUT the same buffer, 8 at once (read once, hash and send)
- read-byob, hash-byob: read (and digest) through the Blob's byte stream into a reused buffer
- xhr-pool-hashed: hash-byob, then PUT that buffer (send() copies it; the buffer is reused at once)
- fetch-blob, fetch-buffer: as the xhr- ones, with fetch()
- xhr-memblob: read, then PUT `new Blob([buffer])` (fails past a few hundred MiB: Chromium's blob memory)
- read-stream: read through `blob.stream()`'s default reader
- worker-read, worker-hash: read (and digest) in a Worker with FileReaderSync

The driver: `cdp` (tests/support/cdp.py: no DevTools domain enabled, as people run Chromium) or
`playwright` (which enables the Network domain: every request reported to the driver). Not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from upload_bench import MiB, cpu_seconds, cpu_spent, make_file  # noqa: E402

PAGE = b"""<!doctype html><meta charset=utf-8><title>chromium cost</title><input type=file id=f>
<script>
window.runMode = async ([mode, partBytes, concurrency]) => {
  const file = document.getElementById("f").files[0];
  const count = Math.ceil(file.size / partBytes);
  const part = (i) => file.slice(i * partBytes, Math.min(file.size, (i + 1) * partBytes));
  const put = (body) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", "/sink", true);
    xhr.setRequestHeader("x-amz-checksum-sha256", "AAAA");
    xhr.upload.onprogress = () => {};
    xhr.onload = () => (xhr.status === 200 ? resolve() : reject(new Error("status " + xhr.status)));
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(body);
  });
  // A worker reading with FileReaderSync (another path from the file to the page), hashing there too.
  const workerSource = `onmessage = async ({ data: [blob, hash] }) => {
    const buffer = new FileReaderSync().readAsArrayBuffer(blob);
    if (hash) await crypto.subtle.digest("SHA-256", buffer);
    postMessage(0);
  };`;
  const worker = mode.startsWith("worker") && new Worker(URL.createObjectURL(new Blob([workerSource])));
  const inWorker = (i, hash) => new Promise((resolve) => { worker.onmessage = resolve; worker.postMessage([part(i), hash]); });
  // Buffers reused: reading into one touches no fresh memory.
  const pool = (bytes) => { window.__pool ||= []; return window.__pool.pop() || new ArrayBuffer(bytes); };
  const readInto = async (blob, buffer) => {
    const reader = blob.stream().getReader({ mode: "byob" });
    let filled = 0;
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buffer, filled, buffer.byteLength - filled));
      if (done) break;
      buffer = value.buffer;
      filled += value.byteLength;
      if (filled === buffer.byteLength) break;
    }
    return [buffer, filled];
  };
  const digest = (buffer) => crypto.subtle.digest("SHA-256", buffer);
  const one = {
    "read": async (i) => { await part(i).arrayBuffer(); },
    "digest": null,
    "hash": async (i) => { await digest(await part(i).arrayBuffer()); },
    "xhr-blob": async (i) => { await put(part(i)); },
    "xhr-buffer": async (i) => { await put(await part(i).arrayBuffer()); },
    "xhr-buffer-hashed": async (i) => { const b = await part(i).arrayBuffer(); await digest(b); await put(b); },
    "xhr-memblob": async (i) => { await put(new Blob([await part(i).arrayBuffer()])); },
    "fetch-buffer": async (i) => {
      const b = await part(i).arrayBuffer();
      const r = await fetch("/sink", { method: "PUT", body: b, headers: { "x-amz-checksum-sha256": "AAAA" } });
      if (r.status !== 200) throw new Error("status " + r.status);
    },
    "fetch-blob": async (i) => {
      const r = await fetch("/sink", { method: "PUT", body: part(i), headers: { "x-amz-checksum-sha256": "AAAA" } });
      if (r.status !== 200) throw new Error("status " + r.status);
    },
    "read-byob": async (i) => { const [b] = await readInto(part(i), pool(partBytes)); window.__pool.push(b); },
    "hash-byob": async (i) => {
      const [b, n] = await readInto(part(i), pool(partBytes));
      await digest(new Uint8Array(b, 0, n));
      window.__pool.push(b);
    },
    "xhr-pool-hashed": async (i) => {
      const [b, n] = await readInto(part(i), pool(partBytes));
      const view = new Uint8Array(b, 0, n);
      await digest(view);
      const sent = put(view); // send() copies the bytes: the buffer is free again at once
      window.__pool.push(b);
      await sent;
    },
    "worker-read": (i) => inWorker(i, false),
    "worker-hash": (i) => inWorker(i, true),
    "read-stream": async (i) => { const r = part(i).stream().getReader(); while (!(await r.read()).done); },
  }[mode];
  let started;
  if (mode === "digest") {
    const buffer = await part(0).arrayBuffer();
    started = performance.now();
    for (let i = 0; i < count; i++) await digest(buffer);
  } else {
    let next = 0;
    started = performance.now();
    const worker = async () => { while (next < count) await one(next++); };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  return (performance.now() - started) / 1000;
};
</script>"""


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def do_PUT(self) -> None:
        left = int(self.headers.get("Content-Length", 0))
        buffer = bytearray(MiB)
        while left:
            got = self.rfile.readinto(memoryview(buffer)[: min(left, MiB)])
            if not got:
                return
            left -= got
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def chromium_cpu(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role[len("chromium ") :]: s for role, s in cpu_spent(before, after).items() if role.startswith("chromium")}


def kernel_seconds() -> tuple[float, int, int]:
    """Chromium's processes so far: system (kernel) CPU seconds (reading files, pipes, sockets, page
    faults), minor page faults (each a fresh page of memory touched) and context switches."""
    total, faults, switches = 0.0, 0, 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and b"chrom" in Path(f"/proc/{entry}/cmdline").read_bytes():
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[12])
                faults += int(fields[7])
                status = Path(f"/proc/{entry}/status").read_text()
                switches += sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))
        except (OSError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK"), faults, switches


def run_modes(page, url: str, path: Path, modes: list[str], part_bytes: int) -> list[tuple[str, float, dict]]:
    results = []
    for mode in modes:
        page.goto(url)
        page.set_input_files("#f", [str(path)])
        before, kernel = cpu_seconds(), kernel_seconds()
        seconds = page.evaluate(
            "window.runMode", [mode, part_bytes, 1 if mode.startswith(("read", "hash", "worker")) else 8]
        )
        print(f"  ({mode} done)", file=sys.stderr)
        cpu = chromium_cpu(before, cpu_seconds())
        after = kernel_seconds()
        cpu["(of which kernel)"] = after[0] - kernel[0]
        cpu["faults"], cpu["switches"] = after[1] - kernel[1], after[2] - kernel[2]
        results.append((mode, seconds, cpu))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--part-mb", type=int, default=32)
    parser.add_argument("--driver", choices=["cdp", "playwright", "both"], default="both")
    parser.add_argument("--modes", default="read,digest,hash,xhr-blob,xhr-buffer,xhr-buffer-hashed")
    args = parser.parse_args()
    modes = args.modes.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-cost-"))
    path = make_file(workdir / "big.bin", args.size_mb)
    ThreadingHTTPServer.request_queue_size = 64
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    gib = args.size_mb / 1024
    drivers = ["cdp", "playwright"] if args.driver == "both" else [args.driver]
    try:
        for driver in drivers:
            if driver == "cdp":
                from tests.support.cdp import CdpBrowser

                with CdpBrowser.launch() as browser:
                    page = browser.new_page()
                    results = run_modes(page, url, path, modes, args.part_mb * MiB)
            else:
                from playwright.sync_api import sync_playwright

                from tests.support.browser import launch_chromium

                with sync_playwright() as playwright:
                    browser = launch_chromium(playwright)
                    page = browser.new_page()
                    results = run_modes(page, url, path, modes, args.part_mb * MiB)
                    browser.close()
            print(f"\n[{driver}] {args.size_mb} MiB in {args.part_mb} MiB parts; per GiB:")
            for mode, seconds, cpu in results:
                kernel = cpu.get("(of which kernel)", 0.0)
                counts = f"{cpu.pop('faults') / gib / 1000:.0f}k page faults, {cpu.pop('switches') / gib / 1000:.0f}k switches"
                roles = ", ".join(f"{role} {s / gib:.2f}" for role, s in sorted(cpu.items(), key=lambda kv: -kv[1]))
                print(
                    f"  {mode:18} {seconds / gib:6.2f} s  CPU {(sum(cpu.values()) - kernel) / gib:5.2f} s ({roles}; {counts})"
                    f"  load {os.getloadavg()[0]:.1f}"
                )
    finally:
        server.shutdown()
        path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
