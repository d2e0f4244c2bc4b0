"""Listings as pandas DataFrames, one page at a time, and where the reader is in them.

Why any page costs what the first page costs
--------------------------------------------
S3 keeps a bucket's keys sorted (by their UTF-8 bytes) in an index split by key range. A
ListObjectsV2 request names where to begin, a continuation token (an opaque encoding of the last
key returned) or `StartAfter` (any key), and S3 seeks there and reads at most `MaxKeys` entries.
The request costs O(page), wherever in the prefix it starts. What makes deep pages slow in other
browsers is the client: it loads the whole prefix before showing anything (to count or sort it),
or it re-walks from the first page to reach page N. bucketdesk does neither:

1. `Pager` keeps the token of every page the reader came through. *Next* is one request with the
   newest token; *Previous* is one request with the stored token of the page before. S3 cannot
   list backwards, and with the stack it never has to.
2. *Start after* jumps with `StartAfter`: the page after any name is one request, without visiting
   the pages before it (`bench/browse_bench.py` measures it against the first page).
3. Nothing asks for a total: a count is a walk of the whole prefix. Pages say "more", not "of N".
4. The search box is a prefix (S3's own seek); filters and sorting (lib.browse.filters) work on
   the page in hand.
5. The page caches each (query, token) briefly, so going back and forth costs no request at all.

Folders are S3's common prefixes for the delimiter `/`. S3 interleaves them with objects in key
order (each counts toward `MaxKeys`); a page shows its folders first. bucketdesk's own
`.bucketdesk/` prefix (thumbnails) is left out of listings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from lib import mime
from lib.s3 import S3Gateway

PAGE_SIZES = (100, 250, 1000)  # S3 returns at most 1,000 keys per request
DELIMITER = "/"
HIDDEN_PREFIX = ".bucketdesk/"
COLUMNS = ["key", "name", "is_folder", "size", "modified", "storage_class", "etag", "content_type", "kind"]


def guess_type(name: str) -> str:
    """The MIME type a name suggests. A listing has no Content-Type (only HEAD does), so names decide."""
    return mime.guess_type(name) or "application/octet-stream"


kind_of = mime.kind_of


@dataclass(frozen=True)
class ListingQuery:
    """What the reader asked to see. Any change starts the listing over at its first page."""

    prefix: str = ""  # the folder: "" for the top, else ending in "/"
    search: str = ""  # typed name start, searched by S3 itself (Prefix = prefix + search)
    page_size: int = 100
    flat: bool = False  # every key under the folder, without folders
    start_after: str = ""  # a name in this folder; page 1 begins just after it

    @property
    def s3_prefix(self) -> str:
        return self.prefix + self.search

    @property
    def s3_start_after(self) -> str | None:
        return self.prefix + self.start_after if self.start_after else None


@dataclass
class ListingPage:
    query: ListingQuery
    token: str | None  # the token this page was read with (None: the first page)
    frame: pd.DataFrame  # COLUMNS; folders first, then objects, each in key order
    next_token: str | None
    seconds: float = 0.0
    hidden: int = 0  # entries left out (bucketdesk's own .bucketdesk/ prefix, the folder's marker)

    @property
    def has_next(self) -> bool:
        return bool(self.next_token)

    @property
    def folders(self) -> int:
        return int(self.frame["is_folder"].sum())

    @property
    def objects(self) -> int:
        return len(self.frame) - self.folders

    @property
    def empty(self) -> bool:
        return self.frame.empty


def list_page(gateway: S3Gateway, query: ListingQuery, token: str | None = None) -> ListingPage:
    """One page of `query` (at `token`, or its first page): one ListObjectsV2 request, never more."""
    if query.page_size not in PAGE_SIZES:
        raise ValueError(f"page_size must be one of {PAGE_SIZES}")
    started = time.perf_counter()
    response = gateway.list_page(
        query.s3_prefix,
        delimiter=None if query.flat else DELIMITER,
        max_keys=query.page_size,
        token=token,
        start_after=None if token else query.s3_start_after,
    )
    seconds = time.perf_counter() - started
    frame, hidden = page_frame(response, query.prefix)
    next_token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
    return ListingPage(query=query, token=token, frame=frame, next_token=next_token, seconds=seconds, hidden=hidden)


def page_frame(response: dict[str, Any], prefix: str) -> tuple[pd.DataFrame, int]:
    """A ListObjectsV2 response as rows: folders first, then objects; `name` is relative to `prefix`."""
    folders: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    hidden = 0
    for entry in response.get("CommonPrefixes", []) or []:
        key = entry["Prefix"]
        if _hidden(key, prefix):
            hidden += 1
            continue
        folders.append(
            {
                "key": key,
                "name": key[len(prefix) :],
                "is_folder": True,
                "size": pd.NA,
                "modified": pd.NaT,
                "storage_class": "",
                "etag": "",
                "content_type": "",
                "kind": "folder",
            }
        )
    for entry in response.get("Contents", []) or []:
        key = entry["Key"]
        # The folder's own marker object ("photos/" in "photos/") is the folder, not something in it.
        if key == prefix or _hidden(key, prefix):
            hidden += 1
            continue
        content_type = guess_type(key)
        objects.append(
            {
                "key": key,
                "name": key[len(prefix) :],
                "is_folder": False,
                "size": entry.get("Size", 0),
                "modified": entry.get("LastModified"),
                # Some S3-compatible stores leave it out; AWS says STANDARD.
                "storage_class": entry.get("StorageClass") or "STANDARD",
                "etag": str(entry.get("ETag", "")).strip('"'),
                "content_type": content_type,
                "kind": kind_of(content_type),
            }
        )
    frame = pd.DataFrame(folders + objects, columns=COLUMNS)
    frame["size"] = frame["size"].astype("Int64")
    frame["modified"] = pd.to_datetime(frame["modified"], utc=True)
    frame["is_folder"] = frame["is_folder"].astype(bool)
    return frame, hidden


def _hidden(key: str, prefix: str) -> bool:
    """bucketdesk's own objects stay out of sight unless the reader opened that folder on purpose."""
    return key.startswith(HIDDEN_PREFIX) and not prefix.startswith(HIDDEN_PREFIX)


