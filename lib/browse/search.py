"""Whole-bucket search on Browse: the latest snapshot's matches as the rows a folder page shows.

A folder page comes from one ListObjectsV2 request; "Search everywhere" comes from the bucket's
latest whole-bucket snapshot (lib.inventory), queried with DuckDB, with the app's own writes since
the snapshot laid over it (uploads appear and deletes vanish at once, without a rebuild). The rows
are `lib.browse.listing.COLUMNS`, so the page draws them with the same table, gallery, thumbnails,
links and details as a folder; `name` is the whole key, since results come from every folder.

`SearchIndex` keeps one DuckDB view per snapshot for the life of the server, and every search gets
its own cursor, so sessions never share a connection. The view reads the snapshot's local search
database (lib.inventory.localdb: a page in milliseconds at 10 million objects); until that is built
(once per snapshot, in a background thread started by the first search or by the index build) it
reads the Parquet files, which gives the same rows, only slower.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from lib.browse import listing
from lib.inventory import query as inventory_query
from lib.inventory.query import ObjectQuery, RecentWrite, SearchPage
from lib.inventory.store import Snapshot, SnapshotStore

PAGE_SIZES = listing.PAGE_SIZES
PREPARING_THREAD = "bucketdesk-search-db"  # the name of a thread building a search database


@dataclass(frozen=True)
class IndexInfo:
    """What the page says about the snapshot it answers from."""

    snapshot_id: str
    objects: int | None  # None: not told (the whole bucket's size is not a scoped person's to know)
    finished: datetime
    preparing: bool = False  # its search database is being built: searches read the Parquet files meanwhile

    @classmethod
    def of(cls, snapshot: Snapshot, objects: int | None = None, *, preparing: bool = False) -> IndexInfo:
        """`objects`: the current objects, when the manifest's row count is not that (a versions snapshot)."""
        rows = snapshot.manifest.rows if objects is None else objects
        return cls(snapshot.id, rows, snapshot.manifest.finished_at, preparing)

    def age(self, now: datetime | None = None) -> str:
        """How old the snapshot is, in words ("5 minutes old")."""
        seconds = max(0.0, ((now or datetime.now(UTC)) - self.finished).total_seconds())
        for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
            if seconds >= size:
                n = int(seconds // size)
                return f"{n} {unit}{'' if n == 1 else 's'} old"
        return "less than a minute old"

    def describe(self, now: datetime | None = None) -> str:
        n = self.objects
        of = "your folders" if n is None else f"{n:,} object{'' if n == 1 else 's'}"
        said = f"Index of {of}, {self.age(now)} (built {self.finished:%Y-%m-%d %H:%M} UTC)"
        if self.preparing:  # so a slow first search is explained, and nobody rebuilds to fix it
            said += "; preparing faster search, meanwhile each search reads the whole index"
        return said


@dataclass
class SearchResult:
    query: ObjectQuery
    frame: pd.DataFrame  # listing.COLUMNS, in key order
    offset: int
    page_size: int
    has_more: bool
    overlaid: int  # the app's own writes since the snapshot taken into account
    index: IndexInfo
    seconds: float = 0.0

    @property
    def page_number(self) -> int:
        return self.offset // self.page_size + 1

    @property
    def objects(self) -> int:
        return len(self.frame)

    @property
    def empty(self) -> bool:
        return self.frame.empty


def search_frame(page: SearchPage) -> pd.DataFrame:
    """A page of matches as folder-page rows (objects only; `name` is the whole key)."""
    contents = [
        {
            "Key": row["key"],
            "Size": row["size"] or 0,
            "LastModified": row["last_modified_date"],
            "StorageClass": row["storage_class"],
            "ETag": row["e_tag"] or "",
        }
        for row in page.rows.to_pylist()
    ]
    # page_frame hides .bucketdesk/ keys unless asked from inside it; searches leave them out already.
    frame, _ = listing.page_frame({"Contents": contents}, "")
    return frame


def recent_writes(events: Iterable[tuple[str, str | None, int | None, float]]) -> list[RecentWrite]:
    """The app's own writes as overlay records, oldest first: (action, key, size, ts) of successful
    `upload` and `delete` events (the event store's action names)."""
    records = []
    for action, key, size, ts in sorted(events, key=lambda e: e[3]):
        if not key:
            continue
        when = datetime.fromtimestamp(ts, UTC)
        if action == "upload":
            records.append(RecentWrite(key=key, size=size, last_modified=when))
        elif action == "delete":
            records.append(RecentWrite(key=key, deleted=True))
    return records


class SearchIndex:
    """Searches one bucket's latest whole-bucket snapshot."""

    def __init__(self, store: SnapshotStore):
        self.store = store
        self._views: dict[str, duckdb.DuckDBPyConnection] = {}
        self._objects: dict[str, int] = {}  # current objects of versions snapshots, counted once each
        self._fast: set[str] = set()  # snapshot ids whose view reads the search database
        self._preparing: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def latest(self, versions: bool | None = None) -> Snapshot | None:
        """The newest snapshot of the whole bucket (a snapshot of one prefix cannot answer for the rest);
        with `versions`, the newest one that does (True) or does not (False) list every version."""
        return next(
            (
                s
                for s in self.store.list()
                if s.manifest.prefix == "" and (versions is None or s.manifest.versions == versions)
            ),
            None,
        )

    def info(self, snapshot: Snapshot) -> IndexInfo:
        """How many objects `snapshot` answers for, how old it is, and whether its search database is
        still being prepared (asking starts that: whoever asks is about to search). A snapshot with
        every version (the audit page builds those) has more rows than objects: its current objects
        are counted."""
        view = self._view(snapshot)
        preparing = self.preparing(snapshot)
        if not snapshot.manifest.versions:
            return IndexInfo.of(snapshot, preparing=preparing)
        objects = self._objects.get(snapshot.id)
        if objects is None:
            cursor = view.cursor()
            try:
                objects = inventory_query.count_current(cursor)
            finally:
                cursor.close()
            self._objects = {snapshot.id: objects}  # the latest snapshot's only
        return IndexInfo.of(snapshot, objects, preparing=preparing)

    def preparing(self, snapshot: Snapshot) -> bool:
        """Is this server still building the snapshot's search database (searches read Parquet meanwhile)?"""
        with self._lock:
            if snapshot.id in self._fast:
                return False
            thread = self._preparing.get(snapshot.id)
        return thread is not None and thread.is_alive()

    def search(
        self,
        snapshot: Snapshot,
        query: ObjectQuery,
        allowed_prefixes: Sequence[str] | None,
        *,
        page_size: int = PAGE_SIZES[0],
        offset: int = 0,
        recent: Iterable[RecentWrite] = (),
    ) -> SearchResult:
        """One page of matches under `allowed_prefixes` (None: the whole bucket); BadQuery for a bad pattern."""
        started = time.perf_counter()
        cursor = self._view(snapshot).cursor()
        try:
            page = inventory_query.search(
                cursor, query, allowed_prefixes, page_size, offset, recent=recent, bucket=snapshot.manifest.bucket
            )
        finally:
            cursor.close()
        return SearchResult(
            query=query,
            frame=search_frame(page),
            offset=offset,
            page_size=page_size,
            has_more=page.has_more,
            overlaid=page.overlaid,
            index=self.info(snapshot),
            seconds=time.perf_counter() - started,
        )

    def prepare(self, snapshot: Snapshot) -> threading.Thread:
        """Build the snapshot's search database in the background: one attempt per snapshot for the
        server's life (a failed one is logged and searches keep reading the Parquet files)."""
        with self._lock:
            return self._prepare(snapshot)

    def _prepare(self, snapshot: Snapshot) -> threading.Thread:
        thread = self._preparing.get(snapshot.id)
        if thread is None:
            thread = threading.Thread(target=snapshot.prepare_search, name=PREPARING_THREAD, daemon=True)
            self._preparing = {snapshot.id: thread}  # older snapshots are let go
            thread.start()
        return thread

    def _view(self, snapshot: Snapshot) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if snapshot.id in self._fast:
                return self._views[snapshot.id]
            if snapshot.search_ready():
                self._views, self._fast = {snapshot.id: snapshot.connect()}, {snapshot.id}
            else:
                self._prepare(snapshot)
                if snapshot.id not in self._views:
                    files = snapshot.local_files()  # downloads a bucket-kept snapshot once
                    self._views = {snapshot.id: inventory_query.connect(files)}  # older snapshots are let go
            return self._views[snapshot.id]
