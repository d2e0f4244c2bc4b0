"""Benchmark (not a test): how long do the audit page's aggregates take on a large snapshot?

    python bench/audit_bench.py                       # 100,000 and 1,000,000 rows
    python bench/audit_bench.py --rows 250000 --files 8 --repeat 5

Synthesises a versions snapshot under lib.inventory.schema's SCHEMA (folders three levels deep,
a dozen extensions, four storage classes, ages over three years, ~25 % noncurrent versions, ~3 %
delete markers, ~2 % duplicated content), writes it as Parquet files the way a parallel walk
does, and times each aggregate of lib.audit.usage and lib.audit.hidden through DuckDB (median of
--repeat). The baseline, measured in the same run on the same files, is one plain scan
(`SELECT sum(length(key)), sum(size) FROM objects`: every key and size read once); each aggregate is printed with its ratio to it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.audit import hidden, usage  # noqa: E402
from lib.inventory.schema import SCHEMA  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXTENSIONS = np.array(["jpg", "png", "mp4", "mov", "pdf", "txt", "csv", "json", "zip", "webp", "wav", "bin"])
CLASSES = np.array(["STANDARD", "STANDARD_IA", "GLACIER", "INTELLIGENT_TIERING"])


def synthesise(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    team, project, year = rng.integers(0, 20, rows), rng.integers(0, 50, rows), rng.integers(2023, 2027, rows)
    ext = EXTENSIONS[rng.integers(0, len(EXTENSIONS), rows)]
    # A quarter of the rows are older versions of the row before them (same key).
    noncurrent = rng.random(rows) < 0.25
    noncurrent[0] = False
    object_id = np.cumsum(~noncurrent)
    keys = [
        f"team{t}/project{p}/{y}/{i:08d}.{e}" for t, p, y, i, e in zip(team, project, year, object_id, ext, strict=True)
    ]
    for index in np.flatnonzero(noncurrent):
        keys[index] = keys[index - 1]
    markers = (rng.random(rows) < 0.03) & ~noncurrent
    size = rng.lognormal(11, 2.5, rows).astype(np.int64)
    size_or_null = pa.array(size, mask=markers)
    age_ms = (rng.random(rows) * 3 * 365 * 86_400_000).astype(np.int64)
    modified = pa.array(int(NOW.timestamp() * 1000) - age_ms, pa.timestamp("ms", tz="UTC"))
    multipart = size > 16 * 1024 * 1024
    duplicate = rng.random(rows) < 0.02  # a few shared contents, to give the duplicate query groups
    etag = [
        f"{(i % 500) if d else i:032x}" + (f"-{s // (8 * 1024 * 1024) + 1}" if m else "")
        for i, d, m, s in zip(object_id, duplicate, multipart, size, strict=True)
    ]
    return pa.Table.from_arrays(
        [
            pa.array(["bench"] * rows),
            pa.array(keys),
            pa.array([f"v{i}" for i in range(rows)]),
            pa.array(~noncurrent),
            pa.array(markers),
            size_or_null,
            modified,
            pa.array(etag),
            pa.array(CLASSES[rng.choice(len(CLASSES), rows, p=[0.7, 0.15, 0.1, 0.05])]),
            pa.array(multipart),
            pa.array(np.where(rng.random(rows) < 0.5, "SHA256", None)),
        ],
        schema=SCHEMA,
    )


def write(table: pa.Table, directory: Path, files: int) -> list[str]:
    paths = []
    step = -(-table.num_rows // files)
    for index in range(files):
        path = directory / f"part-{index:04d}.parquet"
        pq.write_table(table.slice(index * step, step), path)
        paths.append(str(path))
    return paths


def timed(work: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(rows: int, files: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        started = time.perf_counter()
        table = synthesise(rows)
        paths = write(table, Path(folder), files)
        made = time.perf_counter() - started
        megabytes = sum(Path(p).stat().st_size for p in paths) / 1e6
        del table
        con = duckdb.connect()
        con.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet({paths!r})")
        checksums = [(f"k{i}", f"{i % 1000}") for i in range(min(rows, 100_000))]
        cases: list[tuple[str, Callable[[], Any]]] = [
            (
                "baseline: scan key and size",
                lambda: con.execute("SELECT sum(length(key)), sum(size) FROM objects").fetchall(),
            ),
            ("totals", lambda: usage.totals(con)),
            ("by_prefix (top level)", lambda: usage.by_prefix(con)),
            ("by_prefix (team3/)", lambda: usage.by_prefix(con, "team3/")),
            ("by_extension", lambda: usage.by_extension(con)),
            ("by_family", lambda: usage.by_family(con)),
            ("by_storage_class", lambda: usage.by_storage_class(con)),
            ("by_age", lambda: usage.by_age(con, NOW)),
            ("largest (top 20)", lambda: usage.largest(con)),
            ("hidden_by_prefix", lambda: usage.hidden_by_prefix(con)),
            ("duplicates_by_etag", lambda: hidden.duplicates_by_etag(con)),
            ("duplicates_by_checksum (100k pairs)", lambda: hidden.duplicates_by_checksum(con, checksums)),
        ]
        print(f"\n{rows:,} rows in {files} Parquet files ({megabytes:.1f} MB), synthesised in {made:.1f} s")
        baseline = None
        everything = 0.0
        for name, work in cases:
            seconds = timed(work, repeat)
            baseline = baseline or seconds
            everything += seconds if not name.startswith("baseline") else 0
            print(f"  {name:<38} {seconds * 1000:9.1f} ms   x{seconds / baseline:6.1f} the baseline")
        print(f"  {'every aggregate, one after another':<38} {everything * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--files", type=int, default=4, help="Parquet files per snapshot (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each aggregate (default 3)")
    args = parser.parse_args()
    print(
        f"duckdb {duckdb.__version__}, threads {duckdb.connect().execute('SELECT current_setting(?)', ['threads']).fetchone()[0]}"
    )  # type: ignore[index]
    for rows in args.rows:
        run(rows, args.files, args.repeat)


if __name__ == "__main__":
    main()
