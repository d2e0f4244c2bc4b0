"""Walk a bucket (or a prefix) with many listing requests at once, as Arrow record batches in SCHEMA.

Why not always split: what a listing request costs differs by store. On S3 a request costs a round
trip wherever it starts, so sixteen requests in flight list about sixteen times as fast. moto's
server (the sandbox) scans and sorts the whole bucket for every request, under one interpreter
lock, so parallel requests queue and every extra request (a split, a partial last page) is pure
cost. So the walk starts exactly like boto3's serial paginator and only goes parallel when probes
show the store overlaps requests:

1. Serial: flat pages (no delimiter) of the prefix. A listing that ends within PROBE_AFTER_PAGES
   pages, or any listing of a store known to serialise (moto, by its Server header), is done with
   exactly the paginator's requests.
2. Probes: a page is fetched twice at once; if the pair took about as long as a page alone, the
   store overlapped the two. Probes a page apart vote (two that agree decide). A pair that took
   more than NOISE_RATIO pages alone says nothing about the store (a store that queues requests
   takes about twice as long: the machine stalled) and gets no vote; after MAX_PROBES probes
   without two agreeing, the walk stays serial (LocalStack's pairs take 3-13 pages alone as often
   as not: going parallel there by default listed at 0.57x). The rest is listed in parallel, or
   serially until REPROBE_GROWTH times as many pages were listed, when a new round of probes asks
   again (two to MAX_PROBES extra requests a round; 20 pages see one round, 100 up to three).
3. Parallel: the rest of the key space is a stack of pieces (prefix, after, upto], each listed flat
   by a worker. A piece lists a page first; while it has more and fewer pieces wait than there are
   workers, it hands the rest to others: a delimiter listing names what lies ahead at its level,
   folders become pieces (small ones grouped into about a page each, a big one listed by its own
   prefix so its listing ends where the folder does), and a level of plain keys is cut at keys
   estimated from the names' density (the next characters after the prefix, counted in the radix
   the names use). When only the rest of the folder holding the cursor lies ahead, the piece
   narrows to that folder and splits inside it.

Pieces partition the key space by bounds read in the store's own order, so every key is listed
exactly once whatever the bounds are; the bounds only decide how evenly the work spreads. Most
stores list in UTF-8 byte order; SeaweedFS lists its directory tree depth first and reads a
StartAfter naming a directory as "after all of it" (see _TreeOrder), which cuts and bounds follow.
Versions (ListObjectVersions) resume only from markers the store returned, so they split at
folders and never at estimated keys.
"""

from __future__ import annotations

import bisect
import queue
import statistics
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa

from lib.errors import BuildCancelled
from lib.inventory.schema import SCHEMA
from lib.s3 import S3Gateway, list_objects_v2, make_client, storage_errors

PAGE_SIZE = 1000  # S3's largest page
BATCH_ROWS = 50_000  # rows per yielded batch: ~10 MB of Arrow, a good Parquet row group
PROBE_AFTER_PAGES = 4  # serial pages before the probe: small listings never pay for one
# Parallel pays when the probed pair took less than this many times a page alone: with a request
# costing L (overlappable round trip) + S (work the server serialises), the pair costs ~L + 2S, so
# the ratio r bounds the speed-up at 1 / (r - 1); 1.75 means at least ~1.3x (what the guard asks).
# Measured on a loaded 2-core machine: SeaweedFS + 20 ms pairs take 1.2-1.7 pages alone, LocalStack's
# 1.7-13 (its one process thrashes between two requests), and any single pair may stall to 5-20.
OVERLAP_RATIO = 1.75
NOISE_RATIO = 3.0  # a pair slower than this many pages alone: the machine stalled, no vote
PROBE_VOTES = 2  # votes that agree decide
MAX_PROBES = 4  # probes in a round, a page apart, before the walk gives up and stays serial
REPROBE_GROWTH = 4  # a serial verdict holds until this many times as many pages were listed alone
# After this many requests per worker in parallel, the walk checks that it lists at least
# GUARD_GAIN times as fast as its serial start did; if not (a probe misjudged a store that queues
# requests), one worker lists the rest and nothing more is split.
GUARD_REQUESTS_PER_WORKER = 2
GUARD_GAIN = 1.3
FANOUT_PER_WORKER = 1  # pieces one split of a level of plain keys may create, per worker (cuts past the
# last key cost a request each)
DENSITY_FILL = 0.9  # estimated pieces hold 90 % of a page, so most finish in one request
LEARN_DEPTHS = 8  # levels below a page's prefix whose folder sizes the page tells
MAX_DESCENT = 16  # folders a split may step down through looking for a level with siblings

