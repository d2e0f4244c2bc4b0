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
serial, the load average, and for each run whether the build went parallel and its probes' ratios.
memory: builds a snapshot from synthesised ListObjectsV2 pages (no server), in a child process,
and prints its peak RSS.
latency: the same against a synthetic store whose requests each take --delay-ms and overlap (S3).
latency-http: that store over HTTP (its own process), so the build's listing path (signing, sending,
parsing XML) is measured too: the paginator, the build, and the build forced onto boto3's parser.
search: writes N synthesised rows as Parquet and times a substring search for one page of results.
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
    how = "p" if any(r.parallel for r in reports) else "s"
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
            f"load (1/5/15 min)  runs: build/serial, p(arallel) or s(erial), (probe ratios); {args.repeat} interleaved"
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


def synthesise(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from lib.inventory.schema import SCHEMA
    from lib.inventory.store import ROW_GROUP_ROWS

    words = np.array(["logo", "photo", "report", "invoice", "banner", "draft", "final", "scan", "icon", "video"])
    exts = np.array([".png", ".jpg", ".pdf", ".txt", ".mp4", ".svg"])
    rng = np.random.default_rng(7)
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            ids = np.arange(start, start + n)
            key = pc.binary_join_element_wise(
                pa.array(np.char.add("team", (ids % 97).astype(str))),
                pa.array(np.char.add("project-", (ids % 1013).astype(str))),
                pa.array(np.char.add(words[rng.integers(0, 10, n)], np.char.add("-", ids.astype(str)))),
                "/",
            )
            key = pc.binary_join_element_wise(key, pa.array(exts[rng.integers(0, 6, n)]), "")
            table = pa.table(
                {
                    "bucket": pa.array(["bench"] * n),
                    "key": key,
                    "version_id": pa.nulls(n, pa.string()),
                    "is_latest": pa.array(np.ones(n, bool)),
                    "is_delete_marker": pa.array(np.zeros(n, bool)),
                    "size": pa.array(rng.integers(0, 10**8, n)),
                    "last_modified_date": pa.array((1_700_000_000_000 + ids * 1000).astype("datetime64[ms]")).cast(
                        pa.timestamp("ms", tz="UTC")
                    ),
                    "e_tag": pa.array(np.char.add("e", ids.astype(str))),
                    "storage_class": pa.array(["STANDARD"] * n),
                    "is_multipart_uploaded": pa.array(np.zeros(n, bool)),
                    "checksum_algorithm": pa.nulls(n, pa.string()),
                },
                schema=SCHEMA,
            )
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)


def search_bench(args) -> None:
    from lib.inventory.query import ObjectQuery, connect, search

    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            path = Path(folder) / f"{rows}.parquet"
            started = time.perf_counter()
            synthesise(path, rows)
            print(
                f"{rows:,} rows written in {time.perf_counter() - started:.0f} s ({path.stat().st_size / 1e6:,.0f} MB)"
            )
            con = connect([path])
            for text, note in (("logo-12345", "rare"), ("LOGO", "common: ~10 % of rows"), ("project-7/", "a folder")):
                query = ObjectQuery(text=text)
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    page = search(con, query, ["team1", "team2", "team3"] if args.scoped else None, limit=100)
                    times.append(time.perf_counter() - started)
                print(
                    f"  substring {text!r:<14} ({note}): first {times[0]:.3f} s, median {statistics.median(times):.3f} s, "
                    f"{len(page.keys)} rows on the page"
                )


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
    sea.add_argument("--repeat", type=int, default=3)
    sea.add_argument("--scoped", action="store_true", help="as a user allowed three prefixes")
    args = parser.parse_args()
    {
        "listing": listing,
        "memory": memory,
        "latency": latency,
        "latency-http": latency_http,
        "search": search_bench,
    }[args.what](args)


if __name__ == "__main__":
    main()
