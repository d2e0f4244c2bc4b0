"""Thumbnails with Pillow: made once per object version, kept where browsers can fetch them cheaply.

A thumbnail is at most 256 px on its longer edge, turned the way the camera's EXIF says, and
saved as WebP (JPEG when this Pillow has no WebP). Where it lives, by the profile's
`thumbnail_store`:

- `bucket`: in the bucket under `.bucketdesk/thumbs/`. The page shows it through a presigned GET,
  so thumbnail bytes go bucket -> browser and never through the app server.
- `disk`: under `thumbnail_cache_dir` on the app server; the page sends it as a small data: URL.
- `auto` (default): the bucket, until it refuses a write (AccessDenied); then disk.

The thumbnail's name is a hash of the object's key and ETag, so a replaced object gets a new
thumbnail and a stale one is never shown. Hostile input is expected: images over
`thumbnail_max_bytes` are not downloaded, images over MAX_IMAGE_PIXELS are refused before their
pixels are decoded (decompression bombs), and anything that does not decode gets the placeholder,
remembered so it is not retried on every rerun.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, features

from lib import mime
from lib.config import BucketProfile
from lib.errors import AccessDenied, PreviewError, StorageError
from lib.limits import THUMBNAIL_LINK_REUSE_SECONDS, THUMBNAIL_LINK_SECONDS
from lib.names import encode_metadata, safe_name
from lib.s3 import S3Gateway
from lib.upload.verify import MAX_IMAGE_PIXELS

log = logging.getLogger(__name__)

THUMB_PREFIX = ".bucketdesk/thumbs/"
MAX_EDGE = 256
WORKERS = 8  # thumbnails made at once per bucket: enough to fill a page quickly, not a stampede
_MEMORY_LIMIT = 200_000  # thumbnails remembered per bucket in this process
CACHE_CONTROL = "private, max-age=31536000, immutable"  # the name changes when the object does
# Types thumbnails are made of, and the only Pillow decoders ever run on bucket bytes (lib.mime).
THUMBNAIL_TYPES = frozenset(mime.PILLOW_FORMATS)
PILLOW_FORMATS = tuple(sorted(set(mime.PILLOW_FORMATS.values())))

_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    content_type: str
    width: int
    height: int


def output_format() -> tuple[str, str]:
    """(Pillow format, MIME type): WebP when this Pillow can write it, else JPEG."""
    return ("WEBP", "image/webp") if features.check("webp") else ("JPEG", "image/jpeg")


def make_thumbnail(
    data: bytes, *, max_edge: int = MAX_EDGE, max_pixels: int = MAX_IMAGE_PIXELS, fmt: str | None = None
) -> Thumbnail:
    """A thumbnail of `data` at most `max_edge` px, EXIF orientation applied; PreviewError when impossible."""
    pillow_format, content_type = (fmt, f"image/{fmt.lower()}") if fmt else output_format()
    try:
        with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS) as opened:
            # Image.open reads only the header: refuse a bomb before a single pixel is decoded.
            if opened.width * opened.height > max_pixels:
                raise PreviewError(f"The image is too large to preview ({opened.width}×{opened.height} px).")
            orientation = opened.getexif().get(ExifTags.Base.Orientation, 1)
            # JPEG can decode straight at 1/2, 1/4 or 1/8 scale: far less memory and time for photos.
            opened.draft("RGB", (max_edge * 2, max_edge * 2))
            image: Image.Image = opened
            if image.mode in {"P", "1"}:  # palette images would be resized with nearest-neighbour
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS, reducing_gap=2.0)
            thumb = image.transpose(_ORIENTATION[orientation]) if orientation in _ORIENTATION else image.copy()
    except PreviewError:
        raise
    except Image.DecompressionBombError:
        raise PreviewError("The image is too large to preview safely.") from None
    except Exception as exc:  # Pillow raises many types for broken or unknown input
        raise PreviewError(f"The image does not decode ({type(exc).__name__}).") from None
    thumb = _displayable(thumb, keep_alpha=pillow_format != "JPEG")
    out = io.BytesIO()
    if pillow_format == "WEBP":
        thumb.save(out, "WEBP", quality=80, method=4)
    else:
        thumb.save(out, pillow_format, quality=82, optimize=True)
    return Thumbnail(out.getvalue(), content_type, thumb.width, thumb.height)


def _displayable(image: Image.Image, keep_alpha: bool) -> Image.Image:
    """RGB (or RGBA when the format keeps transparency); transparency over white otherwise."""
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info)
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        image = image.point(lambda value: value / 256).convert("L")  # 16-bit greyscale to 8-bit
    elif image.mode == "F":
        image = image.convert("L")
    if has_alpha:
        rgba = image.convert("RGBA")
        if keep_alpha:
            return rgba
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


@lru_cache(maxsize=1)
def placeholder_png() -> bytes:
    """A neutral 'no preview' tile: a framed picture crossed out, in greys that suit light and dark themes."""
    size = 128
    image = Image.new("RGB", (size, size), (236, 238, 242))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((30, 38, 98, 90), radius=6, outline=(150, 156, 166), width=4)
    draw.polygon([(38, 84), (56, 62), (68, 74), (78, 64), (92, 84)], fill=(170, 176, 186))
    draw.ellipse((76, 46, 86, 56), fill=(170, 176, 186))
    draw.line((26, 100, 102, 28), fill=(200, 90, 90), width=5)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


@lru_cache(maxsize=1)
def placeholder_url() -> str:
    return data_url(placeholder_png(), "image/png")


def can_thumbnail(content_type: str) -> bool:
    return mime.normalise(content_type) in THUMBNAIL_TYPES


def thumb_key(key: str, etag: str) -> str:
    """Where the thumbnail of this version of `key` lives: a hash, so any key length or character fits."""
    digest = hashlib.sha256(f"{key}\0{etag.strip(chr(34))}".encode()).hexdigest()
    return f"{THUMB_PREFIX}{digest[:2]}/{digest}.{output_format()[0].lower()}"


class ThumbnailStore:
    """Thumbnails of one bucket: made lazily, a few at a time, and remembered.

    `urls()` answers for a page's rows within a time budget; thumbnails still being made keep going
    in the background and are ready on a later rerun.
    """

    def __init__(
        self,
        gateway: S3Gateway,
        *,
        mode: str | None = None,
        cache_dir: Path | None = None,
        max_source_bytes: int | None = None,
        workers: int = WORKERS,
    ):
        profile = gateway.profile
        self.gateway = gateway
        self.mode = mode or profile.thumbnail_store
        self.max_source_bytes = max_source_bytes or profile.thumbnail_max_bytes
        root = Path(cache_dir or profile.thumbnail_cache_dir)
        self.cache_dir = root / safe_name(profile.bucket)
        self.bucket_writable: bool | None = None if self.mode == "auto" else self.mode == "bucket"
        self._where: dict[str, str] = {}  # thumb key -> "bucket" | "disk" | "failed"
        self._links: dict[str, tuple[str, float]] = {}  # thumb key -> (signed URL, signed at)
        self._inflight: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bucketdesk-thumbs")

    # --- the page's side ---

    def urls(
        self, rows: Iterable[tuple[str, str, int | None]], budget_seconds: float = 3.0
    ) -> tuple[dict[str, str], int]:
        """({key: URL to show}, how many are still being made) for (key, etag, size) rows.

        Ready thumbnails come back at once; missing ones are made in parallel until the budget
        runs out. A row that cannot have a thumbnail gets the placeholder.
        """
        rows = list(rows)
        _ = self.gateway.client  # create the boto3 client here, not racing in the pool's threads
        futures = {key: self._submit(key, etag, size) for key, etag, size in rows}
        pending = [f for f in futures.values() if not f.done()]
        if pending:
            wait(pending, timeout=budget_seconds)
        shown: dict[str, str] = {}
        waiting = 0
        for key, future in futures.items():
            if not future.done():
                waiting += 1
                continue
            shown[key] = self._url_for(future.result())
        return shown, waiting

    def url(self, key: str, etag: str | None = None, size: int | None = None, timeout: float = 30.0) -> str:
        """One thumbnail's URL, waiting for it to be made (the placeholder on failure)."""
        return self._url_for(self._submit(key, etag, size).result(timeout=timeout))

    def pending(self) -> int:
        with self._lock:
            return sum(1 for future in self._inflight.values() if not future.done())

    # --- making and finding ---

    def ensure(self, key: str, etag: str | None = None, size: int | None = None) -> tuple[str, str]:
        """Make (or find) the thumbnail of `key`: returns (where, thumb key), where is bucket | disk | failed."""
        if etag is None or size is None:
            head = self.gateway.head(key)
            if head is None:
                return "failed", ""
            etag, size = str(head.get("ETag", "")).strip('"'), int(head.get("ContentLength") or 0)
        name = thumb_key(key, etag)
        with self._lock:
            known = self._where.get(name)
        if known:
            return known, name
        where = self._find(name) or self._make(key, name, etag, size)
        with self._lock:
            if len(self._where) > _MEMORY_LIMIT:  # forgotten entries are found again with one HEAD
                self._where.clear()
                self._links.clear()
            self._where[name] = where
        return where, name

    def _find(self, name: str) -> str | None:
        if (self.cache_dir / Path(name).name).is_file():
            return "disk"
        if (self.cache_dir / (Path(name).name + ".failed")).is_file():
            return "failed"
        if self.mode != "disk":
            try:
                if self.gateway.head(name) is not None:
                    return "bucket"
            except StorageError:
                pass  # may not read there: look no further, make it
        return None

    def _make(self, key: str, name: str, etag: str, size: int) -> str:
        if size > self.max_source_bytes:
            return self._remember_failure(name, f"larger than thumbnail_max_bytes ({size} bytes)")
        try:
            # Pinned to the listed version: an object swapped since is not read (PreconditionFailed).
            thumb = make_thumbnail(self.gateway.read(key, etag=etag))
        except PreviewError as exc:
            return self._remember_failure(name, exc.message)
        if self.bucket_writable is not False:
            try:
                self.gateway.put(
                    name,
                    thumb.data,
                    thumb.content_type,
                    metadata={"source-key": encode_metadata(key), "source-etag": etag},
                    cache_control=CACHE_CONTROL,
                )
                self.bucket_writable = True
                return "bucket"
            except AccessDenied:
                if self.mode == "bucket":
                    raise
                log.info("bucket %s refuses thumbnail writes; keeping thumbnails on disk", self.gateway.bucket)
                self.bucket_writable = False
        self._write_disk(Path(name).name, thumb.data)
        return "disk"

    def _remember_failure(self, name: str, reason: str) -> str:
        # On disk too, so a restart does not download a 40 MB broken file again.
        self._write_disk(Path(name).name + ".failed", reason.encode("utf-8"))
        return "failed"

    def _write_disk(self, filename: str, data: bytes) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            temporary = self.cache_dir / f".{filename}.{threading.get_ident()}.tmp"
            temporary.write_bytes(data)
            temporary.replace(self.cache_dir / filename)  # atomic: a reader never sees half a file
        except OSError as exc:
            log.warning("cannot write thumbnail cache %s: %s", self.cache_dir, exc)

    def _submit(self, key: str, etag: str | None, size: int | None) -> Future:
        task = f"{key}\0{etag}"
        with self._lock:
            future = self._inflight.get(task)
            if future is not None and not (future.done() and future.exception()):
                return future
            future = self._pool.submit(self._ensure_quietly, key, etag, size)
            self._inflight[task] = future
            if len(self._inflight) > 20_000:  # forget finished work; the _where map remembers results
                for old in [t for t, f in self._inflight.items() if f.done()][:10_000]:
                    del self._inflight[old]
        return future

    def _ensure_quietly(self, key: str, etag: str | None, size: int | None) -> tuple[str, str]:
        try:
            return self.ensure(key, etag, size)
        except Exception as exc:  # a thumbnail is never worth an error page
            log.warning("thumbnail for %s failed: %s", key, exc)
            return "failed", ""

    def _url_for(self, result: tuple[str, str]) -> str:
        where, name = result
        if where == "bucket":
            return self._signed(name)
        if where == "disk":
            try:
                return data_url((self.cache_dir / Path(name).name).read_bytes(), output_format()[1])
            except OSError:
                with self._lock:
                    self._where.pop(name, None)  # the cache was cleaned: make it again next time
        return placeholder_url()

    def _signed(self, name: str) -> str:
        now = time.time()
        with self._lock:
            cached = self._links.get(name)
        if cached and now - cached[1] < THUMBNAIL_LINK_REUSE_SECONDS:
            return cached[0]
        # Made by bucketdesk, yet served with its type forced like every other signed link.
        url = self.gateway.presign_get(name, THUMBNAIL_LINK_SECONDS, content_type=output_format()[1])
        with self._lock:
            self._links[name] = (url, now)
        return url

    def forget(self, key: str, etag: str) -> None:
        """Remove the thumbnail of a deleted object (wherever it is); quietly, it is only a cache."""
        name = thumb_key(key, etag)
        with self._lock:
            where = self._where.pop(name, None)
            self._links.pop(name, None)
        for path in (self.cache_dir / Path(name).name, self.cache_dir / (Path(name).name + ".failed")):
            path.unlink(missing_ok=True)
        if where != "disk" and self.mode != "disk":
            try:
                self.gateway.delete(name)
            except StorageError:
                pass


