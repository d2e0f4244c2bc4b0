"""Benchmark (not a test): export a 1,000,000-row snapshot to every format; rows/s and peak memory.

    python bench/export_bench.py                   # 1,000,000 rows, every format
    python bench/export_bench.py --rows 200000 --formats csv,parquet

Synthesises a snapshot (Parquet in the listing schema, keys in random order so the export's
ORDER BY key does real work), then runs each export in its own process, so each peak RSS (VmHWM
from /proc/self/status) belongs to one export alone. The baseline, in the same run, is reading the
snapshot through the same source without writing anything; each format's time is shown as a ratio
to it. Target: Parquet from 1,000,000 rows with peak RSS <= 500 MB.
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


def _query_module():
    """lib.inventory.query when it is there; otherwise the same contract, minimally (benchmark only)."""
    try:
        import lib.inventory.query as query  # type: ignore[import-not-found]

        return query
    except ImportError:
        import duckdb

        def connect(files):
            connection = duckdb.connect()
            listed = ", ".join(f"'{f}'" for f in files)
            connection.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet([{listed}])")
            return connection

        module = types.ModuleType("lib.inventory.query")
        module.connect = connect  # type: ignore[attr-defined]
        sys.modules["lib.inventory.query"] = module
        return module


class EveryObject:
    prefixes: tuple[str, ...] = ()
    versions = False

    def where_sql(self, allowed_prefixes):
        return "TRUE", []


def child(fmt_name: str, snapshot_path: Path, output: Path) -> None:
    _query_module()
    from lib.export import sources
    from lib.export.columns import export_schema
    from lib.export.destinations import LocalFile
    from lib.export.formats import FORMATS
    from lib.export.pipeline import export

    snapshot = types.SimpleNamespace(local_files=lambda: [snapshot_path])
    batches = sources.snapshot(snapshot, EveryObject(), None, columns=DEFAULT_EXPORT_COLUMNS)
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
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.snapshot, args.output)
        return
    with tempfile.TemporaryDirectory(prefix="export-bench-") as work:
        snapshot_path = Path(work) / "snapshot.parquet"
        started = time.perf_counter()
        synthesise(snapshot_path, args.rows)
        print(
            f"snapshot: {args.rows:,} rows, {snapshot_path.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - started:.1f} s"
        )
        results = {}
        for name in ["baseline", *args.formats.split(",")]:
            output = Path(work) / f"objects.{name}"
            done = subprocess.run(
                [sys.executable, __file__, "--child", name, "--snapshot", str(snapshot_path), "--output", str(output)],
                capture_output=True,
                text=True,
                env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
            )
            if done.returncode:
                print(f"{name}: failed\n{done.stderr}")
                continue
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            output.unlink(missing_ok=True)
        base = results.get("baseline", {}).get("seconds") or float("nan")
        print(
            f"{'format':<10}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'x baseline':>12}{'file MB':>9}{'peak RSS MB':>13}"
        )
        for name, r in results.items():
            print(
                f"{name:<10}{r['rows']:>11,}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>11,.0f}"
                f"{r['seconds'] / base:>12.1f}{r['bytes'] / 1e6:>9.1f}{r['peak_mb']:>13.0f}"
            )
        parquet = results.get("parquet")
        if parquet:
            verdict = "meets" if parquet["peak_mb"] <= TARGET_PARQUET_RSS_MB else "MISSES"
            print(f"Parquet peak RSS {parquet['peak_mb']:.0f} MB {verdict} the target of {TARGET_PARQUET_RSS_MB} MB.")


if __name__ == "__main__":
    main()
