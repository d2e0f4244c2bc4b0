"""Benchmark (not a test): inventory snapshots and search.

    python bench/inventory_bench.py listing                  # embedded sandbox (moto server)
    python bench/inventory_bench.py listing --store seaweedfs  # a throwaway SeaweedFS (weed mini)
    python bench/inventory_bench.py listing --store localstack --objects 20000
    python bench/inventory_bench.py listing --endpoint-url http://127.0.0.1:8333 --secret-key …
    python bench/inventory_bench.py memory --objects 1000000 # peak RSS of a build (synthetic pages)
    python bench/inventory_bench.py search --rows 1000000 10000000

listing: for two layouts (objects spread over ~100 folders, and one flat folder), each in a bucket of
its own, seeds the objects (once; moto straight into its backend, SeaweedFS through its filer,
others by parallel put_object) and times boto3's serial paginator and a snapshot build (walk +
Parquet) to the same endpoint, interleaved, directly and through a proxy (its own process) that
delays every request by --delay-ms. It prints objects/s, the median and smallest ratio build /
serial, the load average, and for each run whether the build went parallel (p16; p1: the guard
went back to one worker) or stayed serial (s), with its probes' ratios.
memory: builds a snapshot from synthesised ListObjectsV2 pages (no server), in a child process,
and prints its peak RSS.
latency: the same against a synthetic store whose requests each take --delay-ms and overlap (S3).
latency-http: that store over HTTP (its own process), so the build's listing path (signing, sending,
parsing XML) is measured too: the paginator, the build, and the build forced onto boto3's parser.
search: synthesises N rows of realistic keys as a snapshot's Parquet, builds its local search
database (lib.inventory.localdb), and times one page of results for each search mode, over the
database and over the Parquet files as searches read them before (the baseline), interleaved in one
process; peak RSS of the build and of a process searching on each path alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.config import BucketProfile  # noqa: E402
from lib.inventory.store import SnapshotStore  # noqa: E402
from lib.s3 import S3Gateway, make_client  # noqa: E402

LAYOUTS = {
    "folders": lambda n, count: f"folders/p{n % 100:03d}/{n:07d}.bin",
    "flat": lambda n, count: f"flat/{n:07d}.bin",
}


# --- a proxy that adds latency ------------------------------------------------------------


def _serve_delay_proxy(target_host: str, target_port: int, delay: float, port_out) -> None:
    """TCP proxy on 127.0.0.1 that holds each chunk the client sends for `delay` seconds (one chunk
    per request for small requests such as listings: a bucket in another data centre). asyncio, in
    its own process: relaying pages must not take the interpreter lock from the client measured."""
    import asyncio

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float) -> None:
        try:
            while data := await reader.read(65536):
                if hold:
                    await asyncio.sleep(hold)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, 0.0))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


class DelayProxy:
    """The delaying proxy in a child process; `port` is where it listens."""

    def __init__(self, target_host: str, target_port: int, delay: float):
        import multiprocessing

        ports: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(
            target=_serve_delay_proxy, args=(target_host, target_port, delay, ports), daemon=True
        )
        self.process.start()
        self.port = ports.get(timeout=30)

    def stop(self) -> None:
        self.process.terminate()


# --- listing ----------------------------------------------------------------------------


class Store:
    """Where the listing benchmark runs: a bucket profile per layout, how to seed it fast, and how to stop."""

    def __init__(self, args):
        self.name, self.stop, self.filer, self.moto = args.store, (lambda: None), args.filer_url, False
        if args.endpoint_url:
            self.name, endpoint, keys = args.endpoint_url, args.endpoint_url, (args.access_key, args.secret_key)
        elif args.store == "sandbox":
            from lib.sandbox import start_sandbox

            box = start_sandbox()
            self.name, self.moto = "embedded sandbox (moto server, in this process)", True
            endpoint, keys = box.endpoint_url, (box.profile.access_key_id, box.profile.secret_access_key)
        elif args.store == "seaweedfs":
            from tests.support.seaweedfs import start_seaweedfs

            weed = start_seaweedfs()
            self.stop, self.filer = weed.stop, f"http://127.0.0.1:{weed.ports['filer.port']}"
            self.name, endpoint, keys = (
                f"SeaweedFS (weed mini) {weed.endpoint_url}",
                weed.endpoint_url,
                (
                    weed.access_key,
                    weed.secret_key,
                ),
            )
        else:
            from tests.support.localstack import start_localstack

            stack = start_localstack()
            self.stop, self.name = stack.stop, f"LocalStack (host mode) {stack.endpoint_url}"
            endpoint, keys = stack.endpoint_url, ("test", "test")
        self.endpoint, self.keys = endpoint.rstrip("/"), keys

    def profile(self, layout: str, endpoint: str | None = None) -> BucketProfile:
        """One bucket per layout: moto scans a whole bucket per request, so a bucket holds one layout."""
        return BucketProfile(
            name="bench",
            bucket=f"bench-{layout}",
            endpoint_url=endpoint or self.endpoint,
            region="us-east-1",
            addressing_style="path",
            access_key_id=self.keys[0],
            secret_access_key=self.keys[1],
        )

    def seed(self, layout: str, count: int) -> None:
        profile = self.profile(layout)
        client = make_client(profile, profile.endpoint_url)
        try:
            client.create_bucket(Bucket=profile.bucket)
        except Exception:  # noqa: S110 - it exists (a rerun against the same store)
            pass
        name = LAYOUTS[layout]
        if client.list_objects_v2(Bucket=profile.bucket, Prefix=name(count - 1, count), MaxKeys=1).get("KeyCount"):
            print(f"  {layout}: already seeded")
            return
        started = time.perf_counter()
        if self.moto:
            how = "straight into moto's backend"
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.s3.models import s3_backends

            backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
            for n in range(count):
                backend.put_object(profile.bucket, name(n, count), b"")
        elif self.filer:
            how = "PUT to SeaweedFS's filer (/buckets/<bucket>/<key>), 16 at a time"
            _parallel(count, 16, lambda: _FilerPut(self.filer, profile.bucket), lambda put, n: put(name(n, count)))
        else:
            how = "parallel put_object, 16 at a time"
            _parallel(
                count,
                16,
                lambda: make_client(profile, profile.endpoint_url),
                lambda c, n: c.put_object(Bucket=profile.bucket, Key=name(n, count), Body=b""),
            )
        seconds = time.perf_counter() - started
        print(f"  {layout}: seeded {count:,} objects in {seconds:.0f} s ({count / seconds:,.0f}/s, {how})")


class _FilerPut:
    """An empty file PUT through SeaweedFS's filer, the store behind its S3 gateway (no signing)."""

    def __init__(self, filer_url: str, bucket: str):
        import http.client

        host, port = urlsplit(filer_url).hostname, urlsplit(filer_url).port
        self.connection, self.bucket = http.client.HTTPConnection(host or "127.0.0.1", port), bucket

    def __call__(self, key: str) -> None:
        from urllib.parse import quote

        self.connection.request("PUT", f"/buckets/{self.bucket}/{quote(key)}", body=b"")
        response = self.connection.getresponse()
        response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"filer PUT {key}: {response.status}")


