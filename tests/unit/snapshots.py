"""Hand-made snapshots for the audit tests: rows in lib.inventory.schema's SCHEMA, written as
Parquet with pyarrow, and a DuckDB connection with the `objects` view over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lib.inventory.schema import SCHEMA

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def row(key: str, size: int | None = 100, *, days: float = 1, **more: Any) -> dict[str, Any]:
    """One listing row: a current STANDARD object modified `days` before NOW unless told otherwise."""
    return {
        "bucket": "assets",
        "key": key,
        "version_id": None,
        "is_latest": True,
        "is_delete_marker": False,
        "size": size,
        "last_modified_date": NOW - timedelta(days=days),
        "e_tag": f"etag-{key}",
        "storage_class": "STANDARD",
        "is_multipart_uploaded": False,
        "checksum_algorithm": None,
        **more,
    }


def write_snapshot(directory: Path, rows: list[dict[str, Any]], files: int = 1) -> list[str]:
    """Rows as Parquet under SCHEMA, split over `files` files (as a parallel walk leaves them)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(files):
        part = rows[index::files]
        path = directory / f"part-{index:04d}.parquet"
        pq.write_table(pa.Table.from_pylist(part, schema=SCHEMA), path)
        paths.append(str(path))
    return paths


def connect(paths: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet({paths!r})")
    return con


def snapshot(directory: Path, rows: list[dict[str, Any]], files: int = 1) -> duckdb.DuckDBPyConnection:
    return connect(write_snapshot(directory, rows, files))
