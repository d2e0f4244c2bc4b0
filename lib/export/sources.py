"""Where an export's rows come from: a live listing, the latest snapshot, or an S3 Inventory report.

Every source yields Arrow record batches with exactly the requested listing columns (SCHEMA's types,
in the requested order), already filtered by the analyst's query *and* their allowed prefixes, so
nothing outside a person's scope ever reaches a writer. Filtering is the query's own SQL
(`ObjectQuery.where_sql`, the one home of filters), run by DuckDB over the view `objects`: over each
batch of a live walk as it arrives, or over a snapshot's Parquet files. Batches stream: no source
builds the whole listing.

The listing machinery lives in lib.inventory (walk, snapshots, S3 Inventory import, queries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from lib.export.columns import export_schema
from lib.inventory import query as inventory_query
from lib.inventory import s3inventory
from lib.inventory.query import ObjectQuery
from lib.inventory.schema import COLUMNS
from lib.inventory.walk import walk

# Rows per batch read from a snapshot: one batch is all a writer holds at a time.
SNAPSHOT_BATCH_ROWS = 64 * 1024
# DuckDB's own memory while it sorts a snapshot by key: beyond this it spills to its temp directory,
# so an export's memory does not grow with the bucket.
SNAPSHOT_SORT_MEMORY = "128MB"


def live(
    gateway: Any,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None,
    concurrency: int = 16,
    *,
    columns: Sequence[str] = COLUMNS,
    progress: Callable[..., None] | None = None,
    cancel: Any = None,
    walk_options: dict[str, Any] | None = None,
) -> Iterator[pa.RecordBatch]:
    """A parallel walk of the bucket (only under the prefixes both asked for and allowed), each page
    of it filtered by the query's SQL before it is passed on. `walk_options` go to the walk as they
    are (a preview asks for small batches and a serial walk)."""
    versions = query.versions == "all"
    options = walk_options or {}

    def walked() -> Iterator[pa.RecordBatch]:
        for root in walk_roots(query.prefixes, allowed_prefixes):
            yield from walk(
                gateway, root, versions=versions, concurrency=concurrency, progress=progress, cancel=cancel, **options
            )

    yield from filtered(walked(), query, allowed_prefixes, columns)


def filtered(
    batches: Iterable[pa.RecordBatch],
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None,
    columns: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    """Each batch (in SCHEMA) cut down to the rows the query selects inside the allowed prefixes, as it comes."""
    sql, params = query.where_sql(allowed_prefixes)
    select = _select(columns, sql)
    connection = duckdb.connect()
    try:
        for batch in batches:
            if batch.num_rows:
                yield from _filtered(connection, batch, select, params, columns)
    finally:
        connection.close()


def snapshot(
    snapshot: Any,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None,
    *,
    columns: Sequence[str] = COLUMNS,
    batch_rows: int = SNAPSHOT_BATCH_ROWS,
    limit: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of a snapshot (its local Parquet files) that the query selects, in key order,
    streamed from DuckDB in batches of `batch_rows` (only the first `limit`, when given)."""
    sql, params = query.where_sql(allowed_prefixes)
    connection = _snapshot_connection(snapshot)
    try:
        ordered = _select(columns, sql) + f" ORDER BY {inventory_query.ORDER_BY}"
        if limit is not None:
            ordered += f" LIMIT {int(limit)}"
        reader = connection.sql(ordered, params=params).to_arrow_reader(batch_rows)
        schema = export_schema(columns)
        for batch in reader:
            if batch.num_rows:
                yield conform(batch, schema)
    finally:
        connection.close()


def snapshot_count(snapshot: Any, query: ObjectQuery, allowed_prefixes: Sequence[str] | None) -> int:
    """How many rows of the snapshot the query selects inside the allowed prefixes (DuckDB, no rows read out)."""
    sql, params = query.where_sql(allowed_prefixes)
    connection = _snapshot_connection(snapshot)
    try:
        found = connection.execute(f"SELECT count(*) FROM objects WHERE {sql}", params).fetchone()
        return int(found[0]) if found else 0
    finally:
        connection.close()


def inventory(
    gateway: Any,
    manifest_key: str,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None,
    *,
    columns: Sequence[str] = COLUMNS,
) -> Iterator[pa.RecordBatch]:
    """The rows of an S3 Inventory report (its manifest.json key in the bucket), read file by file
    by lib.inventory.s3inventory and filtered batch by batch like a live walk. Nothing is published
    as a snapshot: an export only reads the report."""
    manifest = s3inventory.read_manifest(gateway, manifest_key)
    yield from filtered(s3inventory.report_batches(gateway, manifest_key, manifest), query, allowed_prefixes, columns)


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


def _snapshot_connection(snapshot: Any) -> Any:
    connection = snapshot.connect()  # spills go to the system's temp (lib.inventory.query)
    connection.execute(f"SET memory_limit = '{SNAPSHOT_SORT_MEMORY}'")
    return connection


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