def _parallel(count: int, threads: int, make, call) -> None:
    local = threading.local()

    def one(n: int) -> None:
        if not hasattr(local, "worker"):
            local.worker = make()
        call(local.worker, n)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count), chunksize=256))


def serial(profile: BucketProfile, prefix: str) -> tuple[float, int]:
    client = make_client(profile, profile.endpoint_url)
    started, keys = time.perf_counter(), 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=profile.bucket, Prefix=prefix):
        keys += page.get("KeyCount", 0)
    return time.perf_counter() - started, keys


def build(profile: BucketProfile, prefix: str, cache: Path, **walk_options) -> tuple[float, int, str]:
    """Seconds, rows, and how it went: "p" parallel or "s" serial, with the probes' ratios."""
    reports: list = []
    store = SnapshotStore(S3Gateway(profile), mode="disk", cache_dir=cache)
    started = time.perf_counter()
    snapshot = store.build(prefix, progress=reports.append, **walk_options)
    seconds = time.perf_counter() - started
    how = f"p{reports[-1].workers}" if any(r.parallel for r in reports) else "s"
    probes = reports[-1].probes if reports else ()
    return seconds, snapshot.manifest.rows, how + ("(" + "/".join(f"{r:.1f}" for r in probes) + ")" if probes else "")


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def listing(args) -> None:
    store = Store(args)
    proxies: list[DelayProxy] = []
    try:
        print(f"Target: {store.name}; {args.objects:,} objects per layout (a bucket each).", flush=True)
        for layout in args.layouts:
            store.seed(layout, args.objects)
        host, port = urlsplit(store.endpoint).hostname, urlsplit(store.endpoint).port
        paths = [("direct", None)] if "direct" in args.paths else []
        if "delayed" in args.paths:
            proxies.append(DelayProxy(host or "127.0.0.1", port or 80, args.delay_ms / 1000))
            paths.append((f"+{args.delay_ms} ms", f"http://127.0.0.1:{proxies[0].port}"))
        print(
            f"\n{'layout':<8} {'path':<8} {'serial obj/s':>12} {'build obj/s':>11} {'median':>7} {'min':>6}  "
            f"load (1/5/15 min)  runs: build/serial, p(arallel: workers at the end) or s(erial), (probe ratios); {args.repeat} interleaved"
        )
        with tempfile.TemporaryDirectory() as cache:
            for label, endpoint in paths:
                for layout in args.layouts:
                    profile, prefix = store.profile(layout, endpoint), layout + "/"
                    s_times, b_times, hows = [], [], []
                    for run in range(args.repeat):  # interleaved, alternating which goes first
                        for which in ("serial", "build") if run % 2 == 0 else ("build", "serial"):
                            if which == "serial":
                                s_time, s_keys = serial(profile, prefix)
                                s_times.append(s_time)
                            else:
                                b_time, b_rows, how = build(profile, prefix, Path(cache))
                                b_times.append(b_time)
                                hows.append(how)
                        assert s_keys == b_rows == args.objects, (s_keys, b_rows)
                    ratios = [s / b for s, b in zip(s_times, b_times, strict=True)]
                    s_time, b_time = statistics.median(s_times), statistics.median(b_times)
                    print(
                        f"{layout:<8} {label:<8} {args.objects / s_time:>12,.0f} {args.objects / b_time:>11,.0f} "
                        f"{statistics.median(ratios):>6.2f}x {min(ratios):>5.2f}x  {_load():<17}  "
                        + ", ".join(f"{r:.2f} {how}" for r, how in zip(ratios, hows, strict=True)),
                        flush=True,
                    )
    finally:
        for proxy in proxies:
            proxy.stop()
        store.stop()


