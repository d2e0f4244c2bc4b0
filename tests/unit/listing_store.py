"""An in-memory ListObjectsV2 with either S3's ordering or SeaweedFS's, for walk tests.

S3 (and moto, LocalStack, MinIO, Ceph) lists keys in UTF-8 byte order and `StartAfter` means "keys
greater than this string". SeaweedFS keeps keys as a directory tree and lists it depth first, each
directory's entries by name, so "a/b" comes before "a b" and "a-b"; its `StartAfter` is a path in
that tree, and a path naming a directory means "after that whole directory" (StartAfter "a/c" skips
"a/c/d"). With a delimiter, a StartAfter ending in "/" also skips that directory. Both models are
written from the stores' observed answers (and SeaweedFS's s3api_object_handlers_list.go), so a walk
that is exact here is exact there.
"""

from __future__ import annotations

import bisect
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def tree_parts(key: str) -> list[str]:
    return key.split("/")


class ListingStore:
    """`list_objects_v2` over `keys` in `order` ("s3" or "seaweedfs"), counting requests.

    `delay` seconds per request: requests overlap (as on S3), or with `serialises` wait for each
    other (as on a one-process server); `server` is the Server header."""

    def __init__(
        self, keys, order: str = "s3", *, delay: float = 0.0, server: str | None = None, serialises: bool = False
    ):
        if order not in {"s3", "seaweedfs"}:
            raise ValueError(order)
        self.order, self.delay = order, delay
        self.server = server if server is not None else ("SeaweedFS 4.48" if order == "seaweedfs" else "AmazonS3")
        self.sort_key = tree_parts if order == "seaweedfs" else (lambda key: key)
        self.keys = sorted(set(keys), key=self.sort_key)
        self.ranks = [self.sort_key(k) for k in self.keys]
        self.requests: list[dict[str, Any]] = []
        self.concurrent: list[int] = []  # requests in flight as each one started
        self.in_flight = 0
        self.serialises = serialises
        self.lock = threading.Lock()
        self.server_lock = threading.Lock()
        self.meta = SimpleNamespace(config=SimpleNamespace(max_pool_connections=64))

    # --- the request -------------------------------------------------------------------

    def list_objects_v2(self, **params):
        with self.lock:
            self.requests.append(params)
            self.in_flight += 1
            self.concurrent.append(self.in_flight)
        if self.serialises:
            with self.server_lock:
                time.sleep(self.delay)
        elif self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
        limit = params.get("MaxKeys", 1000)
        marker = params.get("ContinuationToken", params.get("StartAfter", ""))
        contents: list[str] = []
        prefixes: list[str] = []
        last = None
        truncated = False
        token = "ContinuationToken" in params
        for key in self._after(marker, prefix, delimiter, token):
            rolled = self._rolled(key, prefix, delimiter, marker)
            if rolled is not None and prefixes and prefixes[-1] == rolled:
                continue
            if len(contents) + len(prefixes) == limit:
                truncated = True
                break
            if rolled is not None:
                prefixes.append(rolled)
                last = rolled
            else:
                contents.append(key)
                last = key
        response: dict[str, Any] = {
            "IsTruncated": truncated,
            "KeyCount": len(contents) + len(prefixes),
            "MaxKeys": limit,
            "Prefix": prefix,
            "ResponseMetadata": {"HTTPHeaders": {"server": self.server}},
        }
        if contents:
            response["Contents"] = [
                {"Key": k, "Size": len(k), "LastModified": NOW, "ETag": '"e"', "StorageClass": "STANDARD"}
                for k in contents
            ]
        if prefixes:
            response["CommonPrefixes"] = [{"Prefix": p} for p in sorted(prefixes, key=self.sort_key)]
        if truncated:
            response["NextContinuationToken"] = last
        return response

    def _after(self, marker: str, prefix: str, delimiter: str, token: bool):
        """Keys under `prefix` after `marker`, in this store's order and with its StartAfter semantics."""
        skip = None
        if not marker:
            start = 0
        elif self.order == "s3":
            start = bisect.bisect_right(self.keys, marker)
            if token and delimiter and marker.endswith(delimiter):  # a token after a common prefix: after all of it
                skip = marker
        elif not marker.startswith(prefix):  # SeaweedFS: a marker before the prefix lists all of it
            start = 0 if marker < prefix else len(self.keys)
        else:
            # After a path: after that entry and, when it names a directory, all of the directory; with
            # a delimiter, a path ending in "/" skips its directory too (a common prefix already returned).
            skip = marker if delimiter and marker.endswith("/") and marker != prefix else marker + "/"
            start = bisect.bisect_right(self.ranks, tree_parts(marker))
        # Keys under a prefix are one run in either order.
        start = max(start, bisect.bisect_left(self.ranks, self.sort_key(prefix)))
        for key in self.keys[start:]:
            if not key.startswith(prefix):
                return
            if skip is None or not key.startswith(skip):
                yield key

    def _rolled(self, key: str, prefix: str, delimiter: str, marker: str) -> str | None:
        """The common prefix `key` rolls up into, or None. SeaweedFS, continuing inside a folder
        of `prefix`, rolls that folder's keys up at the folder's own level (a bug the walk avoids)."""
        if not delimiter:
            return None
        level = prefix
        if self.order == "seaweedfs" and marker.startswith(prefix) and delimiter in marker[len(prefix) :]:
            inner = marker[: marker.rindex(delimiter) + 1]
            if key.startswith(inner):
                level = inner
        head, sep, _ = key[len(level) :].partition(delimiter)
        return level + head + sep if sep else None

    # --- what tests ask --------------------------------------------------------------

    def count(self, **match) -> int:
        """Requests made whose parameters include `match`."""
        return sum(all(r.get(k) == v for k, v in match.items()) for r in self.requests)
