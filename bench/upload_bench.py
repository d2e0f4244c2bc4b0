"""Upload throughput: files from Chromium through bucketdesk's component versus boto3, in the same run.

    python bench/upload_bench.py [--scenario large|single|many|all] [--size-mb 1024] [--repeat 3]
                                 [--target localstack|sandbox|seaweedfs] [--upload-method post|put]
                                 [--driver cdp|playwright]

Starts what it needs: LocalStack (tests/support/localstack.py; set BUCKETDESK_LOCALSTACK_PYTHON)
and/or the app's own embedded sandbox (moto), the real app with `streamlit run` behind the
byte-counting proxy, and Debian's Chromium (`--driver cdp`, the default: over the bare DevTools protocol with no
domain enabled, as people run it; `--driver playwright`: through Playwright, which has Chromium report every
request to it, and copy any in-memory request body for it: see browser_upload_cdp). Baseline and candidate runs are
interleaved (component, boto3, component, boto3…) against the same endpoint, and ratios printed:
the machine is shared, so only ratios measured side by side mean anything (large and many print
each run's ratio and the median, with the load average after each run).

- large (default 1 GiB): choose the file on /upload and wait until the page says "Verified" (each
  part hashed with WebCrypto, part URLs signed through Streamlit, parallel PUTs with the signed
  SHA-256, completion and verification by the app server); bytes-only time (first part request to
  last part response) too; versus boto3 `upload_file` (s3transfer: 8 MiB parts, 10 threads) with
  and without `ChecksumAlgorithm="SHA256"`; and where the CPU went (Linux: each process this bench
  started, by role), since on a small shared machine CPU, not the network, sets the pace.
- single (50 MiB, one request): POST policy versus presigned PUT versus boto3 `put_object` (with
  SHA-256), each on LocalStack and on the sandbox.
- many (1,000 files of 20 KiB): choose them all at once and wait until every one is "Verified",
  versus boto3 `put_object` (with SHA-256) on `upload_concurrency` threads; and the CPU each process spent
  per file (bench/many_profile.py says where inside each).

--target seaweedfs runs the apps against a throwaway SeaweedFS (tests/support/seaweedfs.py; BUCKETDESK_WEED),
a store whose own cost per file is small, so the client side shows.

Not a test: numbers depend on the machine; LocalStack and moto are Python servers, so they, not the
network, usually set the pace.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.support.app_server import CountingProxy, start_app  # noqa: E402
from tests.support.browser import chromium_path, launch_chromium  # noqa: E402
from tests.support.cdp import CdpBrowser, deep  # noqa: E402

MiB = 1024 * 1024


def make_file(path: Path, mebibytes: int) -> Path:
    """Random bytes (one random MiB, each copy stamped with its index), written quickly."""
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for index in range(mebibytes):
            stamp = f"bucketdesk upload bench, MiB {index:08d}\n".encode()
            out.write(stamp + block[len(stamp) :])
    return path


def make_small_files(directory: Path, count: int, size: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = directory / f"clip-{n:05d}.mp4"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


# ---- the apps and endpoints under test ----------------------------------------------------------


def bench_bucket(s3, origin: str) -> str:
    """A fresh bucket whose CORS rule lets the app's page (`origin`) POST, PUT and read the ETag."""
    bucket = f"bd-bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rule = {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
    }
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    return bucket


