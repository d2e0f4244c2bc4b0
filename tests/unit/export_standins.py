"""Stand-ins for lib.inventory (walk, query, store) as its contract describes them, for the export
tests only: lib.inventory lands separately, and the export must work against its contract.

`install(monkeypatch)` puts them where lib.export looks them up (lib.inventory.walk / .query / .store).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lib.inventory.schema import SCHEMA

LISTED_PAGES: list[str] = []  # prefixes the stand-in walk was asked to list, to prove scoping


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


@dataclass
class ObjectQuery:
    """The fields lib.inventory.query.ObjectQuery carries, with a where_sql of the same shape."""

    text: str = ""
    mode: str = "substring"
    case_sensitive: bool = False
    prefixes: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    type_family: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    modified_since: datetime | None = None
    modified_until: datetime | None = None
    storage_classes: tuple[str, ...] = ()
    versions: str = "latest"
    include_app_files: bool = False
    seen_allowed: list = field(default_factory=list)

    def where_sql(self, allowed_prefixes=None):
        self.seen_allowed.append(allowed_prefixes)
        clauses: list[str] = []
        params: list[Any] = []

        def any_prefix(prefixes):
            clauses.append("(" + " OR ".join("starts_with(key, ?)" for _ in prefixes) + ")")
            params.extend(prefixes)

        if allowed_prefixes is not None:
            any_prefix(list(allowed_prefixes) or ["\x00never"])
        if self.prefixes:
            any_prefix(self.prefixes)
        if self.text:
            operator = {"substring": "contains(key, ?)", "glob": "key GLOB ?", "regex": "regexp_matches(key, ?)"}
            clauses.append(operator[self.mode])
            params.append(self.text)
        for column, op, value in (
            ("size", ">=", self.min_size),
            ("size", "<=", self.max_size),
            ("last_modified_date", ">=", self.modified_since),
            ("last_modified_date", "<=", self.modified_until),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if self.extensions:
            clauses.append("(" + " OR ".join("lower(key) LIKE ?" for _ in self.extensions) + ")")
            params.extend(f"%.{ext}" for ext in self.extensions)
        if self.storage_classes:
            clauses.append("storage_class IN (" + ", ".join("?" for _ in self.storage_classes) + ")")
            params.extend(self.storage_classes)
        if self.versions == "latest":
            clauses.append("coalesce(is_latest, TRUE) AND NOT coalesce(is_delete_marker, FALSE)")
        return " AND ".join(clauses) or "TRUE", params


ORDER_BY = "key, is_latest DESC NULLS LAST, last_modified_date DESC NULLS LAST, version_id NULLS FIRST"


def connect(files: list[Path]):
    connection = duckdb.connect()
    listed = ", ".join(f"'{path}'" for path in files)
    connection.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet([{listed}])")
    return connection


def walk(gateway, prefix="", *, versions=False, concurrency=16, progress=None, cancel=None, **options):
    """A serial listing of the gateway's bucket in SCHEMA batches (one per page)."""
    LISTED_PAGES.append(prefix)
    token = None
    while True:
        page = gateway.list_page(prefix, delimiter=None, token=token)
        rows = [
            row(
                item["Key"],
                item["Size"],
                bucket=gateway.bucket,
                last_modified_date=item["LastModified"],
                e_tag=item["ETag"].strip('"'),
                storage_class=item.get("StorageClass", "STANDARD"),
            )
            for item in page.get("Contents", [])
        ]
        yield batch(rows)
        token = page.get("NextContinuationToken")
        if not token:
            return


@dataclass
class Snapshot:
    files: list[Path]
    manifest: Any = None

    def local_files(self) -> list[Path]:
        return self.files


class SnapshotStore:
    latest_snapshot: Snapshot | None = None

    def __init__(self, *args, **kwargs):
        pass

    def latest(self):
        return SnapshotStore.latest_snapshot


def write_snapshot(path: Path, rows: list[dict[str, Any]], row_group_size: int = 1000) -> Snapshot:
    pq.write_table(pa.Table.from_batches([batch(rows)], SCHEMA), path, row_group_size=row_group_size)
    finished = datetime(2024, 5, 2, tzinfo=UTC)
    return Snapshot([path], types.SimpleNamespace(finished=finished.isoformat(), finished_at=finished, rows=len(rows)))


def install(monkeypatch) -> None:
    LISTED_PAGES.clear()
    SnapshotStore.latest_snapshot = None
    for name, members in {
        "walk": {"walk": walk},
        "query": {"ObjectQuery": ObjectQuery, "connect": connect, "ORDER_BY": ORDER_BY},
        "store": {"SnapshotStore": SnapshotStore},
    }.items():
        module = types.ModuleType(f"lib.inventory.{name}")
        module.__dict__.update(members)
        monkeypatch.setitem(__import__("sys").modules, f"lib.inventory.{name}", module)