Cursor = Any  # objects: the last key (StartAfter); versions: (key marker, version-id marker)


@dataclass(frozen=True)
class WalkProgress:
    objects: int
    objects_per_second: float
    prefixes_left: int  # pieces of the key space waiting or being listed
    elapsed_seconds: float
    parallel: bool
    probes: tuple[float, ...] = ()  # each probe: a page and its twin at once, in pages alone (below 1.75: overlapped)
    workers: int = 1  # listing at once (one again when the guard found parallel listing did not pay)


@dataclass
class _Page:
    entries: list[dict[str, Any]]  # S3's own dicts, in the store's order; delete markers carry IsDeleteMarker=True
    last: str | None  # the last key (or common prefix) in the store's order
    truncated: bool
    next: Cursor | None = None  # versions: the store's own markers; None: nothing follows
    prefixes: list[str] = field(default_factory=list)


class _Order:
    """How a store sorts keys and reads StartAfter: S3's way (UTF-8 byte order; StartAfter s lists
    the keys greater than s). Every bound a piece carries is read through one of these, so pieces
    partition the key space in the store's own order."""

    tree = False

    def rank(self, name: str, folder: bool = False) -> Any:
        """Sort key of a key, or of a common prefix among the keys of its level."""
        return name

    def within(self, key: str, bound: str | None) -> bool:
        """`key` would not be listed by StartAfter=bound (None: no bound)."""
        return bound is None or key <= bound

    def cut_before(self, previous: tuple[str, bool] | None, start: str | None) -> str:
        """A StartAfter that lists the folder named next by a delimiter listing, and nothing before
        it: after the item that listing named just before (a key, or all of a folder), or where the
        listing started when the folder came first. (Not the folder's name without "/": "a b/c"
        and "a-c" sort between "a" and "a/".)"""
        if previous is None:
            return start or ""
        name, is_folder = previous
        return name[:-1] + "0" if is_folder else name  # "0" follows "/": after every key of that folder

    def discovery_start(self, after: str | None, level: str) -> str | None:
        """Where a delimiter listing of `level` starts to see what lies after `after`."""
        return after

    def item_within(self, name: str, folder: bool, bound: str | None) -> bool:
        """A key, or all of a folder, would not be listed by StartAfter=bound."""
        return self.within(name, bound)  # a folder sorts before its keys, and no bound lies inside one


class _TreeOrder(_Order):
    """SeaweedFS keeps keys as a directory tree and lists it depth first, each directory's entries by
    name: "a/b" comes before "a b" and "a-c". Its StartAfter is a path in that tree, and a path that
    names a directory means "after all of that directory" ("a/c" skips "a/c/d"). A delimiter listing
    that starts inside a folder names that folder's sub-folders as if they were the level's own, so
    discovery starts after the folder instead."""

    tree = True

    def rank(self, name: str, folder: bool = False) -> Any:
        return (name[:-1] if folder else name).split("/"), folder

    def within(self, key: str, bound: str | None) -> bool:
        return bound is None or key.split("/") <= bound.split("/") or key.startswith(bound + "/")

    def cut_before(self, previous: tuple[str, bool] | None, start: str | None) -> str:
        if previous is None:
            return start or ""
        name, is_folder = previous
        return name[:-1] if is_folder else name  # a directory's path without "/": after all of it

    def discovery_start(self, after: str | None, level: str) -> str | None:
        holder = _folder_of(after, level) if after else None
        return holder[:-1] if holder else after

    def item_within(self, name: str, folder: bool, bound: str | None) -> bool:
        return self.within(name[:-1] if folder else name, bound)  # a directory's path: all of it


BYTE_ORDER, TREE_ORDER = _Order(), _TreeOrder()