class Stage:
    """Starts LocalStack and apps on demand; stops everything at the end."""

    def __init__(self, limit: int, concurrency: int | None, checksums: str | None):
        self.limit, self.concurrency, self.checksums = limit, concurrency, checksums
        self.stack = None
        self.weed = None
        self.apps: list = []
        self.proxies: list[CountingProxy] = []

    def localstack_env(self, origin: str) -> tuple[dict, dict]:
        from tests.support.localstack import TEST_CREDENTIALS, app_env, localstack_client, start_localstack

        if self.stack is None:
            self.stack = start_localstack()
        bucket = bench_bucket(localstack_client(self.stack.endpoint_url), origin)
        return app_env(self.stack.endpoint_url, bucket), dict(TEST_CREDENTIALS)

    def seaweedfs_env(self, origin: str) -> tuple[dict, dict]:
        from tests.support.seaweedfs import seaweedfs_client, start_seaweedfs

        if self.weed is None:
            self.weed = start_seaweedfs()
        bucket = bench_bucket(seaweedfs_client(self.weed), origin)
        env = {
            "BUCKETDESK_BUCKET": bucket,
            "BUCKETDESK_ADDRESSING_STYLE": "path",
            "AWS_ENDPOINT_URL_S3": self.weed.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.weed.access_key,
            "AWS_SECRET_ACCESS_KEY": self.weed.secret_key,
            "AWS_REGION": self.weed.region,
        }
        return env, {"aws_access_key_id": self.weed.access_key, "aws_secret_access_key": self.weed.secret_key}

    def app(self, target: str, extra_env: dict | None = None, **settings: str) -> tuple[CountingProxy, dict]:
        """An app on `target` ("localstack", "seaweedfs" or "sandbox"): its proxy (the browser's origin) and boto3 credentials.
        `extra_env`: more of the app process's environment, as it is (bench/many_profile.py's profiler)."""
        proxy = CountingProxy(target_port=0)
        if target == "localstack":
            env, credentials = self.localstack_env(proxy.url)
        elif target == "seaweedfs":
            env, credentials = self.seaweedfs_env(proxy.url)
        else:  # the sandbox takes BUCKETDESK_* limits
            env, credentials = {}, {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        env["BUCKETDESK_MAX_UPLOAD_BYTES"] = str(self.limit)
        if self.concurrency:
            env["BUCKETDESK_MULTIPART_CONCURRENCY"] = str(self.concurrency)
        if self.checksums:
            env["BUCKETDESK_CHECKSUMS"] = self.checksums
        env.update({f"BUCKETDESK_{k.upper()}": v for k, v in settings.items()})
        env.update(extra_env or {})
        app = start_app(env)
        proxy.target_port = app.port
        proxy.__enter__()
        self.apps.append(app)
        self.proxies.append(proxy)
        return proxy, credentials

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.__exit__(None, None, None)
        for app in self.apps:
            app.stop()
        if self.stack:
            self.stack.stop()
        if self.weed:
            self.weed.stop()


# ---- the component in Chromium ------------------------------------------------------------------

FINAL = {"Verified", "Failed", "Not accepted", "Refused"}


from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402


def browser_upload(browser, app_url: str, paths: list[Path], timeout_s: float, watch=None) -> dict:
    """Choose the files on a fresh upload page; time until every one is "Verified", and the part traffic.

    The traffic to the bucket is read afterwards from the page's Resource Timing entries: listening to
    every request through Playwright would make the browser report each one as it happens, work the
    measured upload would pay for (a fifth of the time of a thousand small files) and boto3 would not.
    `watch(page)`, when given, is called just before the files are chosen and returns a function called
    once they are all final (bench/many_profile.py starts and stops its profilers so)."""
    page = browser.new_page()
    page.add_init_script("performance.setResourceTimingBufferSize(1000000)")
    page.goto(f"{app_url}/upload")
    chooser = page.locator(".bd-uploader input[type=file]:not([webkitdirectory])")
    chooser.wait_for(state="attached", timeout=90_000)
    stop_watching = watch(page) if watch else None
    chosen_at = page.evaluate("performance.now()")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    chooser.set_input_files([str(p) for p in paths])
    # The page itself watches the summary line ("… · 1000 done" and nothing "to go") every 50 ms and answers
    # once: polling from here would search the page (shadow roots, a thousand rows) over the DevTools protocol
    # each time, on the main thread the component needs.
    total = page.locator(".bd-total")
    total.wait_for(state="attached", timeout=90_000)
    ended = page.wait_for_function(
        """([node, done]) => {
            const text = node.textContent || "";
            if (/failed|not accepted|refused/.test(text)) return "bad: " + text;
            return text.includes(done) && !text.includes("to go") && "ok: " + text;
        }""",
        arg=[total.element_handle(), f"{len(paths)} done"],
        polling=50,
        timeout=timeout_s * 1000,
    ).json_value()
    if ended.startswith("bad"):
        page.wait_for_timeout(500)  # the row's sentence follows the count
        rows = page.locator(".bd-row[data-state=rejected], .bd-row[data-state=failed], .bd-row[data-state=refused]")
        said = [rows.nth(n).inner_text().replace("\n", " | ") for n in range(min(rows.count(), 5))]
        raise SystemExit(f"the browser upload ended badly: {ended}\n" + "\n".join(said))
    finished = time.perf_counter()
    cpu = cpu_spent(cpu_before, cpu_seconds())  # before the page closes: its renderer goes with it
    if stop_watching:
        stop_watching()
    finished_at = chosen_at + (finished - started) * 1000
    # Every request the page's script sent to the bucket: whole files (POST or PUT) and parts.
    requests = page.evaluate(
        """origin => performance.getEntriesByType("resource")
            .filter((e) => e.initiatorType === "xmlhttprequest" && !e.name.startsWith(origin))
            .map((e) => [e.startTime, e.responseEnd])""",
        app_url,
    )
    try:  # the first card's signed link names the endpoint and bucket (the pages draws them last)
        link = page.locator("[data-testid=stCode] code").first.inner_text(timeout=30_000).strip()
    except PlaywrightTimeout:
        link = ""
    page.close()
    run = {"seconds": finished - started, "parts": len(requests), "link": link, "cpu": cpu}
    if requests:
        first, last = min(r[0] for r in requests), max(r[1] for r in requests)
        run["bytes_seconds"] = (last - first) / 1000
        run["before_first_part"] = (first - chosen_at) / 1000  # hashing, signing the first URL
        run["after_last_part"] = (finished_at - last) / 1000  # completing, verifying, the page's answer
    return run


# The same, over the bare DevTools protocol (tests/support/cdp.py), as people run Chromium. Playwright enables
# DevTools' Network domain on every page: Chromium then reports each request to the driver, and copies every
# in-memory request body (an ArrayBuffer, not a Blob) for it: ~85 s of CPU per GiB sent that way
# (bench/chromium_cost_bench.py), which no user pays. The uploader sends Blobs: a 1 GiB upload cost Chromium
# about the same CPU under either driver (~8 s).
SETTLED = """new Promise((resolve) => {
  const end = Date.now() + %(timeout_ms)d;
  let node = null;
  const check = () => {
    if (!node || !node.isConnected) node = %(total)s; // searching every shadow root costs the page's CPU
    const text = (node && node.textContent) || "";
    if (/failed|not accepted|refused/.test(text)) return resolve("bad: " + text);
    if (text.includes(%(done)s) && !text.includes("to go")) return resolve("ok: " + text);
    if (Date.now() > end) return resolve("bad: timed out at " + text);
    setTimeout(check, node ? 50 : 200);
  };
  check();
})"""


def browser_upload_cdp(browser: CdpBrowser, app_url: str, paths: list[Path], timeout_s: float) -> dict:
    """browser_upload (which see) through CdpBrowser: the page polls itself, nothing reports each request."""
    page = browser.new_page()
    page.add_init_script("performance.setResourceTimingBufferSize(1000000)")
    page.goto(f"{app_url}/upload")
    chooser = ".bd-uploader input[type=file]:not([webkitdirectory])"
    page.wait_for(deep(chooser), timeout=90)
    chosen_at = page.evaluate("performance.now()")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    page.set_input_files(chooser, [str(p) for p in paths])
    # .bd-total is looked up until it appears (and again should it be replaced), so the loop covers that wait too
    settled = {"timeout_ms": int(timeout_s * 1000), "total": deep(".bd-total"), "done": f'"{len(paths)} done"'}
    ended = page.evaluate(SETTLED % settled, timeout=timeout_s + 30)
    if ended.startswith("bad"):
        time.sleep(0.5)
        said = page.evaluate(f"({deep('.bd-row[data-state=failed], .bd-row[data-state=rejected]')} || {{}}).innerText")
        raise SystemExit(f"the browser upload ended badly: {ended}\n{said}")
    finished = time.perf_counter()
    cpu = cpu_spent(cpu_before, cpu_seconds())
    finished_at = chosen_at + (finished - started) * 1000
    requests = page.evaluate(
        """origin => performance.getEntriesByType("resource")
            .filter((e) => e.initiatorType === "xmlhttprequest" && !e.name.startsWith(origin))
            .map((e) => [e.startTime, e.responseEnd])""",
        app_url,
    )
    link = page.wait_for(f"{deep('[data-testid=stCode] code')}?.innerText", timeout=30).strip()
    page.close()
    run = {"seconds": finished - started, "parts": len(requests), "link": link, "cpu": cpu}
    if requests:
        first, last = min(r[0] for r in requests), max(r[1] for r in requests)
        run["bytes_seconds"] = (last - first) / 1000
        run["before_first_part"] = (first - chosen_at) / 1000
        run["after_last_part"] = (finished_at - last) / 1000
    return run


def upload_in(browser, app_url: str, paths: list[Path], timeout_s: float) -> dict:
    if isinstance(browser, CdpBrowser):
        return browser_upload_cdp(browser, app_url, paths, timeout_s)
    return browser_upload(browser, app_url, paths, timeout_s)


# ---- boto3 baselines ----------------------------------------------------------------------------


def endpoint_and_bucket(link: str) -> tuple[str, str]:
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/").split("/", 1)[0]


def key_of(link: str) -> str:
    return unquote(urlsplit(link).path.lstrip("/").split("/", 1)[1])


def client_for(endpoint: str, credentials: dict, pool: int = 10):
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=max(10, pool))
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config, **credentials)


