"""One export as a person asks for it, and the three things done with it: a preview of its first
rows, a count, and the run that hands back a download or a signed link.

The page (through the desk) and the command line build the same `ExportRequest`; the filter is an
`ObjectQuery` (lib.inventory.query, the one home of filters) and `allowed_prefixes` (None: the
whole bucket; the desk passes the person's export scope) restricts every row that comes back.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from lib.errors import StorageError
from lib.export import sources
from lib.export.columns import export_schema
from lib.export.destinations import Download, LocalFile, SignedLink, deliver, export_filename
from lib.export.enrich import DEFAULT_HEAD_CONCURRENCY, columns_to_list, with_head_columns
from lib.export.formats import FORMATS, Format, WriteOptions
from lib.export.pipeline import ExportSummary, export
from lib.inventory.query import ObjectQuery
from lib.inventory.schema import DEFAULT_EXPORT_COLUMNS
from lib.inventory.store import Snapshot, SnapshotStore

LIVE, SNAPSHOT, INVENTORY = "live", "snapshot", "inventory:"
PREVIEW_ROWS = 20
PREVIEW_WALK = {"split": "never", "batch_rows": 1000}


@dataclass(frozen=True)
class ExportRequest:
    """What to export: from where, which objects (an ObjectQuery), which columns, in which format."""

    query: ObjectQuery
    source: str = LIVE  # live | snapshot | inventory:<manifest.json key>
    columns: tuple[str, ...] = DEFAULT_EXPORT_COLUMNS
    format: str = "csv"
    spreadsheet_safe: bool = False
    # Listing and HEAD requests in flight at once.
    concurrency: int = DEFAULT_HEAD_CONCURRENCY

    @property
    def fmt(self) -> Format:
        return FORMATS[self.format]

    @property
    def manifest_key(self) -> str:
        return self.source.removeprefix(INVENTORY)

    def describe(self) -> str:
        return describe(self.query)


@dataclass(frozen=True)
class Delivered:
    """A finished export: what it did, and where the person gets it."""

    summary: ExportSummary
    delivery: Download | SignedLink


def build_query(filters: dict[str, Any]) -> ObjectQuery:
    """The ObjectQuery for these filters (its field names), checked at once: a bad pattern raises
    BadQuery (a BucketdeskError) here rather than halfway through an export."""
    query = ObjectQuery(**{name: value for name, value in filters.items() if value is not None})
    query.where_sql(None)
    return query


def describe(query: ObjectQuery) -> str:
    """The filter in words, for the summary and the audit log."""
    parts = []
    if query.prefixes:
        parts.append("prefix " + ", ".join(query.prefixes))
    if query.text:
        parts.append(f"key {query.mode} {query.text!r}")
    if query.extensions:
        parts.append("extension " + ", ".join(query.extensions))
    if query.type_family:
        parts.append(f"type {query.type_family}")
    if query.min_size is not None:
        parts.append(f"size >= {query.min_size}")
    if query.max_size is not None:
        parts.append(f"size <= {query.max_size}")
    if query.modified_since:
        parts.append(f"modified >= {query.modified_since.isoformat()}")
    if query.modified_until:
        parts.append(f"modified <= {query.modified_until.isoformat()}")
    if query.storage_classes:
        parts.append("storage class " + ", ".join(query.storage_classes))
    parts.append("all versions and delete markers" if query.versions == "all" else "latest versions")
    return "; ".join(parts)


def until_before(moment: datetime) -> datetime:
    """`modified before X` as ObjectQuery's inclusive `modified_until` (timestamps are microseconds)."""
    return moment - timedelta(microseconds=1)


# --- the latest snapshot ---------------------------------------------------------------------------


def latest_snapshot(gateway: Any) -> Snapshot | None:
    """The bucket's latest complete snapshot, or None."""
    return SnapshotStore(gateway).latest()


def require_snapshot(gateway: Any) -> Snapshot:
    latest = latest_snapshot(gateway)
    if latest is None:
        raise StorageError(
            f"Bucket {gateway.bucket} has no snapshot yet.",
            "Make one with `python -m lib.inventory`, or export from a live listing.",
        )
    return latest


def snapshot_age(snapshot: Snapshot, now: datetime | None = None) -> timedelta:
    return (now or datetime.now(UTC)) - snapshot.manifest.finished_at


def snapshot_words(snapshot: Snapshot, now: datetime | None = None) -> str:
    """E.g. "taken 3 hours ago (2024-05-01 12:00 UTC), 1,234,567 objects"."""
    manifest = snapshot.manifest
    finished = manifest.finished_at.astimezone(UTC)
    return f"taken {_ago(snapshot_age(snapshot, now))} ({finished:%Y-%m-%d %H:%M} UTC), {manifest.rows:,} objects"


