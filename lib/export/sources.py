"""Where an export's rows come from: a live listing, the latest snapshot, or an S3 Inventory report.

Every source yields Arrow record batches with exactly the requested listing columns (SCHEMA's types,
in the requested order), already filtered by the analyst's query *and* their allowed prefixes, so
nothing outside a person's scope ever reaches a writer. Filtering is the query's own SQL
(`ObjectQuery.where_sql`, the one home of filters), run by DuckDB over the view `objects`: over each
batch of a live walk as it arrives, or over a snapshot's Parquet files. Batches stream: no source
builds the whole listing.

The listing machinery lives in lib.inventory (walk, snapshots, S3 Inventory import, queries); it is
looked up when a source runs, so this module only relies on its published contract.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from lib.export.columns import export_schema
from lib.inventory.schema import COLUMNS

# Rows per batch read from a snapshot: one batch is all a writer holds at a time.
SNAPSHOT_BATCH_ROWS = 64 * 1024
# DuckDB's own memory while it sorts a snapshot by key: beyond this it spills to its temp directory,
# so an export's memory does not grow with the bucket.
SNAPSHOT_SORT_MEMORY = "128MB"


class Filter(Protocol):
    """What a source needs of lib.inventory.query.ObjectQuery."""

    # Key prefixes asked for (any of them); empty for the whole bucket.
    prefixes: Sequence[str]
    # True: every version and delete marker; False: the latest version of each key only.
    versions: bool

    def where_sql(self, allowed_prefixes: Sequence[str] | None) -> tuple[str, Any]: ...


def live(
    gateway: Any,
    query: Filter,
    allowed_prefixes: Sequence[str] | None,
    concurrency: int = 16,
    *,
    columns: Sequence[str] = COLUMNS,
    progress: Callable[..., None] | None = None,
    cancel: Any = None,
) -> Iterator[pa.RecordBatch]:
    """A parallel walk of the bucket (only under the prefixes both asked for and allowed), each page
    of it filtered by the query's SQL before it is passed on."""
    walk = _inventory("walk").walk
    sql, params = query.where_sql(allowed_prefixes)
    select = _select(columns, sql)
    connection = duckdb.connect()
    try:
        for root in walk_roots(query.prefixes, allowed_prefixes):
            for batch in walk(
                gateway, root, versions=query.versions, concurrency=concurrency, progress=progress, cancel=cancel
            ):
                if batch.num_rows:
                    yield from _filtered(connection, batch, select, params, columns)
    finally:
        connection.close()


def snapshot(
    snapshot: Any,
    query: Filter,
    allowed_prefixes: Sequence[str] | None,
    *,
    columns: Sequence[str] = COLUMNS,
    batch_rows: int = SNAPSHOT_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The rows of a snapshot (its local Parquet files) that the query selects, in key order,
    streamed from DuckDB in batches of `batch_rows`."""
    sql, params = query.where_sql(allowed_prefixes)
    connection = _inventory("query").connect(snapshot.local_files())
    try:
        connection.execute(f"SET memory_limit = '{SNAPSHOT_SORT_MEMORY}'")
        # Not DuckDB's default (.tmp in the working directory): spills belong in the system's temp.
        connection.execute(f"SET temp_directory = '{Path(tempfile.gettempdir()) / 'bucketdesk-duckdb'}'")
        ordered = _select(columns, sql) + ' ORDER BY "key", "last_modified_date" DESC'
        reader = connection.sql(ordered, params=params).to_arrow_reader(batch_rows)
        schema = export_schema(columns)
        for batch in reader:
            if batch.num_rows:
                yield conform(batch, schema)
    finally:
        connection.close()


def inventory(
    gateway: Any,
    manifest_key: str,
    query: Filter,
    allowed_prefixes: Sequence[str] | None,
    *,
    columns: Sequence[str] = COLUMNS,
) -> Iterator[pa.RecordBatch]:
    """The rows of an S3 Inventory report (its manifest.json key in the bucket): imported by
    lib.inventory.s3inventory into snapshot files, then read like a snapshot."""
    report = _inventory("s3inventory").import_report(gateway, manifest_key)
    yield from snapshot(report, query, allowed_prefixes, columns=columns)


def walk_roots(wanted: Sequence[str], allowed: Sequence[str] | None) -> list[str]:
    """The fewest prefixes to walk that cover every key both wanted and allowed.

    A wanted prefix inside an allowed one is walked as is; an allowed prefix inside a wanted one is
    walked instead of it (so a scoped analyst's walk never lists other people's keys); prefixes
    inside another root are dropped so no key is listed twice."""
    roots = set()
    for want in wanted or [""]:
        for allow in allowed if allowed is not None else [""]:
            if want.startswith(allow):
                roots.add(want)
            elif allow.startswith(want):
                roots.add(allow)
    return sorted(root for root in roots if not any(other != root and root.startswith(other) for other in roots))


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch's columns in the schema's order and types (DuckDB returns microsecond timestamps
    and may return other string layouts; the values are the same)."""
    arrays = [batch.column(field.name).cast(field.type) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _filtered(connection: Any, batch: pa.RecordBatch, select: str, params: Any, columns: Sequence[str]):
    connection.register("objects", pa.Table.from_batches([batch]))
    try:
        table = connection.sql(select, params=params).to_arrow_table()
    finally:
        connection.unregister("objects")
    schema = export_schema(columns)
    for chunk in table.to_batches():
        if chunk.num_rows:
            yield conform(chunk, schema)


def _select(columns: Sequence[str], where: str) -> str:
    names = ", ".join(f'"{name}"' for name in columns)
    return f"SELECT {names} FROM objects WHERE {where or 'TRUE'}"


def _inventory(module: str) -> Any:
    return importlib.import_module(f"lib.inventory.{module}")
