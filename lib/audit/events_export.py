"""Who did what, as rows a person reads and as files they download (CSV, JSON Lines).

The audit store pages events newest first; `event_row` is the one shape of an event on the page and
in both files: when (UTC, ISO 8601), who, action, bucket, key, outcome, and the kind's details.
`write_events` streams events into a temporary file (held in memory up to SPOOL_BYTES, on disk
beyond) and stops at `max_rows` or `max_bytes`, whichever comes first, so a download never holds
more than that however many events match; `Written.truncated` says when it stopped early.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

FORMATS = ("csv", "jsonl")
MIME_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
COLUMNS = ("when", "who", "action", "bucket", "key", "outcome", "details")
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
SPOOL_BYTES = 1024 * 1024


class EventLike(Protocol):
    """What the audit store hands back (lib.events.StoredEvent has these, read-only)."""

    @property
    def ts(self) -> float: ...
    @property
    def who(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Written:
    file: IO[bytes]  # positioned at its start, ready to read
    rows: int
    truncated: bool  # more events matched than were written (max_rows or max_bytes reached)


def event_row(event: EventLike) -> dict[str, Any]:
    """One event as a row: who, what, where, when and how it ended (details as they were recorded)."""
    return {
        "when": datetime.fromtimestamp(event.ts, UTC).isoformat(timespec="seconds"),
        "who": event.who,
        "action": event.action,
        "bucket": event.bucket,
        "key": event.key,
        "outcome": event.outcome,
        "details": dict(event.details),
    }


def write_events(
    events: Iterable[EventLike],
    fmt: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Written:
    """Stream `events` into a temporary file in `fmt` ("csv" or "jsonl"), at most `max_rows` rows
    and about `max_bytes` bytes; the caller reads (and closes) `Written.file`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    rows, truncated = 0, False
    for event in events:
        if rows >= max_rows or spool.tell() >= max_bytes:
            truncated = True
            break
        row = event_row(event)
        if writer is not None:
            writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False, default=str)})
        else:
            text.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        rows += 1
    text.flush()
    text.detach()  # leave the spool open for the reader
    spool.seek(0)
    return Written(spool, rows, truncated)
