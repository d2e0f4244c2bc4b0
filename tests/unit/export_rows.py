"""Listing rows for the export tests, and real snapshots (lib.inventory.store) made of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from lib.inventory.schema import SCHEMA
from lib.inventory.store import Snapshot, SnapshotStore


def row(key: str, size: int | None = 1, **more: Any) -> dict[str, Any]:
    values = {
        "bucket": "bucketdesk-unit",
        "key": key,
        "version_id": None,
        "is_latest": True,
        "is_delete_marker": False,
        "size": size,
        "last_modified_date": datetime(2024, 5, 1, 12, 30, 45, 123000, tzinfo=UTC),
        "e_tag": "0123456789abcdef0123456789abcdef",
        "storage_class": "STANDARD",
        "is_multipart_uploaded": False,
        "checksum_algorithm": None,
    }
    values.update(more)
    return values


def batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=SCHEMA)


def write_snapshot(gateway, rows: list[dict[str, Any]], cache_dir: Path | None = None) -> Snapshot:
    """A snapshot of these rows kept on disk (under the profile's inventory_cache_dir unless given),
    where SnapshotStore(gateway).latest() finds it."""
    store = SnapshotStore(gateway, mode="disk", cache_dir=cache_dir)
    return store.publish([batch(rows)], source="listing", versions=True)