def boto3_upload_file(client, bucket: str, path: Path, **extra_args) -> float:
    key = f"bench/boto3-{uuid.uuid4().hex}/{path.name}"
    started = time.perf_counter()
    client.upload_file(str(path), bucket, key, Config=TransferConfig(), ExtraArgs=extra_args or None)
    seconds = time.perf_counter() - started
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == path.stat().st_size
    client.delete_object(Bucket=bucket, Key=key)
    return seconds


def boto3_put_objects(client, bucket: str, paths: list[Path], threads: int, checksum: bool) -> float:
    """put_object each file (read from disk, as the browser reads it), `threads` at once."""
    from concurrent.futures import ThreadPoolExecutor

    prefix = f"bench/boto3-{uuid.uuid4().hex}/"
    extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}

    def put(path: Path) -> None:
        client.put_object(Bucket=bucket, Key=prefix + path.name, Body=path.read_bytes(), **extra)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, paths))
    return time.perf_counter() - started


# ---- CPU accounting (Linux /proc): where a run's CPU went ------------------------------------------


def cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process (boto3 runs here) and each process it started, by role: Chromium's
    browser, renderer, network and GPU processes, LocalStack, the app. On 2 shared cores CPU, not the
    network, sets the pace, so this says where the time goes. {} where /proc is not there."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        table = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    except (OSError, ValueError, AttributeError):
        return {}
    me, seconds = os.getpid(), {}
    for pid, (_, ticks, command) in table.items():
        ancestor, hops = pid, 0
        while ancestor in table and ancestor != me and hops < 64:
            ancestor, hops = table[ancestor][0], hops + 1
        if ancestor != me:
            continue
        role = _role(command) if pid != me else "bench (boto3)"
        seconds[role] = seconds.get(role, 0.0) + ticks / tick
    return seconds