class _Lister:
    """One listing request of either kind, in one shape."""

    def __init__(self, client, bucket: str, versions: bool, page_size: int):
        self.client, self.bucket, self.versions, self.page_size = client, bucket, versions, page_size
        self.server: str | None = None  # the first response's Server header

    @property
    def serialises(self) -> bool:
        """True for moto (the sandbox), which answers listings one at a time by scanning the whole
        bucket: a probe there would only cost a request. moto signs its responses "amazon.com";
        S3 says "AmazonS3", LocalStack "TwistedWeb", MinIO "MinIO", SeaweedFS "SeaweedFS <version>"."""
        return "amazon.com" in (self.server or "").lower()

    @property
    def order(self) -> _Order:
        return TREE_ORDER if "seaweedfs" in (self.server or "").lower() else BYTE_ORDER

    def page(self, prefix: str, cursor: Cursor | None, *, delimiter: bool = False) -> _Page:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": self.page_size}
        if delimiter:
            params["Delimiter"] = "/"
        where = f"/{prefix}" if prefix else "the whole bucket"
        following: Cursor | None = None
        if self.versions:
            if cursor:
                # Only markers the store returned: moto mishandles a KeyMarker that is not a key.
                key_marker, version_marker = (cursor, None) if isinstance(cursor, str) else cursor
                params["KeyMarker"] = key_marker
                if version_marker:
                    params["VersionIdMarker"] = version_marker
            with storage_errors(f"listing the versions in {where} of bucket {self.bucket}"):
                response = self.client.list_object_versions(**params)
            entries = [dict(v, IsDeleteMarker=False) for v in response.get("Versions", [])]
            entries += [dict(m, IsDeleteMarker=True) for m in response.get("DeleteMarkers", [])]
            if response.get("IsTruncated"):
                following = (response.get("NextKeyMarker"), response.get("NextVersionIdMarker"))
        else:
            if cursor:
                params["StartAfter"] = cursor
            # The lean path: botocore's own parser would cost more CPU per page than the round trip.
            response = list_objects_v2(self.client, params, f"listing {where} of bucket {self.bucket}")
            entries = response.get("Contents", [])
        if self.server is None:
            self.server = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("server", "")
        prefixes = [p["Prefix"] for p in response.get("CommonPrefixes", [])]
        if prefixes or self.versions:
            names = [(self.order.rank(e["Key"]), e["Key"]) for e in entries]
            names += [(self.order.rank(p, folder=True), p) for p in prefixes]
            last = max(names)[1] if names else None
        else:  # a flat page comes in the store's order: its last key is where the next one starts
            last = entries[-1]["Key"] if entries else None
        truncated = bool(response.get("IsTruncated"))
        if not self.versions and truncated:
            following = last
        return _Page(entries, last, truncated, following, prefixes)


def walk(
    gateway: S3Gateway,
    prefix: str = "",
    *,
    versions: bool = False,
    concurrency: int = 16,
    progress: Callable[[WalkProgress], None] | None = None,
    cancel: threading.Event | None = None,
    batch_rows: int = BATCH_ROWS,
    split: str = "auto",
    page_size: int = PAGE_SIZE,
) -> Iterator[pa.RecordBatch]:
    """Every object (with `versions`: every version and delete marker) under `prefix`, once.

    Batches are in SCHEMA, in no particular order. `split`: "auto" (probe, see the module's
    docstring), "never" (serial, like boto3's paginator) or "always" (parallel from the first page;
    tests use it to exercise splitting on small buckets). Setting `cancel` raises BuildCancelled.
    """
    if split not in {"auto", "never", "always"}:
        raise ValueError(f"split must be auto, never or always, not {split!r}")
    lister = _Lister(_listing_client(gateway, concurrency), gateway.bucket, versions, page_size)
    batcher = _Batcher(gateway.bucket, versions, batch_rows)
    meter = _Meter(progress)
    cursor: Cursor | None = None
    parallel = split == "always" and concurrency > 1
    probing = split == "auto" and concurrency > 1
    times: list[float] = []  # pages listed alone: the request
    paces: list[float] = []  # and until the next request, the consumer's share (Arrow, Parquet) included
    probes = _Probes(meter)
    last_page: _Page | None = None
    while not parallel:
        _check(cancel)
        alone: float | None = None  # when a page listed alone started
        if probing and probes.due(len(times)):
            page, ratio = _probe(lister, prefix, cursor, times)
            parallel = probes.record(ratio, len(times)) is True
        else:
            alone = time.perf_counter()
            page = lister.page(prefix, cursor)
            times.append(time.perf_counter() - alone)
        # SeaweedFS's delimiter listings are not trusted from a version marker: its versions stay serial.
        probing = probing and not lister.serialises and not (versions and lister.order.tree)
        yield from batcher.add(page.entries)
        meter.count(len(page.entries), 1 if page.next else 0, parallel=False)
        if alone is not None:
            paces.append(time.perf_counter() - alone)
        if page.next is None:
            yield from batcher.flush()
            meter.report(0, parallel=False, force=True)
            return
        cursor, last_page = page.next, page
    walker = _Walker(lister, concurrency, cancel, FANOUT_PER_WORKER * concurrency)
    if last_page is not None:
        walker.learn(prefix, last_page)
    if split == "auto" and paces:  # it probed: the serial listing's pace is the bar to beat
        # Its whole pace: in parallel the consumer's work overlaps the requests, so a bar of the
        # requests alone would ask parallel listing for more than it has to beat.
        walker.serial_rate = page_size / statistics.median(paces[1:] or paces)
    meter.workers = concurrency
    yield from walker.run(Piece(prefix, cursor), batcher, meter)
    yield from batcher.flush()
    meter.report(0, parallel=True, force=True)


