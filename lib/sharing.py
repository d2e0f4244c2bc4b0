"""Signed GET links: share links with an expiry the person picks, and the table's row links.

A presigned URL is a capability: whoever holds it reads the object until it expires, with no way
to revoke it short of rotating the signing key. So the expiry is explicit, SigV4's 7-day maximum is
said out loud instead of silently clamped, and active content (HTML, SVG, JavaScript) is always
served as a download so it never runs on the bucket's origin.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lib.config import MAX_SIGNATURE_SECONDS
from lib.errors import BucketdeskError
from lib.names import content_disposition
from lib.s3 import S3Gateway

MIN_LINK_SECONDS = 5 * 60
MAX_LINK_SECONDS = MAX_SIGNATURE_SECONDS  # 7 days: S3 refuses SigV4 links valid for longer
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
# Links in the Browse table: signed for an hour, reused for half of it so reruns keep the same URL.
ROW_LINK_SECONDS = 3600
_ROW_LINK_REUSE = ROW_LINK_SECONDS / 2
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/xml",
    "text/xml",
}


class LinkExpiryError(BucketdeskError):
    """The asked-for expiry is outside what S3 signs."""


@dataclass(frozen=True)
class ShareLink:
    url: str
    seconds: int
    expires_at: datetime
    download: bool
    note: str = ""  # e.g. why an inline link became a download


def expiry_seconds(amount: float, unit: str) -> int:
    """Seconds for "amount unit"; LinkExpiryError with the limits when outside 5 minutes .. 7 days."""
    if unit not in UNITS:
        raise LinkExpiryError(f"Unknown unit {unit!r}; use minutes, hours or days.")
    seconds = int(round(float(amount) * UNITS[unit]))
    if seconds > MAX_LINK_SECONDS:
        raise LinkExpiryError(
            f"S3 signs links for at most 7 days; {amount:g} {unit} is longer.",
            "Pick 7 days or less. For longer sharing, copy the object somewhere public or send a new link later.",
        )
    if seconds < MIN_LINK_SECONDS:
        raise LinkExpiryError("A share link lasts at least 5 minutes.", "Pick 5 minutes or more.")
    return seconds


def describe(seconds: int) -> str:
    """'5 minutes', '2 hours', '7 days', '1 day 6 hours'."""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "under a minute"


def share_link(
    gateway: S3Gateway,
    key: str,
    seconds: int,
    *,
    download: bool,
    name: str,
    content_type: str = "",
    now: datetime | None = None,
) -> ShareLink:
    """A signed GET link to `key` for `seconds`: inline, or a download saved as `name`."""
    if not MIN_LINK_SECONDS <= seconds <= MAX_LINK_SECONDS:
        raise LinkExpiryError(f"Links last from 5 minutes to 7 days; {describe(seconds)} is outside that.")
    note = ""
    if not download and content_type.split(";")[0].strip().lower() in ACTIVE_TYPES:
        download = True
        note = f"{content_type} could run code in the browser, so this link always downloads."
    disposition = content_disposition(name, "attachment" if download else "inline")
    url = gateway.presign_get(key, seconds, disposition=disposition)
    issued = now or datetime.now(UTC)
    return ShareLink(
        url=url, seconds=seconds, expires_at=issued + timedelta(seconds=seconds), download=download, note=note
    )


class RowLinks:
    """Signed links for the rows a page shows, reused while they have half their life left.

    Presigning is local (no request), but a fresh URL on every rerun would defeat the browser's
    cache and make the table flicker; reuse keeps a row's link stable for half an hour.
    """

    def __init__(self, gateway: S3Gateway, limit: int = 50_000):
        self.gateway = gateway
        self.limit = limit
        self._links: dict[tuple[str, str | None], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, disposition: str | None = None) -> str:
        now = time.time()
        slot = (key, disposition)
        with self._lock:
            cached = self._links.get(slot)
        if cached and now - cached[1] < _ROW_LINK_REUSE:
            return cached[0]
        url = self.gateway.presign_get(key, ROW_LINK_SECONDS, disposition=disposition)
        with self._lock:
            if len(self._links) >= self.limit:
                self._links.clear()
            self._links[slot] = (url, now)
        return url

    def forget(self, key: str) -> None:
        with self._lock:
            for slot in [slot for slot in self._links if slot[0] == key]:
                del self._links[slot]