_stores: dict[BucketProfile, ThumbnailStore] = {}
_stores_lock = threading.Lock()


def store_for(gateway: S3Gateway) -> ThumbnailStore:
    """The process's one ThumbnailStore for a bucket profile, shared by pages and the upload hook."""
    with _stores_lock:
        store = _stores.get(gateway.profile)
        if store is None:
            store = _stores[gateway.profile] = ThumbnailStore(gateway)
        return store


def thumbnail_after_upload(gateway: S3Gateway, key: str, content_type: str) -> bool:
    """Make the thumbnail of a just-verified image now; never raises (an upload must not fail for it)."""
    if not can_thumbnail(content_type):
        return False
    try:
        where, _ = store_for(gateway).ensure(key)
        return where in {"bucket", "disk"}
    except Exception as exc:
        log.warning("thumbnail after upload of %s failed: %s", key, exc)
        return False


# Icons for rows that have no thumbnail (folders, documents, media): small SVGs drawn by bucketdesk
# itself (never user content), sent as data: URLs so the table and gallery need no extra requests.
_KIND_ICONS = {
    "folder": ("#f2b441", "folder"),
    "video": ("#7b61ff", "VIDEO"),
    "audio": ("#00a3a3", "AUDIO"),
    "pdf": ("#e5484d", "PDF"),
    "text": ("#3b82f6", "TEXT"),
    "archive": ("#8d6e63", "ZIP"),
    "image": ("#22a06b", "IMG"),
    "other": ("#8b93a1", "FILE"),
}


@cache
def kind_icon_url(kind: str) -> str:
    colour, label = _KIND_ICONS.get(kind, _KIND_ICONS["other"])
    if label == "folder":
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
            f'<path d="M6 16a4 4 0 0 1 4-4h14l6 6h24a4 4 0 0 1 4 4v26a4 4 0 0 1-4 4H10a4 4 0 0 1-4-4z" fill="{colour}"/>'
            '<path d="M6 24h52v24a4 4 0 0 1-4 4H10a4 4 0 0 1-4-4z" fill="#ffffff" fill-opacity=".22"/></svg>'
        )
    else:
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
            '<path d="M16 6h22l12 12v38a2 2 0 0 1-2 2H16a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z" fill="#eef0f4" stroke="#aab1bd" stroke-width="2"/>'
            '<path d="M38 6v10a2 2 0 0 0 2 2h10" fill="none" stroke="#aab1bd" stroke-width="2"/>'
            f'<rect x="8" y="34" width="40" height="14" rx="3" fill="{colour}"/>'
            f'<text x="28" y="44.5" font-family="Arial,Helvetica,sans-serif" font-size="{9 if len(label) > 3 else 10}" '
            f'font-weight="700" fill="#fff" text-anchor="middle">{label}</text></svg>'
        )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