class _Probes:
    """When the serial start probes, and what a round of probes says. A serial verdict may be a
    loaded machine's (one in five on SeaweedFS + 20 ms with other work running), so it holds until
    REPROBE_GROWTH times as many pages were listed, and then a new round asks again: a long listing
    misjudged early still goes parallel, at a few requests per round, rounds ever further apart."""

    def __init__(self, meter: _Meter):
        self.meter = meter
        self.start = PROBE_AFTER_PAGES  # pages listed alone before this round's first probe
        self.made = 0  # probes this round, a page apart
        self.votes: list[bool] = []  # this round's: did the store overlap two requests?

    def due(self, pages_alone: int) -> bool:
        return pages_alone == self.start + self.made

    def record(self, ratio: float, pages_alone: int) -> bool | None:
        """Count a probe; True: go parallel, False: stay serial until the next round, None: probe on."""
        self.meter.probes.append(ratio)
        self.made += 1
        if ratio <= NOISE_RATIO:
            self.votes.append(ratio < OVERLAP_RATIO)
        decided = _verdict(self.votes, self.made)
        if decided is False:
            self.start, self.made, self.votes = REPROBE_GROWTH * pages_alone, 0, []
        return decided


def _verdict(verdicts: list[bool], probes: int) -> bool | None:
    """Parallel (True) or serial (False) once PROBE_VOTES votes agree; serial after MAX_PROBES
    probes without that; None: probe again."""
    for overlapped in (True, False):
        if verdicts.count(overlapped) >= PROBE_VOTES:
            return overlapped
    return False if probes >= MAX_PROBES else None


def _probe(lister: _Lister, prefix: str, cursor: Cursor, times: list[float]) -> tuple[_Page, float]:
    """Fetch the next page twice at once; how much longer the pair took than a page alone.

    The twin is the same request (the same cost to the server): a cheaper probe, such as a
    delimiter listing, would pass on a store whose cost is building pages of keys. The pair is
    timed until both have answered: a store that queues requests may answer either first."""
    alone = statistics.median(times[1:] or times)  # the first page also paid for the connection
    beside = threading.Thread(target=_quietly, args=(lister, prefix, cursor), daemon=True)
    started = time.perf_counter()
    beside.start()
    page = lister.page(prefix, cursor)
    beside.join()
    together = time.perf_counter() - started
    return page, together / alone if alone else 0.0


def _quietly(lister: _Lister, prefix: str, cursor: Cursor) -> None:
    try:
        lister.page(prefix, cursor)
    except Exception:  # only a timing probe: the walk itself reports failures
        pass


class Piece(NamedTuple):
    """A part of the key space: what `prefix` lists after `after` (None: from its start) and up to
    `upto` (None: to its end), both read in the store's order."""

    prefix: str
    after: Cursor | None = None
    upto: str | None = None
    flat: bool = False  # versions: the rest of a folder after a cursor inside it, listed without delimiter