# --- memory -----------------------------------------------------------------------------


class FakeClient:
    """ListObjectsV2 pages of `count` synthesised keys (k/00000000…), answering StartAfter."""

    meta = SimpleNamespace(config=SimpleNamespace(max_pool_connections=64))

    def __init__(self, count: int, delay: float = 0.0):
        self.count, self.delay = count, delay
        self.now = datetime.now(UTC)

    def list_objects_v2(self, **params):
        if self.delay:
            time.sleep(self.delay)  # a round trip; requests overlap, as they do on S3
        prefix, after, limit = params.get("Prefix", ""), params.get("StartAfter"), params["MaxKeys"]
        start = 0
        if after:
            digits = "".join(c for c in after[len("k/") :][:8] if c.isdigit())
            start = int(digits.ljust(8, "0")) + (1 if len(digits) == 8 else 0) if digits else 0
        end = min(self.count, start + limit)
        contents = [
            {
                "Key": f"k/{n:08d}",
                "Size": n,
                "LastModified": self.now,
                "ETag": f'"{n:032x}"',
                "StorageClass": "STANDARD",
            }
            for n in range(start, end)
        ]
        assert prefix in ("", "k/")
        return {"Contents": contents, "IsTruncated": end < self.count, "KeyCount": len(contents)}