def _role(command: str) -> str:
    if "chrom" in command:
        kind = re.search(r"--type=(\w+)", command)
        if kind and kind.group(1) == "utility" and "network" in command:
            return "chromium network"
        return f"chromium {kind.group(1) if kind else 'browser'}"
    if "localstack" in command:
        return "localstack"
    if "weed" in command:
        return "seaweedfs"
    if "streamlit" in command:
        return "app"
    return "playwright" if "playwright" in command or "node" in command else "other"


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: after[role] - before.get(role, 0.0) for role in after if after[role] - before.get(role, 0.0) >= 0.05}


# ---- scenarios ----------------------------------------------------------------------------------


def scenario_large(stage: Stage, browser, workdir: Path, args) -> None:
    path = make_file(workdir / "bench-video.mp4", args.size_mb)
    size = path.stat().st_size
    proxy, credentials = stage.app(args.target)
    component, bytes_only, tails, plain, sha, loads = [], [], [], [], [], []
    client = None
    cpu: dict[str, list[dict[str, float]]] = {"component": [], "boto3 SHA-256": []}
    for _ in range(args.repeat):
        run = upload_in(browser, proxy.url, [path], timeout_s=max(600, args.size_mb))
        cpu["component"].append(run["cpu"])
        component.append(run["seconds"])
        bytes_only.append(run["bytes_seconds"])
        tails.append(run["after_last_part"])
        endpoint, bucket = endpoint_and_bucket(run["link"])
        client = client or client_for(endpoint, credentials)
        # Every run starts from the same empty bucket, as boto3's do: with a 1 GiB object already in the
        # bucket, LocalStack 4.9.2 takes ~2.8 s instead of ~0.5 s for the next CompleteMultipartUpload.
        client.delete_object(Bucket=bucket, Key=key_of(run["link"]))
        plain.append(boto3_upload_file(client, bucket, path))
        before = cpu_seconds()
        sha.append(boto3_upload_file(client, bucket, path, ChecksumAlgorithm="SHA256"))
        cpu["boto3 SHA-256"].append(cpu_spent(before, cpu_seconds()))
        loads.append(os.getloadavg()[0])
    path.unlink()
    mb = size / MiB
    settings = f"multipart_concurrency {args.concurrency or 8}, checksums {args.checksums or 'required'}"
    print(f"\n[large] {mb:.0f} MiB to {args.target} ({endpoint}), {args.repeat} runs; {run['parts']} parts; {settings}")
    print(f"  component, choose -> Verified            {rate(mb, component, 'MB/s')}")
    print(f"  component, bytes only (part PUTs)        {rate(mb, bytes_only, 'MB/s')}")
    print(
        f"    (last run: {run['before_first_part']:.2f} s before the first part; after the last part, until Verified: "
        f"{', '.join(f'{tail:.2f}' for tail in tails)} s, mostly the bucket's CompleteMultipartUpload)"
    )
    print(f"  boto3 upload_file, default TransferConfig {rate(mb, plain, 'MB/s')}")
    print(f"  boto3 upload_file, + SHA-256 checksums    {rate(mb, sha, 'MB/s')}")
    print(f"  ratio component / boto3 default: {ratios(plain, component)}")
    print(f"  ratio component / boto3 SHA-256: {ratios(sha, component)}  (target >= 0.9)")
    print(f"  load average (1 min) after each run: {', '.join(f'{load:.1f}' for load in loads)}")
    print(
        f"  the app server received {proxy.bytes_to_server:,} bytes ({proxy.bytes_to_server / size / args.repeat:.6f} per file byte)"
    )
    for name, runs in cpu.items():
        if runs and runs[0]:
            roles = sorted({role for each in runs for role in each}, key=lambda role: -runs[0].get(role, 0.0))
            spent = ", ".join(f"{role} {statistics.median(each.get(role, 0.0) for each in runs):.1f}" for role in roles)
            total = statistics.median(sum(each.values()) for each in runs)
            print(f"  CPU seconds, {name} (median): {total:.1f} in all: {spent}")


