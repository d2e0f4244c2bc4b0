"""Typed audit events and the SQLite store that keeps them.

Every action the desk takes (or refuses) becomes one event: a dataclass per kind, so what an event
carries is declared in one place and a misspelt detail is a TypeError, not a silent hole in the log.
All events share who, bucket, key (an object key or a folder prefix), outcome and when; each kind
adds its own details.

The store is one SQLite file in WAL mode: readers never block the writer, every write is one short
INSERT (atomic: an event is stored whole or not at all), and `busy_timeout` makes concurrent
writers, threads of one server or several server processes on one machine, wait their turn instead
of failing. Reads come back newest first, filtered and paged by id (keyset: a page costs the same
however deep), through indexes on time, user and action.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

OK = "ok"
REFUSED = "refused"  # the access rules (or the upload rules) said no; nothing touched S3
FAILED = "failed"  # allowed, but S3 or a check failed
BUSY_TIMEOUT_MS = 15_000
MAX_PAGE = 1000


# --- the events ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event says. Subclasses set `action` and add their own details as fields."""

    action: ClassVar[str] = "event"
    who: str
    bucket: str
    key: str | None = None  # an object key, or a folder prefix for folder-wide actions
    outcome: str = OK
    message: str = ""  # a refusal's or failure's sentence
    ts: float = field(default_factory=time.time)

    _COMMON: ClassVar[frozenset[str]] = frozenset({"who", "bucket", "key", "outcome", "message", "ts"})

    def details(self) -> dict[str, Any]:
        """The kind's own fields (and the message), without Nones: what the details column holds."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._COMMON}
        if self.message:
            own["message"] = self.message
        return {name: value for name, value in own.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class ListFolder(Event):
    action: ClassVar[str] = "list"
    search: str | None = None
    start_after: str | None = None
    flat: bool = False


@dataclass(frozen=True, kw_only=True)
class ViewDetails(Event):
    action: ClassVar[str] = "details"


@dataclass(frozen=True, kw_only=True)
class Preview(Event):
    action: ClassVar[str] = "preview"
    kind: str | None = None  # text | json | csv | thumbnail…


@dataclass(frozen=True, kw_only=True)
class SignLinks(Event):
    """Row links and thumbnails for the rows a page shows (one event per page, not per row)."""

    action: ClassVar[str] = "links"
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class Share(Event):
    action: ClassVar[str] = "share"
    seconds: int | None = None
    download: bool | None = None


@dataclass(frozen=True, kw_only=True)
class SignUpload(Event):
    """A grant handed out for one declared file, or refused."""

    action: ClassVar[str] = "sign"
    name: str | None = None
    size: int | None = None
    content_type: str | None = None
    multipart: bool | None = None
    upload_id: str | None = None
    code: str | None = None  # a refusal's code (too_large, type_not_allowed, permission…)


@dataclass(frozen=True, kw_only=True)
class SignParts(Event):
    action: ClassVar[str] = "sign-parts"
    upload_id: str | None = None
    parts: int = 0


@dataclass(frozen=True, kw_only=True)
class Upload(Event):
    """One file's journey ended: stored and verified (ok), or not (failed)."""

    action: ClassVar[str] = "upload"
    name: str | None = None
    size: int | None = None
    content_type: str | None = None
    sha256: str | None = None
    s3_code: str | None = None
    upload_id: str | None = None
    parts: int | None = None
    part_size: int | None = None


@dataclass(frozen=True, kw_only=True)
class CancelUpload(Event):
    action: ClassVar[str] = "cancel"
    name: str | None = None
    upload_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Delete(Event):
    action: ClassVar[str] = "delete"
    etag: str | None = None


@dataclass(frozen=True, kw_only=True)
class AbortUnfinished(Event):
    """An admin aborted someone's unfinished multipart upload."""

    action: ClassVar[str] = "abort-unfinished"
    upload_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Search(Event):
    action: ClassVar[str] = "search"
    query: str | None = None
    rows: int | None = None


@dataclass(frozen=True, kw_only=True)
class AuditView(Event):
    """An admin read a view of the audit page (usage, configuration, events…)."""

    action: ClassVar[str] = "audit"
    view: str | None = None
    snapshot: str | None = None  # the snapshot the view was read from
    format: str | None = None  # a download's format (csv, jsonl)


@dataclass(frozen=True, kw_only=True)
class Export(Event):
    """`key` says where the file went: "download", or its key in the bucket."""

    action: ClassVar[str] = "export"
    format: str | None = None
    rows: int | None = None
    source: str | None = None
    filter: str | None = None
    columns: tuple[str, ...] | None = None
    bytes: int | None = None
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class BuildIndex(Event):
    action: ClassVar[str] = "index"
    objects: int | None = None
    cancelled_by: str | None = None  # who stopped it, when someone did (the builder or another admin)


# --- reading back --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: the common columns and its details."""

    id: int
    ts: float
    who: str
    action: str
    bucket: str
    key: str | None
    outcome: str
    details: dict[str, Any]

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)