def memory(args) -> None:
    if args.child:
        gateway = SimpleNamespace(
            client=FakeClient(args.objects), bucket="fake", profile=BucketProfile(name="m", bucket="fake")
        )
        with tempfile.TemporaryDirectory() as cache:
            store = SnapshotStore(gateway, mode="disk", cache_dir=Path(cache))  # type: ignore[arg-type]
            started = time.perf_counter()
            snapshot = store.build()
            seconds = time.perf_counter() - started
            assert snapshot.manifest.rows == args.objects
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.objects:,} objects in {seconds:.1f} s ({args.objects / seconds:,.0f}/s); peak RSS {peak:,.0f} MB")
        return
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, lib.inventory.store; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    print(f"Peak RSS of a process that only imports the modules: {float(baseline.stdout):,.0f} MB")
    subprocess.run([sys.executable, __file__, "memory", "--child", "--objects", str(args.objects)], check=True)


def latency(args) -> None:
    """A synthetic store whose every request takes --delay-ms and overlaps with others (S3's
    behaviour: a round trip, with the server's work spread over many machines)."""
    client = FakeClient(args.objects, args.delay_ms / 1000)
    gateway = SimpleNamespace(client=client, bucket="fake", profile=BucketProfile(name="m", bucket="fake"))
    s_times, b_times = [], []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(args.repeat):
            started, after, keys = time.perf_counter(), None, 0
            while True:  # boto3's paginator: one request after another
                page = client.list_objects_v2(Prefix="k/", MaxKeys=1000, **({"StartAfter": after} if after else {}))
                keys += page["KeyCount"]
                if not page["IsTruncated"]:
                    break
                after = page["Contents"][-1]["Key"]
            s_times.append(time.perf_counter() - started)
            store = SnapshotStore(gateway, mode="disk", cache_dir=Path(cache))  # type: ignore[arg-type]
            started = time.perf_counter()
            rows = store.build("k/").manifest.rows
            b_times.append(time.perf_counter() - started)
            assert keys == rows == args.objects
    s_time, b_time = statistics.median(s_times), statistics.median(b_times)
    print(
        f"synthetic store, {args.delay_ms} ms per request, {args.objects:,} flat keys: serial "
        f"{args.objects / s_time:,.0f} obj/s, build {args.objects / b_time:,.0f} obj/s, build/serial "
        f"{s_time / b_time:.2f}x (runs: {', '.join(f'{s / b:.2f}' for s, b in zip(s_times, b_times, strict=True))})"
    )