def rate(amount: float, seconds: list[float], unit: str) -> str:
    """The median run as a rate, then every run's time: medians, because the machine is shared."""
    middle = statistics.median(seconds)
    return f"{amount / middle:8.1f} {unit} median ({', '.join(f'{s:.1f}' for s in seconds)} s)"


def ratios(baseline: list[float], component: list[float]) -> str:
    """Each run's ratio (baseline time / component time, measured back to back) and their median."""
    each = [base / mine for base, mine in zip(baseline, component, strict=True)]
    return f"{statistics.median(each):.2f} median (runs: {', '.join(f'{r:.2f}' for r in each)})"


def scenario_single(stage: Stage, browser, workdir: Path, args) -> None:
    path = make_file(workdir / "single.mp4", 50)
    mb = path.stat().st_size / MiB
    runs = [("POST", "localstack"), ("PUT", "localstack"), ("POST", "sandbox"), ("PUT", "sandbox")]
    apps = {(method, target): stage.app(target, upload_method=method.lower()) for method, target in runs}
    component: dict = {key: [] for key in runs}
    boto: dict = {target: [] for target in ("localstack", "sandbox")}
    clients: dict = {}
    for _ in range(args.repeat):
        for key in runs:
            proxy, credentials = apps[key]
            run = upload_in(browser, proxy.url, [path], timeout_s=300)
            component[key].append(run["seconds"])
            target = key[1]
            if target not in clients:
                endpoint, bucket = endpoint_and_bucket(run["link"])
                clients[target] = (client_for(endpoint, credentials), bucket)
            client, bucket = clients[target]
            key_name = f"bench/boto3-{uuid.uuid4().hex}/{path.name}"
            started = time.perf_counter()
            client.put_object(Bucket=bucket, Key=key_name, Body=path.read_bytes(), ChecksumAlgorithm="SHA256")
            boto[target].append(time.perf_counter() - started)
    path.unlink()
    print(
        f"\n[single] {mb:.0f} MiB in one request, best of {args.repeat} (choose -> Verified; boto3 put_object with SHA-256)"
    )
    for method, target in runs:
        best, base = min(component[(method, target)]), min(boto[target])
        print(
            f"  component {method:4} on {target:10} {mb / best:8.1f} MB/s ({best:.2f} s)   ratio to boto3 put_object {base / best:.2f}"
        )
    for target, times in boto.items():
        print(f"  boto3 put_object on {target:10}   {mb / min(times):8.1f} MB/s ({min(times):.2f} s)")