class _Walker:
    """A stack of pieces and the workers that list them (newest first keeps the frontier moving).

    A worker lists its piece flat, page after page; while fewer pieces wait than there are workers,
    it first hands what is left of its piece to the others (see _split)."""

    def __init__(self, lister: _Lister, concurrency: int, cancel: threading.Event | None, fanout: int):
        self.lister, self.concurrency, self.cancel, self.fanout = lister, concurrency, cancel, fanout
        self.pieces: list[Piece] = []
        self.active = 0
        self.cond = threading.Condition()
        self.out: queue.Queue = queue.Queue(maxsize=concurrency * 4)  # back-pressure keeps memory flat
        self.stop = threading.Event()
        self.spans: dict[int, float] = {}  # how many folders one page spans, by the depth of the level
        self.limit = concurrency  # workers allowed to list at once (1 once the guard finds no gain)
        self.serial_rate: float | None = None  # objects/s the serial start listed, when it probed
        self.requests = 0
        self.listed = 0  # keys the workers have listed (the consumer may be a little behind)
        self.window: tuple[float, int, int] | None = None  # (time, listed, requests) when pieces first fanned out

    def run(self, root: Piece, batcher: _Batcher, meter: _Meter) -> Iterator[pa.RecordBatch]:
        self.pieces.append(root)
        threads = [
            threading.Thread(target=self._work, name=f"bucketdesk-walk-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        finished = 0
        try:
            while finished < len(threads):
                _check(self.cancel)
                try:
                    kind, payload = self.out.get(timeout=0.2)
                except queue.Empty:
                    meter.report(self.left(), parallel=True)
                    continue
                if kind == "done":
                    finished += 1
                elif kind == "error":
                    raise payload
                else:
                    self._guard()
                    meter.workers = self.limit
                    yield from batcher.add(payload)
                    meter.count(len(payload), self.left(), parallel=True)
        finally:
            self.stop.set()
            with self.cond:
                self.cond.notify_all()
            for thread in threads:
                thread.join(timeout=30)

    @property
    def order(self) -> _Order:
        return self.lister.order  # known from the first answer, which comes before any split

    def left(self) -> int:
        return len(self.pieces) + self.active

    def learn(self, level: str, page: _Page) -> None:
        """Remember how many folders one page of keys spans at `level` and the levels below it that
        the page reaches into (1 when the folders are big): a split groups folders by it."""
        depth = level.count("/")
        paths = [e["Key"][len(level) :].split("/") for e in page.entries if e["Key"].startswith(level)]
        if len(paths) < 2:
            return
        scale = self.lister.page_size / len(paths)
        for below in range(LEARN_DEPTHS):
            # Keys ending at this depth count as folders of their own: they take a page's room too.
            spanned = {tuple(parts[: below + 1]) for parts in paths}
            self.spans[depth + below] = max(1.0, len(spanned) * scale)
            if all(len(parts) <= below + 2 for parts in paths):
                break

    def _work(self) -> None:
        try:
            while piece := self._next():
                try:
                    if self.lister.versions:
                        self._list_versions(piece)
                    else:
                        self._list(piece)
                finally:
                    with self.cond:
                        self.active -= 1
                        self.cond.notify_all()
        except BaseException as exc:  # handed to the consumer, which raises it and stops the others
            self._put(("error", exc))
        finally:
            self._put(("done", None))

    def _next(self) -> Piece | None:
        with self.cond:
            while (not self.pieces or self.active >= self.limit) and self.active and not self.stop.is_set():
                self.cond.wait(0.5)
            if self.stop.is_set() or not self.pieces:
                self.cond.notify_all()
                return None
            self.active += 1
            return self.pieces.pop()

    def _page(self, prefix: str, cursor: Cursor | None, *, delimiter: bool = False) -> _Page:
        page = self.lister.page(prefix, cursor, delimiter=delimiter)
        with self.cond:
            self.requests += 1  # answered ones: the guard's window counts work done
        return page

    def _guard(self) -> None:
        """Keep listing in parallel only if it pays: from the first split on, the walk must list at
        least GUARD_GAIN times as fast as its serial start (judged once, after enough requests)."""
        if self.serial_rate is None or self.window is None:
            return
        started, listed, requests = self.window
        if self.requests - requests < GUARD_REQUESTS_PER_WORKER * self.concurrency:
            return
        rate = (self.listed - listed) / (time.perf_counter() - started)
        if rate < GUARD_GAIN * self.serial_rate:
            with self.cond:
                self.limit = 1
                self.cond.notify_all()
        self.serial_rate = None

    def _hungry(self) -> bool:
        """Fewer pieces wait than there are workers: splitting now keeps them all busy (splitting
        while they are busy would only cost discovery requests)."""
        return len(self.pieces) < self.limit

    def _push(self, pieces: list[Piece]) -> None:
        if pieces:
            with self.cond:
                if self.window is None:
                    self.window = (time.perf_counter(), self.listed, self.requests)
                self.pieces.extend(reversed(pieces))  # the open-ended last piece is popped first
                self.cond.notify_all()

    def _put(self, message: tuple[str, Any]) -> None:
        if message[0] == "rows":
            with self.cond:
                self.listed += len(message[1])
        while True:
            try:
                self.out.put(message, timeout=0.2)
                return
            except queue.Full:
                # Once the consumer has stopped (an error, a cancel, or it read no further), nobody
                # reads the queue again: waiting here would keep the thread alive for ever.
                if self.stop.is_set():
                    return

    def _list(self, piece: Piece) -> None:
        prefix, after, upto, _ = piece
        page: _Page | None = None
        may_split = False  # a piece lists a page before it splits: that page shows whether it is big
        while not self.stop.is_set():
            _check(self.cancel)
            if may_split and self._hungry():
                split = self._split(Piece(prefix, after, upto))
                if split is None:  # nothing is left for this worker
                    return
                prefix, upto, page = split
                may_split = False
            page = page or self._page(prefix, after)
            entries = [e for e in page.entries if self.order.within(e["Key"], upto)]
            if entries:
                self._put(("rows", entries))
            if not page.truncated or len(entries) < len(page.entries):
                return
            self.learn(prefix, page)
            after, may_split = page.last, page.last is not None
            page = None

    def _split(self, piece: Piece) -> tuple[str, str | None, _Page | None] | None:
        """Hand what is left of `piece` to other workers and keep its first part.

        A delimiter listing names what lies ahead at the piece's level: folders (grouped when small)
        become pieces of their own, and a level of plain keys is cut at keys estimated from their
        density. When only the rest of the folder holding `after` lies ahead, the piece narrows to
        that folder's prefix and splits inside it. Returns this worker's (prefix, upto, next page
        when the discovery request was exactly that page), or None when nothing is left for it."""
        order = self.order
        prefix, after, upto, _ = piece
        for _ in range(MAX_DESCENT):
            _check(self.cancel)
            start = order.discovery_start(after, prefix)
            found = self._page(prefix, start, delimiter=True)
            holder = _folder_of(after, prefix) if after else None
            items = _items(found, order, upto, holder)
            passed = not found.truncated or _passed(found, order, upto)  # nothing in range beyond the page
            if any(is_folder for _, is_folder in items):
                return self._split_at_folders(piece._replace(prefix=prefix, upto=upto), start, holder, found, items)
            if holder is None:
                if not items and passed:
                    return None
                return (prefix, *self._flat_page(prefix, upto, found, passed))
            if items or not passed:
                return prefix, upto, None  # keys of this level follow the holder: list on
            prefix, upto = holder, None  # only the rest of the holder lies ahead: split inside it
        return prefix, upto, None

    def _flat_page(self, prefix: str, upto: str | None, found: _Page, passed: bool) -> tuple[str | None, _Page]:
        """The discovery page of a level with no folder in range, as this piece's next page (it is
        what a flat listing would return); when the level is plain keys, cut what follows it."""
        sample = [e["Key"] for e in found.entries]
        if not passed and not found.prefixes and found.last is not None:
            cuts = _density_cuts(sample, found.last, upto, prefix, self.fanout, self.order)
            if cuts:
                self._push(_ranges(prefix, cuts, upto))
                upto = cuts[0]
        entries = [e for e in found.entries if self.order.within(e["Key"], upto)]
        return upto, _Page(entries, found.last, not passed and len(entries) == len(found.entries))

    def _split_at_folders(
        self, piece: Piece, start: str | None, holder: str | None, found: _Page, items: list[tuple[str, bool]]
    ) -> tuple[str, str | None, _Page | None] | None:
        order, (prefix, after, upto, _) = self.order, piece
        group = max(1, int(self.spans.get(prefix.count("/"), 1.0) * DENSITY_FILL))  # small folders share a piece
        starts = [n for n, (_, is_folder) in enumerate(items) if is_folder][::group]
        # The holder comes before every item: the first piece starts after all of it.
        first = (holder, True) if holder else None
        cuts = [order.cut_before(items[n - 1] if n else first, start) for n in starts]
        passed = not found.truncated or _passed(found, order, upto)
        pieces: list[Piece] = []
        for i, n in enumerate(starts):
            # A folder that is all of its piece is listed by its own prefix: its listing ends
            # without reading into what follows, and its sub-folders split at its own level.
            alone = group == 1 and (items[n + 1][1] if n + 1 < len(items) else passed)
            pieces.append(Piece(items[n][0]) if alone else Piece(prefix, cuts[i], _at(cuts, i + 1, upto)))
        self._push(pieces)
        head = items[: starts[0]]  # keys of this level before the first cut
        if holder is not None and not head:
            return holder, None, None  # exactly the rest of the holder: its own prefix ends there
        if holder is None and start == after:  # the discovery page holds all of the head
            if head:
                keys = {name for name, _ in head}
                self._put(("rows", [e for e in found.entries if e["Key"] in keys]))
            return None
        return prefix, cuts[0], None

    def _list_versions(self, piece: Piece) -> None:
        """Versions: a folder's own versions, its sub-folders handed to other workers.

        Version listings resume only from markers the store returned (moto drops the first version
        after a KeyMarker alone, and mishandles one that is not a key), so they split at folders,
        never at estimated keys. A cursor inside a folder (where the serial start stopped) leaves
        the rest of that folder to a flat listing from it, and the level goes on from the cursor."""
        prefix, cursor, _, flat = piece
        if not flat and cursor:
            holder = _folder_of(cursor[0] if isinstance(cursor, tuple) else cursor, prefix)
            if holder:
                self._push([Piece(holder, cursor, flat=True)])
        else:
            holder = None
        while not self.stop.is_set():
            _check(self.cancel)
            page = self._page(prefix, cursor, delimiter=not flat)
            if page.entries:
                self._put(("rows", page.entries))
            self._push([Piece(folder) for folder in page.prefixes if folder != holder])
            if page.next is None:
                return
            cursor = page.next


def _at(values: list[str], index: int, default: str | None) -> str | None:
    return values[index] if index < len(values) else default


def _items(found: _Page, order: _Order, upto: str | None, holder: str | None) -> list[tuple[str, bool]]:
    """The keys and folders of a delimiter page in the store's order and within `upto`, without the
    folder holding the cursor (its rest belongs to the piece listing it)."""
    named = [(e["Key"], False) for e in found.entries]
    named += [(p, True) for p in found.prefixes if p != holder]
    named.sort(key=lambda item: order.rank(*item))
    return [(name, folder) for name, folder in named if order.item_within(name, folder, upto)]


def _passed(found: _Page, order: _Order, upto: str | None) -> bool:
    """The page reaches past `upto`."""
    return found.last is not None and not order.item_within(found.last, found.last in found.prefixes, upto)


def _ranges(prefix: str, cuts: list[str], upto: str | None) -> list[Piece]:
    return [Piece(prefix, cut, upper) for cut, upper in zip(cuts, [*cuts[1:], upto], strict=True)]


def _folder_of(key: str, prefix: str) -> str | None:
    """The folder directly under `prefix` that holds `key`; None when `key` is a key of that level."""
    name, slash, _ = key[len(prefix) :].partition("/")
    return prefix + name + "/" if slash else None


def _density_cuts(
    sample: list[str], last: str, upto: str | None, prefix: str, fanout: int, order: _Order | None = None
) -> list[str]:
    """Cuts after `last`, spaced so each piece holds about a page if keys keep the density seen.

    Names (the keys without `prefix`) are read as numbers in a mixed radix made of the characters
    seen at each position of the sample (digits stay decimal, hex stays hex), so the spacing follows
    how names actually count. Cuts are plain ASCII without "/", "%" or "+": a cut is sent as
    StartAfter, and some stores (LocalStack) decode those once too often or skip non-ASCII keys
    after one.
    """
    order = order or BYTE_ORDER
    names = sorted(key[len(prefix) :] for key in sample if key.startswith(prefix))
    if len(names) < 2 or names[0] == names[-1] or not last.startswith(prefix):
        return []
    width = max(len(name) for name in names)
    # A position counts through "" (a name ending there) only where a name of the sample ends: else
    # "0001" would count in base 11 and the cuts would not be evenly spaced.
    alphabets = [
        _alphabet({name[i] for name in names if i < len(name)}, any(len(name) <= i for name in names))
        for i in range(width)
    ]
    low, high = _rank(names[0], alphabets), _rank(names[-1], alphabets)
    step = int((high - low) * DENSITY_FILL)
    start = _rank(max(names[-1], last[len(prefix) :]), alphabets)
    cuts: list[str] = []
    for n in range(1, fanout + 1) if step > 0 else ():
        name = _unrank(start + n * step, alphabets)
        cut = None if name is None else prefix + name
        if cut is None or (upto is not None and (cut == upto or not order.within(cut, upto))):
            break
        if cut > last and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return cuts


# What a position of a name can count through, smallest first; the last is every printable ASCII
# character a StartAfter carries safely everywhere (see _density_cuts).
_CLASSES = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.digits + string.ascii_lowercase,
    string.digits + string.ascii_uppercase,
    string.digits + string.ascii_letters,
    "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "/%+"),
)


def _alphabet(seen: set[str], ends: bool = True) -> list[str]:
    """The characters a position can count through: the smallest class holding what was seen there
    (so "0000123" counts in decimal), else the widest (other characters rank as the nearest one
    below them); "" first when a name may end there."""
    chars = next((c for c in _CLASSES if seen <= set(c)), _CLASSES[-1])
    return ["", *sorted(chars)] if ends else sorted(chars)


def _rank(key: str, alphabets: list[list[str]]) -> int:
    number = 0
    for i, alphabet in enumerate(alphabets):
        char = key[i] if i < len(key) else ""
        number = number * len(alphabet) + max(0, bisect.bisect_right(alphabet, char) - 1)
    return number


def _unrank(number: int, alphabets: list[list[str]]) -> str | None:
    """The key with this rank (characters seen in the sample only); None past the sample's range."""
    chars: list[str] = []
    for alphabet in reversed(alphabets):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    if number:
        return None
    return "".join(reversed(chars))


class _Batcher:
    """S3 entries -> Arrow, accumulated into batches of about `rows` rows."""

    def __init__(self, bucket: str, versions: bool, rows: int):
        self.bucket, self.versions, self.rows = bucket, versions, rows
        self.pending: list[pa.RecordBatch] = []
        self.count = 0

    def add(self, entries: list[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
        if entries:
            self.pending.append(entries_to_batch(self.bucket, entries, versions=self.versions))
            self.count += len(entries)
        if self.count >= self.rows:
            yield from self.flush()

    def flush(self) -> Iterator[pa.RecordBatch]:
        if self.pending:
            batch = pa.concat_batches(self.pending)
            self.pending, self.count = [], 0
            yield batch


def entries_to_batch(bucket: str, entries: list[dict[str, Any]], *, versions: bool) -> pa.RecordBatch:
    """ListObjectsV2 `Contents` or ListObjectVersions entries as one batch in SCHEMA."""
    e_tags = [(e.get("ETag") or "").strip('"') or None for e in entries]
    columns = {
        "bucket": [bucket] * len(entries),
        "key": [e["Key"] for e in entries],
        "version_id": [_version(e.get("VersionId")) for e in entries] if versions else [None] * len(entries),
        "is_latest": [bool(e.get("IsLatest", True)) for e in entries],
        "is_delete_marker": [bool(e.get("IsDeleteMarker")) for e in entries],
        "size": [None if e.get("IsDeleteMarker") else e.get("Size") for e in entries],
        "last_modified_date": [e.get("LastModified") for e in entries],
        "e_tag": e_tags,
        "storage_class": [None if e.get("IsDeleteMarker") else e.get("StorageClass", "STANDARD") for e in entries],
        "is_multipart_uploaded": [None if tag is None else "-" in tag for tag in e_tags],
        "checksum_algorithm": [",".join(e.get("ChecksumAlgorithm") or []) or None for e in entries],
    }
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def _version(value: str | None) -> str | None:
    return None if value in (None, "null") else value


class _Meter:
    """Counts objects and reports progress at most twice a second (and at the end)."""

    def __init__(self, callback: Callable[[WalkProgress], None] | None):
        self.callback = callback
        self.started = time.perf_counter()
        self.objects = 0
        self.reported = 0.0
        self.probes: list[float] = []
        self.workers = 1

    def count(self, objects: int, left: int, *, parallel: bool) -> None:
        self.objects += objects
        self.report(left, parallel=parallel)

    def report(self, left: int, *, parallel: bool, force: bool = False) -> None:
        now = time.perf_counter()
        if self.callback is None or (not force and now - self.reported < 0.5):
            return
        self.reported = now
        elapsed = now - self.started
        rate = self.objects / elapsed if elapsed else 0.0
        workers = self.workers if parallel else 1
        self.callback(WalkProgress(self.objects, rate, left, elapsed, parallel, tuple(self.probes), workers))


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise BuildCancelled("The listing was cancelled before it finished.")


_wide_clients: dict[tuple, Any] = {}
_wide_lock = threading.Lock()


def _listing_client(gateway: S3Gateway, concurrency: int):
    """The gateway's client, or (cached) one with a connection per worker when it has too few."""
    client = gateway.client
    pool = getattr(getattr(getattr(client, "meta", None), "config", None), "max_pool_connections", None)
    if not isinstance(pool, int) or pool >= concurrency:
        return client
    with _wide_lock:
        key = (gateway.profile, concurrency)
        if key not in _wide_clients:
            _wide_clients[key] = make_client(
                gateway.profile, gateway.profile.endpoint_url, max_pool_connections=concurrency
            )
        return _wide_clients[key]
