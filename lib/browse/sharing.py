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

from lib import mime
from lib.errors import LinkExpiryError
from lib.limits import (
    MAX_SHARE_LINK_SECONDS,
    MIN_SHARE_LINK_SECONDS,
    VIEW_LINK_REUSE_SECONDS,
    VIEW_LINK_SECONDS,
)
from lib.names import content_disposition
from lib.s3 import S3Gateway
from lib.units import human_duration

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class LinkHeaders:
    """What a signed GET overrides: `disposition` (ResponseContentDisposition) and `content_type`
    (ResponseContentType); None leaves the stored header."""

    disposition: str | None
    content_type: str | None

    @property
    def inline(self) -> bool:
        return self.content_type is not None


def link_headers(content_type: str | None, name: str, *, inline: bool | None, quarantined: bool = False) -> LinkHeaders:
    """The one decision for every signed GET link: inline only for lib.mime's allow-list, served as the
    normalised type; everything else (and anything quarantined) as an attachment saved as `name`.

    `inline`: True opens in the browser when allowed; False always downloads; None keeps the stored
    Content-Disposition when inline is allowed (the table's links, previews)."""
    safe = None if quarantined else mime.inline_type(content_type)
    if safe is None or inline is False:
        return LinkHeaders(content_disposition(name, "attachment"), None)
    return LinkHeaders(content_disposition(name, "inline") if inline else None, safe)


def signed_link(
    gateway: S3Gateway, key: str, seconds: int, content_type: str | None, name: str, *, inline: bool | None
) -> str:
    """A signed GET for `key` with the headers `link_headers` decides."""
    headers = link_headers(content_type, name, inline=inline, quarantined=is_quarantined(gateway, key))
    return gateway.presign_get(key, seconds, headers.disposition, content_type=headers.content_type)


def is_quarantined(gateway: S3Gateway, key: str) -> bool:
    prefix = gateway.profile.quarantine_prefix
    return bool(prefix) and key.startswith(prefix)


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
    if seconds > MAX_SHARE_LINK_SECONDS:
        raise LinkExpiryError(
            f"S3 signs links for at most 7 days; {amount:g} {unit} is longer.",
            "Pick 7 days or less. For longer sharing, copy the object somewhere public or send a new link later.",
        )
    if seconds < MIN_SHARE_LINK_SECONDS:
        raise LinkExpiryError("A share link lasts at least 5 minutes.", "Pick 5 minutes or more.")
    return seconds


describe = human_duration


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
    """A signed GET link to `key` for `seconds`: inline (when lib.mime allows it), or a download saved as `name`."""
    if not MIN_SHARE_LINK_SECONDS <= seconds <= MAX_SHARE_LINK_SECONDS:
        raise LinkExpiryError(f"Links last from 5 minutes to 7 days; {describe(seconds)} is outside that.")
    headers = link_headers(content_type, name, inline=not download, quarantined=is_quarantined(gateway, key))
    note = ""
    if not download and not headers.inline:
        download = True
        shown = content_type or "no type"
        note = f"{shown} is not a type bucketdesk opens in the browser, so this link always downloads."
    url = gateway.presign_get(key, seconds, headers.disposition, content_type=headers.content_type)
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
        self._links: dict[tuple[str, str | None, str, bool | None], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, content_type: str | None, name: str = "", inline: bool | None = None) -> str:
        """The link for `key` stored (or named) as `content_type`; see `link_headers` for `inline`."""
        now = time.time()
        name = name or key.rstrip("/").rsplit("/", 1)[-1] or key
        slot = (key, content_type, name, inline)
        with self._lock:
            cached = self._links.get(slot)
        if cached and now - cached[1] < VIEW_LINK_REUSE_SECONDS:
            return cached[0]
        url = signed_link(self.gateway, key, VIEW_LINK_SECONDS, content_type, name, inline=inline)
        with self._lock:
            if len(self._links) >= self.limit:
                self._links.clear()
            self._links[slot] = (url, now)
        return url

    def forget(self, key: str) -> None:
        with self._lock:
            for slot in [slot for slot in self._links if slot[0] == key]:
                del self._links[slot]