def _ago(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


# --- rows, preview, count, run ---------------------------------------------------------------------


def rows(
    gateway: Any,
    request: ExportRequest,
    allowed_prefixes: Sequence[str] | None,
    *,
    snapshot: Any = None,
    limit: int | None = None,
    progress: Callable[..., None] | None = None,
    cancel: Any = None,
) -> Iterator[pa.RecordBatch]:
    """The export's batches in its columns (HEAD columns filled in), from its source, filtered and scoped."""
    listed = _listing(gateway, request, allowed_prefixes, snapshot, limit, progress, cancel)
    if limit is not None:
        listed = _first(listed, limit)
    return with_head_columns(listed, gateway, request.columns, request.concurrency)


def preview(
    gateway: Any, request: ExportRequest, allowed_prefixes: Sequence[str] | None, limit: int = PREVIEW_ROWS
) -> pa.Table:
    """The first `limit` rows the export would hold (a live listing stops as soon as it has them)."""
    batches = list(rows(gateway, request, allowed_prefixes, limit=limit))
    return pa.Table.from_batches(batches, schema=export_schema(request.columns))


def count(
    gateway: Any,
    request: ExportRequest,
    allowed_prefixes: Sequence[str] | None,
    *,
    progress: Callable[..., None] | None = None,
    cancel: Any = None,
) -> int:
    """How many rows the export would hold. A snapshot answers from DuckDB at once; a live listing
    or an S3 Inventory report has to be read through (`progress` gets the walk's WalkProgress)."""
    if request.source == SNAPSHOT:
        return sources.snapshot_count(require_snapshot(gateway), request.query, allowed_prefixes)
    only_keys = replace(request, columns=("key",))
    listed = _listing(gateway, only_keys, allowed_prefixes, None, None, progress, cancel)
    return sum(batch.num_rows for batch in listed)


def run(
    gateway: Any,
    request: ExportRequest,
    allowed_prefixes: Sequence[str] | None,
    *,
    user: str,
    export_prefix: str,
    download_max_bytes: int,
    progress: Callable[[int, bool], None] | None = None,
    walk_progress: Callable[..., None] | None = None,
    cancel: Any = None,
) -> Delivered:
    """Export to a temporary file on this server's disk, then hand it over (`deliver`): a Download
    (the caller serves the file and deletes it) or a SignedLink (the file is already gone)."""
    fmt = request.fmt
    filename = export_filename(gateway.bucket, fmt)
    folder = Path(tempfile.mkdtemp(prefix="bucketdesk-export-"))
    path = folder / filename
    try:
        summary = export(
            rows(gateway, request, allowed_prefixes, progress=walk_progress, cancel=cancel),
            export_schema(request.columns),
            fmt,
            LocalFile(path),
            options=WriteOptions(spreadsheet_safe=request.spreadsheet_safe),
            source=request.source,
            filter=request.describe(),
            progress=progress,
        )
        delivery = deliver(
            path,
            fmt,
            gateway=gateway,
            user=user,
            export_prefix=export_prefix,
            download_max_bytes=download_max_bytes,
            filename=filename,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if isinstance(delivery, SignedLink):
        shutil.rmtree(folder, ignore_errors=True)
    return Delivered(replace(summary, where=delivery.where), delivery)


def take_download(download: Download) -> bytes:
    """The bytes of a Download, and its temporary file removed (the page hands the bytes to the browser)."""
    try:
        return download.path.read_bytes()
    finally:
        shutil.rmtree(download.path.parent, ignore_errors=True)


def _listing(
    gateway: Any,
    request: ExportRequest,
    allowed: Sequence[str] | None,
    snapshot: Any,
    limit: int | None,
    progress: Callable[..., None] | None,
    cancel: Any,
) -> Iterator[pa.RecordBatch]:
    columns = columns_to_list(request.columns)
    if request.source == LIVE:
        # A preview wants its first rows quickly: a serial walk (nothing to stop when it has them)
        # handing over every page, not batches of tens of thousands of rows.
        options = PREVIEW_WALK if limit is not None else None
        return sources.live(
            gateway,
            request.query,
            allowed,
            request.concurrency,
            columns=columns,
            progress=progress,
            cancel=cancel,
            walk_options=options,
        )
    if request.source == SNAPSHOT:
        chosen = snapshot or require_snapshot(gateway)
        return sources.snapshot(chosen, request.query, allowed, columns=columns, limit=limit)
    return sources.inventory(gateway, request.manifest_key, request.query, allowed, columns=columns)


def _first(batches: Iterator[pa.RecordBatch], limit: int) -> Iterator[pa.RecordBatch]:
    """At most `limit` rows; the source is closed as soon as they are there (a live walk stops)."""
    left = limit
    try:
        for batch in batches:
            if left <= 0:
                return
            yield batch.slice(0, left)
            left -= min(left, batch.num_rows)
            if left <= 0:
                return
    finally:
        close = getattr(batches, "close", None)
        if close:
            close()