class SyntheticS3(ThreadingHTTPServer):
    """An HTTP store answering ListObjectsV2 for `count` flat keys k/00000000… after `delay` seconds,
    with requests overlapping (S3's behaviour: a round trip, the work spread over many machines).
    Run in a child process, so its CPU does not compete with the client's interpreter lock."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, count: int, delay: float):
        super().__init__(("127.0.0.1", 0), _SyntheticHandler)
        self.count, self.delay = count, delay


class _SyntheticHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server: SyntheticS3 = self.server  # type: ignore[assignment]
        time.sleep(server.delay)
        query = parse_qs(urlsplit(self.path).query)
        # The paginator continues by token: this store's token is the last key (an opaque string to it).
        after = query.get("continuation-token", query.get("start-after", [""]))[0]
        limit = int(query.get("max-keys", ["1000"])[0])
        start = 0
        if after:
            digits = "".join(c for c in after[len("k/") :][:8] if c.isdigit())
            start = int(digits.ljust(8, "0")) + (1 if len(digits) == 8 else 0) if digits else 0
        end = min(server.count, start + limit)
        entries = "".join(
            f"<Contents><Key>k/{n:08d}</Key><LastModified>2024-05-01T10:11:12.000Z</LastModified>"
            f"<ETag>&quot;{n:032x}&quot;</ETag><Size>{n}</Size><StorageClass>STANDARD</StorageClass></Contents>"
            for n in range(start, end)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>synthetic</Name><Prefix>k/</Prefix><KeyCount>{end - start}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            f"<EncodingType>url</EncodingType><IsTruncated>{'true' if end < server.count else 'false'}</IsTruncated>"
            + (f"<NextContinuationToken>k/{end - 1:08d}</NextContinuationToken>" if end < server.count else "")
            + f"{entries}</ListBucketResult>"
        ).encode()
        self.send_response(200)
        self.send_header("Server", "AmazonS3")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve_synthetic(count: int, delay: float, port_out) -> None:
    server = SyntheticS3(count, delay)
    port_out.put(server.server_address[1])
    server.serve_forever()


def latency_http(args) -> None:
    """The synthetic store over HTTP: boto3's paginator, the build (lean listing path) and the build
    forced onto boto3's parser, interleaved, the store in its own process."""
    import multiprocessing

    ports: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(
        target=_serve_synthetic, args=(args.objects, args.delay_ms / 1000, ports), daemon=True
    )
    child.start()
    try:
        port = ports.get(timeout=30)
        profile = BucketProfile(
            name="synthetic",
            bucket="synthetic",
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
            addressing_style="path",
            access_key_id="test",
            secret_access_key="test",
        )
        runs: dict[str, list[float]] = {"serial": [], "lean": [], "boto3": []}
        with tempfile.TemporaryDirectory() as cache:
            for _ in range(args.repeat):
                seconds, keys = serial(profile, "k/")
                assert keys == args.objects
                runs["serial"].append(seconds)
                for path in ("lean", "boto3"):
                    gateway = S3Gateway(profile)
                    if path == "boto3":
                        gateway.client._bucketdesk_lean = False  # the fallback: botocore parses
                    store = SnapshotStore(gateway, mode="disk", cache_dir=Path(cache))
                    started = time.perf_counter()
                    assert store.build("k/").manifest.rows == args.objects
                    runs[path].append(time.perf_counter() - started)
        s_time = statistics.median(runs["serial"])
        print(
            f"synthetic HTTP store, {args.delay_ms} ms per request, {args.objects:,} flat keys "
            f"(medians of {args.repeat} interleaved runs): serial paginator {args.objects / s_time:,.0f} obj/s"
        )
        for path in ("lean", "boto3"):
            b_time = statistics.median(runs[path])
            ratios = ", ".join(f"{s / b:.2f}" for s, b in zip(runs["serial"], runs[path], strict=True))
            print(
                f"  build ({path} parser): {args.objects / b_time:,.0f} obj/s, build/serial {s_time / b_time:.2f}x"
                f" (runs: {ratios})"
            )
    finally:
        child.terminate()


# --- search -----------------------------------------------------------------------------

