"""Builders shared by the inventory unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from lib.inventory.schema import SCHEMA

# Keys that break naive listing code: URL-encoding, unicode, folder markers, depth.
AWKWARD_KEYS = [
    "a b/c d.txt",
    "plus+sign/1+1=2.txt",
    "percent%/100%.txt",
    "percent%2F/encoded%2Fslash.txt",
    "ünïcödé/日本語/ファイル.png",
    "emoji/😀.gif",
    "empty-folder/",
    "nested/empty/",
    "deep/" + "/".join(f"level{n}" for n in range(25)) + "/needle.bin",
    "top-level.txt",
    "trailing-dot.",
    "a/b/",
    "a/b/c",
]


def table_of(rows: list[dict]) -> pa.Table:
    """Rows (only key needed) as a table in SCHEMA with sensible defaults."""
    base = datetime(2024, 5, 1, tzinfo=UTC)
    full = []
    for n, row in enumerate(rows):
        full.append(
            {
                "bucket": "b",
                "version_id": None,
                "is_latest": True,
                "is_delete_marker": False,
                "size": 100 + n,
                "last_modified_date": base + timedelta(days=n),
                "e_tag": f"etag{n}",
                "storage_class": "STANDARD",
                "is_multipart_uploaded": False,
                "checksum_algorithm": None,
                **row,
            }
        )
    return pa.Table.from_pylist(full, schema=SCHEMA)


def parquet_of(tmp_path, rows: list[dict], name: str = "part.parquet"):
    path = tmp_path / name
    pq.write_table(table_of(rows), path)
    return path