@dataclass(frozen=True)
class EventFilter:
    """Which events to read; every field left None matches everything."""

    who: str | None = None
    action: str | None = None
    bucket: str | None = None
    key_prefix: str | None = None
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    outcome: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        values: list[Any] = []
        for column in ("who", "action", "bucket", "outcome"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        if self.key_prefix:
            # A range, not LIKE: LIKE ignores ASCII case and treats % and _ as wildcards.
            clauses.append("key >= ? AND key < ?")
            values += [self.key_prefix, self.key_prefix + "\U0010ffff"]
        if self.since is not None:
            clauses.append("ts >= ?")
            values.append(self.since)
        if self.until is not None:
            clauses.append("ts < ?")
            values.append(self.until)
        return (" AND ".join(clauses) or "1"), values


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]
    # Pass as `before` to read the next (older) page; None when this was the last one.
    next_before: int | None


# --- the store -----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts);
CREATE INDEX IF NOT EXISTS events_by_who ON events (who, action, bucket, id);
CREATE INDEX IF NOT EXISTS events_by_action ON events (action, id);
CREATE TABLE IF NOT EXISTS imports (source TEXT PRIMARY KEY, events INTEGER NOT NULL, ts REAL NOT NULL);
"""


def _when_unlocked(step: Callable[[], object], attempts: int = 100) -> None:
    """Run a step that SQLite may refuse with "database is locked" without waiting; retry briefly."""
    for attempt in range(attempts):
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class EventStore:
    """Audit events in one SQLite file; one instance may be shared by every session of a server."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()  # one connection per thread: sqlite3 objects are not shared
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _when_unlocked(lambda: self._connection().executescript(_SCHEMA))  # IF NOT EXISTS: safe to race

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # Autocommit: each statement is its own transaction unless _transaction opens one.
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Switching a new file to WAL takes an exclusive lock that SQLite does not wait for (no busy
            # handler), so a second process opening the file at the same moment is told "locked".
            _when_unlocked(lambda: db.execute("PRAGMA journal_mode = WAL"))
            db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes of the app
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front, so a check-then-write cannot race another writer."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def record(self, event: Event) -> int:
        """Store one event (one INSERT, atomic); its id."""
        db = self._connection()
        cursor = db.execute(
            "INSERT INTO events (ts, who, action, bucket, key, outcome, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.ts,
                event.who,
                event.action,
                event.bucket,
                event.key,
                event.outcome,
                json.dumps(event.details(), ensure_ascii=False, default=str),
            ),
        )
        return int(cursor.lastrowid or 0)

    def page(self, where: EventFilter | None = None, *, limit: int = 50, before: int | None = None) -> EventPage:
        """Events matching `where`, newest first; `before` is the previous page's `next_before`."""
        limit = max(1, min(limit, MAX_PAGE))
        clause, values = (where or EventFilter()).where()
        if before is not None:
            clause += " AND id < ?"
            values.append(before)
        rows = (
            self._connection()
            .execute(
                f"SELECT id, ts, who, action, bucket, key, outcome, details FROM events WHERE {clause} "
                "ORDER BY id DESC LIMIT ?",
                [*values, limit + 1],
            )
            .fetchall()
        )
        events = [_stored(row) for row in rows[:limit]]
        return EventPage(events, events[-1].id if len(rows) > limit else None)

    def recent_uploads(self, who: str, bucket: str, limit: int = 20) -> list[StoredEvent]:
        """A person's latest finished uploads in a bucket: one indexed query (events_by_who)."""
        return self.page(EventFilter(who=who, action=Upload.action, bucket=bucket), limit=limit).events

    def count(self, where: EventFilter | None = None) -> int:
        clause, values = (where or EventFilter()).where()
        return int(self._connection().execute(f"SELECT count(*) FROM events WHERE {clause}", values).fetchone()[0])

    def import_jsonl(self, path: Path) -> int:
        """Import an audit log of earlier versions (JSON Lines) once; how many events it added.

        The import and its mark are one transaction, so two servers starting at once import it once,
        and a crash halfway imports nothing (the next start tries again)."""
        path = Path(path)
        if not path.is_file():
            return 0
        source = str(path.resolve())
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM imports WHERE source = ?", (source,)).fetchone():
                return 0
            rows = list(_jsonl_rows(path))
            db.executemany(
                "INSERT INTO events (ts, who, action, bucket, key, outcome, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute("INSERT INTO imports (source, events, ts) VALUES (?, ?, ?)", (source, len(rows), time.time()))
        return len(rows)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _stored(row: tuple) -> StoredEvent:
    try:
        details = json.loads(row[7]) if row[7] else {}
    except ValueError:
        details = {}
    return StoredEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], details)


def _jsonl_rows(path: Path) -> Iterator[tuple]:
    """Rows from the JSON Lines audit log of earlier versions: {"ts": "…Z", "who", "action", "bucket", "key", "outcome", "details"}."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
                ts = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
                yield (
                    ts,
                    str(record["who"]),
                    str(record["action"]),
                    str(record.get("bucket") or ""),
                    record.get("key"),
                    str(record.get("outcome") or OK),
                    json.dumps(record.get("details") or {}, ensure_ascii=False),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash, or a line that is not an event


def as_dict(event: Event) -> dict[str, Any]:
    """An event as plain data (tests, debugging)."""
    return {"action": event.action, **asdict(event)}