# Keys as buckets hold them: departments, years, projects, optional subfolders, camera names and
# named files, a dozen extensions in mixed case; rows in no particular order (as a walk delivers).
DEPARTMENTS = (
    "marketing design engineering sales people legal finance product support media research operations".split()
)
ADJECTIVES = (
    "blue red green autumn spring summer winter bright quiet global local rapid open north south east west new old big"
)
NOUNS = (
    "launch campaign river mountain falcon harbor garden rocket studio market bridge canvas signal orbit pixel forest"
)
SUBFOLDERS = ["", "", "", "raw/", "final/", "drafts/", "exports/", "assets/", "archive/", "v2/", "shots/2024-05-01/"]
STEMS = "logo photo report invoice banner draft final scan icon video header hero contract slides budget poster mockup"
CAMERAS = ["IMG_", "DSC", "GOPR", "Screenshot 2024-03-"]
EXTENSIONS = {".png": 14, ".jpg": 18, ".JPG": 6, ".pdf": 10, ".txt": 4, ".mp4": 5, ".svg": 4, ".psd": 3, ".docx": 6}
EXTENSIONS |= {".xlsx": 4, ".mov": 3, ".webp": 5, ".zip": 3, ".json": 2, "": 2}
# One object each, in the middle of the key space: a search that has to look at every key.
NEEDLES = ["media/2019/old-orbit/raw/Quarterly-Needle-Review.pdf", "design/2022/blue-river/Needle-Review-v2.pdf"]
SCOPE = ["marketing/2020/", "design/"]  # a person allowed two prefixes (~9 % of the keys)
SEARCHES = [  # label, ObjectQuery fields, allowed prefixes, offset
    ("substring, common term", {"text": "logo"}, None, 0),
    ("substring, common, page 10", {"text": "logo"}, None, 900),
    ("substring, rare term (2 rows)", {"text": "needle-review"}, None, 0),
    ("substring, no match", {"text": "zqxj"}, None, 0),
    ("glob **/logo*.png", {"text": "**/logo*.png", "mode": "glob"}, None, 0),
    ("glob, rare *needle*.pdf", {"text": "*needle*.pdf", "mode": "glob"}, None, 0),
    ("regex report_\\d+7\\.pdf$", {"text": r"report_\d+7\.pdf$", "mode": "regex"}, None, 0),
    ("regex, rare", {"text": r"needle-review(-v\d)?\.pdf$", "mode": "regex"}, None, 0),
    ("scoped (2 prefixes), common", {"text": "logo"}, SCOPE, 0),
    ("scoped (2 prefixes), rare", {"text": "needle-review"}, SCOPE, 0),
    ("filters: .png, >1 MB, common", {"text": "logo", "extensions": ("png",), "min_size": 10**6}, None, 0),
    ("common + 200 recent writes", {"text": "logo"}, None, 0),
    ("rare + 200 recent writes", {"text": "needle-review"}, None, 0),
]
# The app's own uploads and deletes since the snapshot, laid over it (lib.browse.search).
RECENT_WRITES = 200


