"""Walk a bucket (or a prefix) with many listing requests at once, as Arrow record batches in SCHEMA.

Why not always split: what a listing request costs differs by store. On S3 a request costs a round
trip wherever it starts, so sixteen requests in flight list about sixteen times as fast. moto's
server (the sandbox) scans and sorts the whole bucket for every request, under one interpreter
lock, so parallel requests queue and every extra request (a split, a partial last page) is pure
cost. So the walk starts exactly like boto3's serial paginator and only goes parallel when a probe
shows the store overlaps requests:

1. Serial: flat pages (no delimiter) of the prefix. A listing that ends within PROBE_AFTER_PAGES
   pages, or any listing of a store known to serialise (moto, by its Server header), is done with
   exactly the paginator's requests.
2. Probe: the next page is fetched while one discovery request (a delimiter listing) runs beside
   it. If that page took about as long as the pages before it, the store overlaps requests
   (round-trip bound) and the rest is listed in parallel; if it took much longer, the store
   serialises them and the walk stays serial (one extra request in all).
3. Parallel: the rest of the key space is a stack of pieces `(prefix, cursor, upto]`, each walked
   flat by a worker. A piece whose page comes back truncated splits what is left of it: at the
   common prefixes ("folders", delimiter `/`) a discovery request names, or, inside a flat folder,
   at key boundaries estimated from the page's own key density. The worker keeps the first part;
   the others go on the stack. Fan-out per split is bounded, so a folder of many tiny folders
   costs a few requests per split, not one per folder.

Pieces partition the key space by `(after, upto]` bounds, so every key is listed exactly once
whatever the bounds are; the bounds only decide how evenly the work spreads.
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
from typing import Any

import pyarrow as pa

from lib.errors import BuildCancelled
from lib.inventory.schema import SCHEMA
from lib.s3 import S3Gateway, list_objects_v2, make_client, storage_errors

PAGE_SIZE = 1000  # S3's largest page
BATCH_ROWS = 50_000  # rows per yielded batch: ~10 MB of Arrow, a good Parquet row group
PROBE_AFTER_PAGES = 4  # serial pages before the probe: small listings never pay for one
# Parallel pays when the probed page took less than this many times a page alone: with a request
# costing L (overlappable round trip) + S (work the server serialises), the probed page costs
# ~L + 2S, so the ratio r bounds the speed-up at 1 / (r - 1); 1.6 means at least ~1.7x.
OVERLAP_RATIO = 1.6
FANOUT_PER_WORKER = 2  # pieces one split may create, per worker
DENSITY_FILL = 0.9  # estimated pieces hold 90 % of a page, so most finish in one request
MAX_DESCENT = 16  # folders a split may step down through looking for a level with siblings

Cursor = Any  # objects: the last key (StartAfter); versions: (key marker, version-id marker)


@dataclass(frozen=True)
class WalkProgress:
    objects: int
    objects_per_second: float
    prefixes_left: int  # pieces of the key space waiting or being listed
    elapsed_seconds: float
    parallel: bool


@dataclass
class _Page:
    entries: list[dict[str, Any]]  # S3's own dicts; delete markers carry IsDeleteMarker=True
    first_key: str | None
    last_key: str | None
    next: Cursor | None  # None: nothing follows
    prefixes: list[str] = field(default_factory=list)


class _Lister:
    """One listing request of either kind, in one shape."""

    def __init__(self, client, bucket: str, versions: bool, page_size: int):
        self.client, self.bucket, self.versions, self.page_size = client, bucket, versions, page_size
        self.server: str | None = None  # the first response's Server header

    @property
    def serialises(self) -> bool:
        """True for moto (the sandbox), which answers listings one at a time by scanning the whole
        bucket: a probe there would only cost a request. moto signs its responses "amazon.com";
        S3 says "AmazonS3", LocalStack "TwistedWeb", MinIO "MinIO"."""
        return "amazon.com" in (self.server or "").lower()

    def page(self, prefix: str, cursor: Cursor | None, *, delimiter: bool = False) -> _Page:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": self.page_size}
        if delimiter:
            params["Delimiter"] = "/"
        where = f"/{prefix}" if prefix else "the whole bucket"
        if self.versions:
            if cursor:
                # A plain key starts after all versions of that key; markers resume mid-key.
                key_marker, version_marker = (cursor, None) if isinstance(cursor, str) else cursor
                params["KeyMarker"] = key_marker
                if version_marker:
                    params["VersionIdMarker"] = version_marker
            with storage_errors(f"listing the versions in {where} of bucket {self.bucket}"):
                response = self.client.list_object_versions(**params)
            entries = [dict(v, IsDeleteMarker=False) for v in response.get("Versions", [])]
            entries += [dict(m, IsDeleteMarker=True) for m in response.get("DeleteMarkers", [])]
            truncated = response.get("IsTruncated")
            following = (response.get("NextKeyMarker"), response.get("NextVersionIdMarker")) if truncated else None
        else:
            if cursor:
                params["StartAfter"] = cursor
            # The lean path: botocore's own parser would cost more CPU per page than the round trip.
            response = list_objects_v2(self.client, params, f"listing {where} of bucket {self.bucket}")
            entries = response.get("Contents", [])
            following = None
        if self.server is None:
            self.server = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("server", "")
        prefixes = [p["Prefix"] for p in response.get("CommonPrefixes", [])]
        keys = [e["Key"] for e in entries]
        names = keys + prefixes
        last = max(names) if names else None
        if not self.versions and response.get("IsTruncated"):
            following = last
        return _Page(entries, min(keys) if keys else None, last, following, prefixes)


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
    # Versions go parallel only when asked: they split at folders from the start (see _list_folders).
    probing = split == "auto" and concurrency > 1 and not versions
    times: list[float] = []
    while not parallel:
        _check(cancel)
        if probing and len(times) == PROBE_AFTER_PAGES:
            page, parallel = _probe(lister, prefix, cursor, times)
            probing = False  # once: a store's nature does not change within a walk
        else:
            started = time.perf_counter()
            page = lister.page(prefix, cursor)
            times.append(time.perf_counter() - started)
        probing = probing and not lister.serialises
        yield from batcher.add(page.entries)
        meter.count(len(page.entries), 1 if page.next else 0, parallel=False)
        if page.next is None:
            yield from batcher.flush()
            meter.report(0, parallel=False, force=True)
            return
        cursor = page.next
    walker = _Walker(lister, concurrency, cancel, FANOUT_PER_WORKER * concurrency)
    yield from walker.run((prefix, cursor, None), batcher, meter)
    yield from batcher.flush()
    meter.report(0, parallel=True, force=True)


def _probe(lister: _Lister, prefix: str, cursor: Cursor, times: list[float]) -> tuple[_Page, bool]:
    """Fetch the next page twice at once; True when the store overlapped the two.

    The twin is the same request (the same cost to the server): a cheaper probe, such as a
    delimiter listing, would pass on a store whose cost is building pages of keys."""
    alone = statistics.median(times[1:] or times)  # the first page also paid for the connection
    beside = threading.Thread(target=_quietly, args=(lister, prefix, cursor), daemon=True)
    beside.start()
    started = time.perf_counter()
    page = lister.page(prefix, cursor)
    together = time.perf_counter() - started
    beside.join()
    return page, together < OVERLAP_RATIO * alone


def _quietly(lister: _Lister, prefix: str, cursor: Cursor) -> None:
    try:
        lister.page(prefix, cursor)
    except Exception:  # only a timing probe: the walk itself reports failures
        pass


Piece = tuple[str, Cursor | None, str | None]  # (listing prefix, cursor, upto: last key included)


class _Walker:
    """A stack of pieces and the workers that list them (newest first keeps the frontier moving)."""

    def __init__(self, lister: _Lister, concurrency: int, cancel: threading.Event | None, fanout: int):
        self.lister, self.concurrency, self.cancel, self.fanout = lister, concurrency, cancel, fanout
        self.pieces: list[Piece] = []
        self.active = 0
        self.cond = threading.Condition()
        self.out: queue.Queue = queue.Queue(maxsize=concurrency * 4)  # back-pressure keeps memory flat
        self.stop = threading.Event()

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
                    yield from batcher.add(payload)
                    meter.count(len(payload), self.left(), parallel=True)
        finally:
            self.stop.set()
            with self.cond:
                self.cond.notify_all()
            for thread in threads:
                thread.join(timeout=30)

    def left(self) -> int:
        return len(self.pieces) + self.active

    def _work(self) -> None:
        try:
            while piece := self._next():
                try:
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
            while not self.pieces and self.active and not self.stop.is_set():
                self.cond.wait(0.5)
            if self.stop.is_set() or not self.pieces:
                self.cond.notify_all()
                return None
            self.active += 1
            return self.pieces.pop()

    def _put(self, message: tuple[str, Any]) -> None:
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
        if self.lister.versions:
            self._list_folders(piece)
            return
        prefix, cursor, upto = piece
        page: _Page | None = None
        while not self.stop.is_set():
            _check(self.cancel)
            page = page or self.lister.page(prefix, cursor)
            entries = page.entries if upto is None else [e for e in page.entries if e["Key"] <= upto]
            if entries:
                self._put(("rows", entries))
            if page.next is None or (upto is not None and page.last_key is not None and page.last_key > upto):
                return
            cursor = page.next
            upto, page = self._split(prefix, page.last_key or "", upto, _folders_per_page(page, prefix))
            if page is not None:
                cursor = page.next

    def _list_folders(self, piece: Piece) -> None:
        """Versions: a folder's own versions, its sub-folders handed to other workers.

        Version listings resume only from markers S3 returned (moto mishandles a KeyMarker that is
        not a key), so they split at folders, never at estimated keys."""
        prefix, cursor, _ = piece
        while not self.stop.is_set():
            _check(self.cancel)
            page = self.lister.page(prefix, cursor, delimiter=True)
            if page.entries:
                self._put(("rows", page.entries))
            if page.prefixes:
                with self.cond:
                    self.pieces.extend((folder, None, None) for folder in page.prefixes)
                    self.cond.notify_all()
            if page.next is None:
                return
            cursor = page.next

    def _split(
        self, prefix: str, last: str, upto: str | None, folders_per_page: float = 1.0
    ) -> tuple[str | None, _Page | None]:
        """Hand what lies after `last` (up to `upto`) to other workers.

        Returns this worker's new upto, and the discovery page when it is simply this piece's next
        page (a flat folder, plain objects), so that request is not repeated."""
        bounds, inner, found = self._bounds(prefix, last, upto, folders_per_page)
        if bounds:
            pieces = list(zip([inner] * len(bounds), bounds, [*bounds[1:], upto], strict=True))
            with self.cond:
                self.pieces.extend(pieces)  # the open-ended last piece is popped first and splits again
                self.cond.notify_all()
            upto = bounds[0]
        flat = (
            found is not None
            and not found.prefixes
            and not self.lister.versions
            and inner == prefix
            and _folder_of(last, prefix) is None
        )
        return upto, found if flat else None

    def _bounds(
        self, prefix: str, last: str, upto: str | None, folders_per_page: float = 1.0
    ) -> tuple[list[str], str, _Page | None]:
        """Keys in (last, upto) to cut at (increasing), the prefix the new pieces list under, and
        the discovery page at `prefix` (None when the split stepped into a folder)."""
        top: _Page | None = None
        for _ in range(MAX_DESCENT):
            _check(self.cancel)
            found = self.lister.page(prefix, last, delimiter=True)
            top = top or found
            folders = [p for p in found.prefixes if upto is None or p <= upto]
            # A folder's name without its "/" sorts before all its keys: a cut there keeps it whole.
            cuts = sorted({p[:-1] for p in folders if last < p[:-1] and (upto is None or p[:-1] < upto)})
            if cuts:
                # Small folders are grouped so a piece still holds about a page: a request per
                # tiny folder would cost more than the parallelism gains.
                group = max(1, int(folders_per_page * DENSITY_FILL))
                return cuts[group - 1 :: group][: self.fanout], prefix, top
            folder = _folder_of(last, prefix)
            if folder is None:  # `last` is a key of this level: the discovery page is its next page
                if folders:
                    return [], prefix, top
                sample = [e["Key"] for e in found.entries]
                return _density_cuts(sample, last, upto, prefix, self.fanout), prefix, top
            # Only the folder holding `last` lies ahead (stores differ on whether they name it):
            # step into it when nothing else at this level is in range.
            within = [e for e in found.entries if upto is None or e["Key"] <= upto]
            passed = found.next is None or (upto is not None and (found.last_key or "") > upto)
            if within or not passed:
                return [], prefix, top
            prefix = folder
        return [], prefix, top


def _folders_per_page(page: _Page, prefix: str) -> float:
    """How many folders of this level one page of keys spans (1 when they are big)."""
    folders = {_folder_of(entry["Key"], prefix) for entry in page.entries}
    return max(1.0, float(len(folders)))


def _folder_of(key: str, prefix: str) -> str | None:
    """The folder directly under `prefix` that holds `key`; None when `key` is a key of that level."""
    name, slash, _ = key[len(prefix) :].partition("/")
    return prefix + name + "/" if slash else None


def _density_cuts(sample: list[str], last: str, upto: str | None, prefix: str, fanout: int) -> list[str]:
    """Cuts after `last`, spaced so each piece holds about a page if keys keep the density seen.

    Keys are read as numbers in a mixed radix made of the characters seen at each position of the
    sample (digits stay decimal, hex stays hex), so the spacing follows how names actually count.
    """
    sample = sorted(sample)
    if len(sample) < 2 or sample[0] == sample[-1]:
        return []
    width = max(len(key) for key in sample)
    alphabets = [_alphabet({key[i] for key in sample if i < len(key)}) for i in range(width)]
    low, high = _rank(sample[0], alphabets), _rank(sample[-1], alphabets)
    step = int((high - low) * DENSITY_FILL)
    start = _rank(max(sample[-1], last), alphabets)
    cuts: list[str] = []
    for n in range(1, fanout + 1) if step > 0 else ():
        cut = _unrank(start + n * step, alphabets)
        if cut is None or not cut.startswith(prefix) or (upto is not None and cut >= upto):
            break
        if cut > last and (not cuts or cut > cuts[-1]):
            cuts.append(cut)
    return cuts


_CLASSES = (
    string.digits,
    string.digits + "abcdef",
    string.digits + "ABCDEF",
    string.digits + string.ascii_lowercase,
    string.digits + string.ascii_uppercase,
    string.digits + string.ascii_letters,
    "".join(chr(c) for c in range(0x20, 0x7F)),
)


def _alphabet(seen: set[str]) -> list[str]:
    """The characters a position can count through: the smallest class holding what was seen there
    (so "0000123" counts in decimal), or what was seen when that is not ASCII."""
    for chars in _CLASSES:
        if seen <= set(chars):
            return ["", *sorted(chars)]
    return ["", *sorted(seen | set(_CLASSES[-1]))]


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

    def count(self, objects: int, left: int, *, parallel: bool) -> None:
        self.objects += objects
        self.report(left, parallel=parallel)

    def report(self, left: int, *, parallel: bool, force: bool = False) -> None:
        now = time.perf_counter()
        if self.callback is None or (not force and now - self.reported < 0.5):
            return
        self.reported = now
        elapsed = now - self.started
        self.callback(WalkProgress(self.objects, self.objects / elapsed if elapsed else 0.0, left, elapsed, parallel))


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