def scenario_many(stage: Stage, browser, workdir: Path, args) -> None:
    count, size = args.files, 20 * 1024
    paths = make_small_files(workdir / "many", count, size)
    proxy, credentials = stage.app(
        args.target, upload_concurrency=str(args.upload_concurrency), upload_method=args.upload_method
    )
    component, plain, sha, loads = [], [], [], []
    cpu: dict[str, list[dict[str, float]]] = {"component": [], "boto3 put_object": []}
    client = None
    for _ in range(args.repeat):
        run = upload_in(browser, proxy.url, paths, timeout_s=1200)
        component.append(run["seconds"])
        cpu["component"].append(run["cpu"])
        endpoint, bucket = endpoint_and_bucket(run["link"])
        client = client or client_for(endpoint, credentials, args.upload_concurrency)
        before = cpu_seconds()
        plain.append(boto3_put_objects(client, bucket, paths, args.upload_concurrency, checksum=False))
        cpu["boto3 put_object"].append(cpu_spent(before, cpu_seconds()))
        sha.append(boto3_put_objects(client, bucket, paths, args.upload_concurrency, checksum=True))
        loads.append(os.getloadavg()[0])
    print(
        f"\n[many] {count} files of {size // 1024} KiB to {args.target}, {args.upload_method.upper()}, "
        f"upload_concurrency {args.upload_concurrency}, {args.repeat} runs"
    )
    print(f"  component, choose -> all Verified      {rate(count, component, 'files/s')}")
    print(
        f"    (last run: {run['before_first_part']:.2f} s before the first file left, {run['bytes_seconds']:.2f} s "
        f"from the first to the last request to the bucket, {run['after_last_part']:.2f} s after the last)"
    )
    print(f"  boto3 put_object, {args.upload_concurrency} threads           {rate(count, plain, 'files/s')}")
    print(f"  boto3 put_object + SHA-256             {rate(count, sha, 'files/s')}")
    print(f"  ratio component / boto3:         {ratios(plain, component)}  (target >= 0.5)")
    print(f"  ratio component / boto3 SHA-256: {ratios(sha, component)}")
    print(f"  load average (1 min) after each run: {', '.join(f'{load:.1f}' for load in loads)}")
    print(f"  the app server received {proxy.bytes_to_server:,} bytes for {count * size * args.repeat:,} file bytes")
    print(f"  the app server sent the browser {proxy.bytes_to_client / args.repeat / count:,.0f} bytes per file")
    for name, runs in cpu.items():
        if runs and runs[0]:
            roles = sorted({role for each in runs for role in each}, key=lambda role: -runs[0].get(role, 0.0))
            spent = ", ".join(
                f"{role} {statistics.median(each.get(role, 0.0) for each in runs) * 1000 / count:.1f}" for role in roles
            )
            total = statistics.median(sum(each.values()) for each in runs) * 1000 / count
            print(f"  CPU ms per file, {name} (median): {total:.1f} in all: {spent}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["large", "single", "many", "all"], default="large")
    parser.add_argument("--size-mb", type=int, default=1024, help="large: file size in MiB (default 1024)")
    parser.add_argument("--files", type=int, default=1000, help="many: how many 20 KiB files (default 1000)")
    parser.add_argument("--target", choices=["localstack", "sandbox", "seaweedfs"], default="localstack")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved (medians are reported)")
    parser.add_argument("--concurrency", type=int, help="multipart_concurrency for the app (default: the app's, 8)")
    parser.add_argument("--upload-concurrency", type=int, default=6, help="upload_concurrency (default 6, the app's)")
    parser.add_argument(
        "--upload-method", choices=["post", "put"], default="post", help="many: the app's upload_method (default post)"
    )
    parser.add_argument("--checksums", choices=["required", "optional", "off"], help="the app's checksums setting")
    parser.add_argument(
        "--driver",
        choices=["cdp", "playwright"],
        default="cdp",
        help="cdp (default): Chromium as people run it, no DevTools domain enabled; playwright: reports every request",
    )
    args = parser.parse_args()
    if not chromium_path():
        raise SystemExit("Chromium is not installed (apt-get install chromium, or set BUCKETDESK_CHROMIUM).")
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-bench-"))
    stage = Stage(max(args.size_mb * MiB, 100 * MiB), args.concurrency, args.checksums)
    scenarios = ["large", "single", "many"] if args.scenario == "all" else [args.scenario]
    run = {"large": scenario_large, "single": scenario_single, "many": scenario_many}
    print(f"driver: {args.driver}")
    try:
        if args.driver == "cdp":
            with CdpBrowser.launch() as browser:
                for name in scenarios:
                    run[name](stage, browser, workdir, args)
        else:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for name in scenarios:
                    run[name](stage, browser, workdir, args)
                browser.close()
    finally:
        stage.close()


if __name__ == "__main__":
    main()