def synthesise(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from lib.inventory.schema import SCHEMA
    from lib.inventory.store import ROW_GROUP_ROWS

    rng = np.random.default_rng(7)
    weights = np.array(list(EXTENSIONS.values()), float)

    def pick(words, n, p=None):
        return pa.array(words).take(pa.array(rng.choice(len(words), n, p=p)))

    def text(numbers):
        return pc.cast(pa.array(numbers), pa.string())

    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            ids = np.arange(start, start + n)
            project = pc.binary_join_element_wise(pick(ADJECTIVES.split(), n), pick(NOUNS.split(), n), "-")
            folder = pc.binary_join_element_wise(
                pick(DEPARTMENTS, n), text(2015 + rng.integers(0, 11, n)), project, "/"
            )
            name = pc.if_else(
                pa.array(rng.random(n) < 0.3),
                pc.binary_join_element_wise(pick(CAMERAS, n), text(ids % 100_000), ""),
                pc.binary_join_element_wise(pick(STEMS.split(), n), text(ids), "_"),
            )
            key = pc.binary_join_element_wise(
                folder, "/", pick(SUBFOLDERS, n), name, pick(list(EXTENSIONS), n, weights / weights.sum()), ""
            )
            if start <= rows // 2 < start + n:
                key = key.to_numpy(zero_copy_only=False).astype(object)
                key[rows // 2 - start : rows // 2 - start + len(NEEDLES)] = NEEDLES
                key = pa.array(key, pa.string())
            table = pa.table(
                {
                    "bucket": pa.array(["bench"] * n),
                    "key": key,
                    "version_id": pa.nulls(n, pa.string()),
                    "is_latest": pa.array(np.ones(n, bool)),
                    "is_delete_marker": pa.array(np.zeros(n, bool)),
                    "size": pa.array(rng.integers(0, 10**8, n)),
                    "last_modified_date": pa.array(
                        (1_600_000_000_000 + rng.integers(0, 10**11, n)).astype("datetime64[ms]")
                    ).cast(pa.timestamp("ms", tz="UTC")),
                    "e_tag": text(rng.integers(0, 2**62, n)),
                    "storage_class": pick(["STANDARD", "STANDARD", "STANDARD", "STANDARD_IA", "GLACIER"], n),
                    "is_multipart_uploaded": pa.array(rng.random(n) < 0.1),
                    "checksum_algorithm": pa.nulls(n, pa.string()),
                },
                schema=SCHEMA,
            )
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)


def _baseline_connect(files):
    """The search path before the local database (kept here only): a view over the Parquet files in
    an unbounded in-memory DuckDB."""
    import duckdb

    con = duckdb.connect()
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
    con.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet([{listed}])")
    return con


def _connections(args) -> dict:
    from lib.inventory.query import connect_database

    paths = {"baseline": lambda: _baseline_connect([args.parquet]), "database": lambda: connect_database(args.db)}
    return {path: paths[path]() for path in args.paths}


def _run_search(con, label: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (every thread of this process: what the search costs whatever the
    machine's load) and rows on the page."""
    from lib.inventory.query import ObjectQuery, search

    _, fields, scope, offset = next(s for s in SEARCHES if s[0] == label)
    recent = _recent_writes() if "recent writes" in label else []
    started, cpu = time.perf_counter(), time.process_time()
    page = search(con, ObjectQuery(**fields), scope, limit=100, offset=offset, recent=recent, bucket="bench")
    return time.perf_counter() - started, time.process_time() - cpu, len(page.keys)


def _recent_writes() -> list:
    from lib.inventory.query import RecentWrite

    now = datetime.now(UTC)
    uploads = [
        RecentWrite(f"{DEPARTMENTS[n % 12]}/2025/new/logo-{n}.png", 1000, now) for n in range(RECENT_WRITES // 2)
    ]
    deletes = [RecentWrite(f"design/2015/gone-{n}.png", deleted=True) for n in range(RECENT_WRITES // 2)]
    return uploads + deletes


def search_child(args) -> None:
    """One measurement in a process of its own, answered as JSON on stdout."""
    import json

    if args.role == "build":
        from lib.inventory import localdb

        folder = Path(args.db).parent
        started = time.perf_counter()
        built = localdb.build(folder, "bench", [Path(args.parquet)])
        built.rename(args.db)
        result = {"seconds": time.perf_counter() - started, "bytes": Path(args.db).stat().st_size}
    else:
        cons = _connections(args)
        times: dict = {f"{path}|{s[0]}": [] for path in cons for s in SEARCHES}
        cpu: dict = {f"{path}|{s[0]}": [] for path in cons for s in SEARCHES}
        pages: dict = {}
        for _ in range(args.repeat):  # interleaved: the shared cores' load hits every path alike
            for label, *_ in SEARCHES:
                for path, con in cons.items():
                    seconds, cpu_seconds, shown = _run_search(con, label)
                    times[f"{path}|{label}"].append(seconds)
                    cpu[f"{path}|{label}"].append(cpu_seconds)
                    pages.setdefault(label, {})[path] = shown
        result = {"times": times, "cpu": cpu, "pages": pages}
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _peak_rss_mb() -> float:
    """This process's own peak (VmHWM): ru_maxrss would also count the parent's peak before exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(*extra: str) -> dict:
    import json

    done = subprocess.run(
        [sys.executable, __file__, "search-child", *extra], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def search_bench(args) -> None:
    """For each size: synthesise the snapshot's Parquet, build its search database (a child process:
    time, size, peak RSS), then time one page of every search over both paths, interleaved in one
    child; then the peak RSS of a child running every search on one path only."""
    print(f"2 cores shared; load average at start {_load()}. Medians of {args.repeat} interleaved runs, seconds.")
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            parquet, db = Path(folder) / f"{rows}.parquet", Path(folder) / f"{rows}.duckdb"
            started = time.perf_counter()
            synthesise(parquet, rows)
            print(
                f"\n{rows:,} rows: Parquet (zstd) {parquet.stat().st_size / 1e6:,.0f} MB written in "
                f"{time.perf_counter() - started:.0f} s"
            )
            common = ["--parquet", str(parquet), "--db", str(db)]
            build = _child("--role", "build", *common)
            print(
                f"  search database built in {build['seconds']:.1f} s, {build['bytes'] / 1e6:,.0f} MB, "
                f"build peak RSS {build['peak_rss_mb']:,.0f} MB   (load {_load()})"
            )
            timed = _child("--role", "time", "--repeat", str(args.repeat), "--paths", "baseline", "database", *common)
            load = _load()
            print(
                f"  {'search (one page of 100)':<32} {'baseline':>9} {'database':>9} {'speed-up':>9}  "
                f"{'CPU s: baseline':>15} {'database':>9}  rows  database best/worst"
            )
            for label, *_ in SEARCHES:
                old, new = (statistics.median(timed["times"][f"{path}|{label}"]) for path in ("baseline", "database"))
                old_cpu, new_cpu = (
                    statistics.median(timed["cpu"][f"{path}|{label}"]) for path in ("baseline", "database")
                )
                runs = timed["times"][f"database|{label}"]
                shown = timed["pages"][label]
                assert shown["baseline"] == shown["database"], (label, shown)
                print(
                    f"  {label:<32} {old:>9.3f} {new:>9.3f} {old / new:>8.0f}x  {old_cpu:>15.3f} {new_cpu:>9.3f}"
                    f"  {shown['database']:>4}  {min(runs):.3f}/{max(runs):.3f}"
                )
            print(f"  load average after: {load}")
            rss = {
                path: _child("--role", "rss", "--repeat", "2", "--paths", path, *common)["peak_rss_mb"]
                for path in ("baseline", "database")
            }
            print(
                f"  peak RSS of a process running every search twice: baseline {rss['baseline']:,.0f} MB, "
                f"database {rss['database']:,.0f} MB"
            )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    lst = sub.add_parser("listing")
    lst.add_argument("--objects", type=int, default=100_000)
    lst.add_argument("--delay-ms", type=int, default=20)
    lst.add_argument("--store", choices=["sandbox", "seaweedfs", "localstack"], default="sandbox")
    lst.add_argument("--endpoint-url", help="a store already running (instead of starting --store)")
    lst.add_argument("--filer-url", help="with --endpoint-url of SeaweedFS: seed through its filer")
    lst.add_argument("--paths", nargs="+", choices=["direct", "delayed"], default=["direct", "delayed"])
    lst.add_argument("--access-key", default="test")
    lst.add_argument("--secret-key", default="test")
    lst.add_argument("--repeat", type=int, default=3)
    lst.add_argument("--layouts", nargs="+", choices=list(LAYOUTS), default=list(LAYOUTS))
    mem = sub.add_parser("memory")
    mem.add_argument("--objects", type=int, default=1_000_000)
    mem.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    lat = sub.add_parser("latency")
    lat.add_argument("--objects", type=int, default=100_000)
    lat.add_argument("--delay-ms", type=int, default=20)
    lat.add_argument("--repeat", type=int, default=3)
    lah = sub.add_parser("latency-http")
    lah.add_argument("--objects", type=int, default=100_000)
    lah.add_argument("--delay-ms", type=int, default=20)
    lah.add_argument("--repeat", type=int, default=3)
    sea = sub.add_parser("search")
    sea.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    sea.add_argument("--repeat", type=int, default=5)
    child = sub.add_parser("search-child")  # one measurement in its own process (peak RSS)
    child.add_argument("--role", choices=("build", "time", "rss"), required=True)
    child.add_argument("--parquet", required=True)
    child.add_argument("--db", required=True)
    child.add_argument("--repeat", type=int, default=5)
    child.add_argument("--paths", nargs="+", default=["baseline", "database"])
    args = parser.parse_args()
    {
        "listing": listing,
        "memory": memory,
        "latency": latency,
        "latency-http": latency_http,
        "search": search_bench,
        "search-child": search_child,
    }[args.what](args)


if __name__ == "__main__":
    main()