@dataclass
class Pager:
    """Where the reader is in one listing: the token of every page they came through.

    `tokens[i]` opens page i+1 (None for the first). Keep one in session state; `for_query`
    hands back a fresh pager when the query changed, so a stale token never meets a new prefix.
    """

    query: ListingQuery = field(default_factory=ListingQuery)
    tokens: list[str | None] = field(default_factory=lambda: [None])

    @property
    def page_number(self) -> int:
        return len(self.tokens)

    @property
    def token(self) -> str | None:
        return self.tokens[-1]

    @property
    def has_previous(self) -> bool:
        return len(self.tokens) > 1

    def for_query(self, query: ListingQuery) -> Pager:
        return self if query == self.query else Pager(query)

    def next(self, next_token: str | None) -> None:
        if next_token and next_token != self.token:
            self.tokens.append(next_token)

    def previous(self) -> None:
        if self.has_previous:
            self.tokens.pop()

    def first(self) -> None:
        del self.tokens[1:]

    def jump(self, name: str) -> Pager:
        """A pager whose first page begins after `name` (StartAfter): one request, however deep."""
        return Pager(replace(self.query, start_after=name))


def breadcrumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) for the top and each folder down to `prefix`; an empty segment is labelled."""
    crumbs = [("", "")]
    parts = prefix.split(DELIMITER)[:-1] if prefix else []
    for depth, part in enumerate(parts):
        crumbs.append((part or "(empty name)", DELIMITER.join(parts[: depth + 1]) + DELIMITER))
    return crumbs


def parent(prefix: str) -> str:
    """The folder above `prefix` ("" at the top)."""
    if not prefix:
        return ""
    head = prefix[:-1] if prefix.endswith(DELIMITER) else prefix
    cut = head.rfind(DELIMITER)
    return head[: cut + 1] if cut >= 0 else ""


def as_folder(text: str) -> str:
    """A typed or linked folder path in the form listings use: no leading "/", one trailing "/"."""
    text = text.lstrip(DELIMITER)
    return text if not text or text.endswith(DELIMITER) else text + DELIMITER
