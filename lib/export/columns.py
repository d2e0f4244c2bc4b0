"""Which columns an export may carry, in which order, with which types.

Every column of the listing schema (lib.inventory.schema.SCHEMA, Athena's names) can be exported,
plus three that are not in a listing and cost one HEAD request per object (`HEAD_COLUMNS`):
the object's Content-Type and the uploader and file-name metadata bucketdesk pins on every upload
(lib.metadata).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from lib.errors import BucketdeskError
from lib.inventory.schema import COLUMNS, DEFAULT_EXPORT_COLUMNS, SCHEMA

HEAD_FIELDS = pa.schema(
    [
        pa.field("content_type", pa.string()),
        pa.field("uploaded_by", pa.string()),
        pa.field("original_name", pa.string()),
    ]
)
HEAD_COLUMNS: tuple[str, ...] = tuple(HEAD_FIELDS.names)
EXPORTABLE: tuple[str, ...] = COLUMNS + HEAD_COLUMNS


class UnknownColumns(BucketdeskError):
    hint = "Choose from: " + ", ".join(EXPORTABLE) + "."


def choose(columns: Iterable[str] | str | None) -> tuple[str, ...]:
    """The columns asked for, in that order (comma-separated text or a sequence); the default when none.

    Raises UnknownColumns naming every name that is not a column, and refuses a column named twice."""
    if columns is None:
        return DEFAULT_EXPORT_COLUMNS
    names = columns.split(",") if isinstance(columns, str) else list(columns)
    chosen = tuple(name.strip() for name in names if name.strip())
    if not chosen:
        return DEFAULT_EXPORT_COLUMNS
    unknown = [name for name in chosen if name not in EXPORTABLE]
    if unknown:
        raise UnknownColumns(f"Not a column: {', '.join(unknown)}.")
    twice = sorted({name for name in chosen if chosen.count(name) > 1})
    if twice:
        raise UnknownColumns(f"Each column can be exported once; named twice: {', '.join(twice)}.")
    return chosen


def export_schema(columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema of an export with these columns, in this order (types from SCHEMA)."""
    return pa.schema([_field(name) for name in columns])


def listing_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The chosen columns a listing provides (the rest come from HEAD requests)."""
    return tuple(name for name in columns if name in COLUMNS)


def needs_head(columns: Sequence[str]) -> bool:
    return any(name in HEAD_COLUMNS for name in columns)


def _field(name: str) -> pa.Field:
    if name in COLUMNS:
        return SCHEMA.field(name)
    return HEAD_FIELDS.field(name)
