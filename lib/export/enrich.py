"""Columns a listing does not carry: one HEAD request per object, only when the analyst asks.

`content_type`, `uploaded_by` and `original_name` (bucketdesk's uploader and file-name metadata, read
by lib.metadata, so objects stored under the earlier name `original-name` count too) come from
HeadObject. A bounded thread pool sends at most `concurrency` requests at once, one batch at a time,
so memory stays that of one batch however large the export. Delete markers have no object to HEAD and get nulls; so does an object
deleted between the listing and its HEAD.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from lib import metadata
from lib.export.columns import HEAD_COLUMNS, HEAD_FIELDS, export_schema, listing_columns, needs_head
from lib.export.sources import conform

# HEAD requests in flight at once unless the caller says otherwise.
DEFAULT_HEAD_CONCURRENCY = 16
# A listing needs these to HEAD the right object version.
_IDENTITY = ("key", "version_id", "is_delete_marker")


def head_requests(rows: int, columns: Sequence[str]) -> int:
    """How many requests the chosen columns cost on top of the listing: one per row, or none."""
    return rows if needs_head(columns) else 0


def columns_to_list(columns: Sequence[str]) -> tuple[str, ...]:
    """The listing columns a source must provide for these export columns (identity included when
    HEAD columns are wanted)."""
    listed = listing_columns(columns)
    if needs_head(columns):
        listed += tuple(name for name in _IDENTITY if name not in listed)
    return listed


def with_head_columns(
    batches: Iterable[pa.RecordBatch],
    gateway: Any,
    columns: Sequence[str],
    concurrency: int = DEFAULT_HEAD_CONCURRENCY,
) -> Iterator[pa.RecordBatch]:
    """The export's batches in `columns` order: HEAD columns filled in when asked, else passed through."""
    schema = export_schema(columns)
    if not needs_head(columns):
        yield from (conform(batch, schema) for batch in batches)
        return
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="export-head") as pool:
        for batch in batches:
            identities = zip(*(batch.column(name).to_pylist() for name in _IDENTITY), strict=True)
            heads = list(pool.map(lambda identity: _head_values(gateway, *identity), identities))
            arrays = {field.name: batch.column(field.name) for field in batch.schema}
            for index, name in enumerate(HEAD_COLUMNS):
                arrays[name] = pa.array([head[index] for head in heads], HEAD_FIELDS.field(name).type)
            yield pa.RecordBatch.from_arrays([arrays[name] for name in schema.names], schema=schema)


def _head_values(gateway: Any, key: str, version_id: str | None, is_delete_marker: bool | None) -> tuple:
    if is_delete_marker:
        return (None, None, None)
    response = gateway.head(key, version_id=version_id)
    if response is None:
        return (None, None, None)
    ours = metadata.read(response.get("Metadata"))
    return (response.get("ContentType"), ours.uploader, ours.filename)
