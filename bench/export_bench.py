"""Benchmark (not a test): export a 1,000,000-row snapshot to every format, and a live listing of
100,000 objects from the sandbox; rows/s and peak memory.

    python bench/export_bench.py                   # 1,000,000 rows, every format; live 100,000
    python bench/export_bench.py --rows 200000 --formats csv,parquet --live-rows 0

Synthesises a snapshot (Parquet in the listing schema, keys in random order so the export's
ORDER BY key does real work), then runs each export in its own process, so each peak RSS (VmHWM
from /proc/self/status) belongs to one export alone. The baseline, in the same run, is reading the
snapshot through the same source without writing anything; each format's time is shown as a ratio
to it. Target: Parquet from 1,000,000 rows with peak RSS <= 500 MB.

Live: the embedded sandbox (moto's server) is started in this process and seeded straight into
moto's backend (like browse_bench.py's `--seed direct`); each export then runs in its own process
and lists the sandbox over HTTP with the real parallel walk (lib.inventory.walk), so its peak RSS is
the export's alone. Its baseline is the same walk without writing anything. moto scans the whole
bucket for every ListObjectsV2, so live rows/s here measure the sandbox, not S3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from lib.inventory.schema import DEFAULT_EXPORT_COLUMNS, SCHEMA  # noqa: E402

TARGET_PARQUET_RSS_MB = 500


def synthesise(path: Path, rows: int, chunk: int = 100_000) -> None:
    rng = np.random.default_rng(7)
    order = rng.permutation(rows)
    start = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for first in range(0, rows, chunk):
            ids = order[first : first + chunk]
            n = len(ids)
            keys = [f'team-{i % 97:02d}/2024/{i % 12 + 1:02d}/{i:09d}-photo, "final".jpg' for i in ids.tolist()]
            columns = {
                "bucket": pa.array(["bench-bucket"] * n),
                "key": pa.array(keys),
                "version_id": pa.nulls(n, pa.string()),
                "is_latest": pa.array([True] * n),
                "is_delete_marker": pa.array([False] * n),
                "size": pa.array(rng.integers(0, 5 * 2**40, n, dtype=np.int64)),
                "last_modified_date": pa.array(start + rng.integers(0, 3 * 10**10, n), pa.timestamp("ms", tz="UTC")),
                "e_tag": pa.array([f"{i:032x}" for i in ids.tolist()]),
                "storage_class": pa.array(["STANDARD"] * n),
                "is_multipart_uploaded": pa.array([False] * n),
                "checksum_algorithm": pa.nulls(n, pa.string()),
            }
            writer.write_table(pa.table(columns, schema=SCHEMA))


def child(fmt_name: str, snapshot_path: Path | None, output: Path, live: str | None = None) -> None:
    from lib.config import BucketProfile
    from lib.export import sources
    from lib.export.columns import export_schema
    from lib.export.destinations import LocalFile
    from lib.export.formats import FORMATS
    from lib.export.pipeline import export
    from lib.inventory.query import ObjectQuery
    from lib.s3 import S3Gateway

    if live:
        gateway = S3Gateway(BucketProfile(**json.loads(live)))
        batches = sources.live(gateway, ObjectQuery(), None, columns=DEFAULT_EXPORT_COLUMNS)
    else:
        snapshot = types.SimpleNamespace(local_files=lambda: [snapshot_path])
        batches = sources.snapshot(snapshot, ObjectQuery(), None, columns=DEFAULT_EXPORT_COLUMNS)
    started = time.perf_counter()
    if fmt_name == "baseline":
        rows = sum(batch.num_rows for batch in batches)
        size = 0
    else:
        summary = export(batches, export_schema(DEFAULT_EXPORT_COLUMNS), FORMATS[fmt_name], LocalFile(output))
        rows, size = summary.rows, summary.bytes
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    print(json.dumps({"rows": rows, "seconds": seconds, "bytes": size, "peak_mb": peak_kb / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,parquet,jsonl,xlsx")
    parser.add_argument("--live-rows", type=int, default=100_000, help="objects in the sandbox (0: skip live)")
    parser.add_argument("--live-formats", default="csv,parquet")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--live", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.snapshot, args.output, args.live)
        return
    with tempfile.TemporaryDirectory(prefix="export-bench-") as work:
        if args.rows:
            snapshot_path = Path(work) / "snapshot.parquet"
            started = time.perf_counter()
            synthesise(snapshot_path, args.rows)
            print(
                f"snapshot: {args.rows:,} rows, {snapshot_path.stat().st_size / 1e6:.1f} MB, "
                f"made in {time.perf_counter() - started:.1f} s"
            )
            results = run_children(work, args.formats.split(","), ["--snapshot", str(snapshot_path)])
            report(results)
            parquet = results.get("parquet")
            if parquet:
                verdict = "meets" if parquet["peak_mb"] <= TARGET_PARQUET_RSS_MB else "MISSES"
                print(
                    f"Parquet peak RSS {parquet['peak_mb']:.0f} MB {verdict} the target of {TARGET_PARQUET_RSS_MB} MB."
                )
        if args.live_rows:
            profile = seed_sandbox(args.live_rows)
            print(f"\nlive: {args.live_rows:,} objects in the sandbox (moto server), listed by lib.inventory.walk")
            report(run_children(work, args.live_formats.split(","), ["--live", json.dumps(profile)]))


def seed_sandbox(count: int) -> dict:
    """Start the sandbox in this process, put `count` empty objects straight into moto's backend,
    and return the profile a child process needs to reach it over HTTP."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from lib.sandbox import start_sandbox

    box = start_sandbox()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    started = time.perf_counter()
    for index in range(count):
        backend.put_object(box.profile.bucket, f'bench/{index % 100:02d}/{index:08d}-photo, "final".jpg', b"")
    print(f"seeded {count:,} objects in {time.perf_counter() - started:.1f} s")
    fields = ("name", "bucket", "endpoint_url", "region", "addressing_style", "access_key_id", "secret_access_key")
    return {name: getattr(box.profile, name) for name in fields}


def run_children(work: str, formats: list[str], source: list[str]) -> dict:
    results = {}
    for name in ["baseline", *formats]:
        output = Path(work) / f"objects.{name}"
        done = subprocess.run(
            [sys.executable, __file__, "--child", name, *source, "--output", str(output)],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
        )
        if done.returncode:
            print(f"{name}: failed\n{done.stderr}")
            continue
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        output.unlink(missing_ok=True)
    return results


def report(results: dict) -> None:
    base = results.get("baseline", {}).get("seconds") or float("nan")
    print(f"{'format':<10}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'x baseline':>12}{'file MB':>9}{'peak RSS MB':>13}")
    for name, r in results.items():
        print(
            f"{name:<10}{r['rows']:>11,}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>11,.0f}"
            f"{r['seconds'] / base:>12.1f}{r['bytes'] / 1e6:>9.1f}{r['peak_mb']:>13.0f}"
        )


if __name__ == "__main__":
    main()
