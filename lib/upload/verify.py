"""After-upload checks: is the stored object the one the grant allowed?

The bucket already enforced the policy, but a misconfigured bucket (or one that does not enforce
policies, like the sandbox) could accept anything, and a file's bytes can lie about its type. So:
HEAD the object (a small one is read whole instead, headers and bytes in one GET) and compare size,
Content-Type and uploader with the grant; sniff the first bytes; decode images with Pillow (bounded). A failing object is moved to a quarantine prefix (or deleted,
by setting) so nobody links to it by accident, and the user is told why.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from lib import metadata as stored_metadata
from lib import mime
from lib.errors import StorageError
from lib.s3 import S3Gateway
from lib.units import human_bytes


class Signed(Protocol):
    """What the server signed for one file: a POST Grant or a MultipartGrant (lib.upload.multipart)."""

    @property
    def file_id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str: ...
    @property
    def uploader(self) -> str: ...


SNIFF_BYTES = 4096
# Objects up to this size are read whole with their headers, in one GET (see _look).
WHOLE_READ_BYTES = 256 * 1024
# Pillow's own bomb guard: refuse images that would expand past ~90 Mpx (its default is ~179 Mpx).
MAX_IMAGE_PIXELS = 90_000_000


@dataclass
class Verification:
    file_id: str
    key: str
    ok: bool
    size: int | None = None
    content_type: str | None = None
    sniffed_type: str | None = None
    image_size: tuple[int, int] | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    action: str = "kept"  # kept | quarantined | deleted | missing
    final_key: str | None = None
    checksum_sha256: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            detail = f"{human_bytes(self.size or 0)} {self.content_type}"
            if self.image_size:
                detail += f", {self.image_size[0]}×{self.image_size[1]} px"
            return " ".join([f"Verified: {detail}.", *self.notes])
        where = {
            "quarantined": f" It was moved to {self.final_key} for review.",
            "deleted": " It was deleted.",
            "missing": "",
        }.get(self.action, "")
        return " ".join(self.problems) + where


def sniff_type(head: bytes) -> str | None:
    """The type the first bytes reveal, for the formats people upload most; None when unsure."""
    signatures = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"BM", "image/bmp"),
        (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"ID3", "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"fLaC", "audio/flac"),
        (b"\x1aE\xdf\xa3", "video/x-matroska"),
        (b"\x7fELF", "application/x-executable"),
        (b"MZ", "application/x-msdownload"),
    ]
    for magic, kind in signatures:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] in {b"WEBP", b"WAVE", b"AVI "}:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}[head[8:12]]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"avif", b"avis"}:
            return "image/avif"
        if brand in {b"heic", b"heix", b"mif1", b"msf1"}:
            return "image/heic"
        if brand.startswith(b"M4A"):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<script")):
        return "text/html"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    return None


def _family_matches(declared: str, sniffed: str | None, head: bytes) -> str | None:
    """A problem sentence when the bytes contradict the declared type, else None."""
    active = {"text/html", "image/svg+xml", "application/x-executable", "application/x-msdownload"}
    if sniffed in active and sniffed != declared:
        return f"The content is {sniffed}, not {declared}."
    if declared.startswith("image/") or declared == "application/pdf":
        if sniffed is None:
            return f"The content does not look like {declared}."
        if mime.family(sniffed) != mime.family(declared):
            return f"The content is {sniffed}, not {declared}."
    if declared.startswith("text/") or declared in {"application/json"}:
        if b"\x00" in head:
            return f"The content is binary, not {declared}."
    return None


def verify_upload(gateway: S3Gateway, grant: Signed) -> Verification:
    """Check the object a grant allowed; quarantine or delete it when it is not what was signed."""
    profile = gateway.profile
    result = Verification(file_id=grant.file_id, key=grant.key, ok=False)
    head, body = _look(gateway, grant)
    if head is None:
        result.action = "missing"
        result.problems.append("The bucket has no object at this key: the upload did not arrive.")
        return result
    result.size = head.get("ContentLength")
    result.content_type = head.get("ContentType")
    result.checksum_sha256 = head.get("ChecksumSHA256")

    if result.size != grant.size:
        result.problems.append(f"Its size is {result.size} bytes, but {grant.size} were signed.")
    if result.content_type != grant.content_type:
        result.problems.append(f"Its type is {result.content_type}, but {grant.content_type} was signed.")
    if stored_metadata.read(head.get("Metadata")).uploader != grant.uploader:
        result.problems.append("Its uploader metadata does not match who signed the upload.")

    if not result.problems:
        # An empty object is sniffed too: zero bytes are no image or PDF, whatever was declared.
        # Reads are pinned to the version just checked: a swapped object fails instead of being read.
        etag = head.get("ETag")
        if body is None:
            body = gateway.read(grant.key, 0, min(grant.size, SNIFF_BYTES) - 1, etag=etag) if grant.size else b""
        first = body[:SNIFF_BYTES]
        result.sniffed_type = sniff_type(first)
        problem = _family_matches(grant.content_type, result.sniffed_type, first)
        if problem:
            result.problems.append(problem)
        elif grant.content_type in mime.PILLOW_FORMATS:
            _check_image(gateway, grant, result, body, etag)

    result.ok = not result.problems
    if result.ok:
        result.final_key = grant.key
    else:
        _set_aside(gateway, grant, result, profile.on_verify_failure, profile.quarantine_prefix)
    return result


def _look(gateway: S3Gateway, grant: Signed) -> tuple[dict[str, Any] | None, bytes | None]:
    """The object's headers, and its bytes when one request can bring them: a small object (or an image
    small enough to decode) is read whole with its headers in one GET, where a HEAD and then a GET would
    make two requests per file (a thousand small files are two thousand requests fewer). A larger object
    gets a HEAD only (bytes None): the first bytes are read after its headers check out."""
    whole = grant.size <= WHOLE_READ_BYTES or (
        grant.content_type in mime.PILLOW_FORMATS and grant.size <= gateway.profile.verify_max_image_bytes
    )
    if not whole:
        return gateway.head(grant.key), None
    # No more than was signed is read: a store that kept a larger object fails on its size anyway.
    looked = gateway.peek(grant.key, grant.size)
    return looked if looked else (None, None)


def _check_image(gateway: S3Gateway, grant: Signed, result: Verification, held: bytes, etag: str | None) -> None:
    """Decode the image: from the bytes already read (`held`) when they are all of it."""
    if grant.size > gateway.profile.verify_max_image_bytes:
        result.notes.append(
            f"Not decoded: larger than {human_bytes(gateway.profile.verify_max_image_bytes)} (verify_max_image_bytes)."
        )
        return
    data = held if grant.size <= len(held) else gateway.read(grant.key, etag=etag)
    try:
        decoded = decode_image(data, grant.content_type)
    except ValueError as exc:
        result.problems.append(str(exc))
        return
    result.image_size = decoded.size
    if not decoded.decoded:
        width, height = decoded.size
        result.notes.append(
            f"Not decoded: {width}×{height} px is over {MAX_IMAGE_PIXELS:,} pixels, more than bucketdesk decodes "
            "to check an image; its header is sound."
        )


@dataclass(frozen=True)
class DecodedImage:
    size: tuple[int, int]
    decoded: bool  # False: the header was read, the pixels were not (too many to decode safely)


def decode_image(data: bytes, content_type: str | None = None) -> DecodedImage:
    """Decode an image with only the decoder its type names; ValueError with a sentence when it is broken.

    An image with more than MAX_IMAGE_PIXELS is not a fault: its header is read, its pixels are not
    (`decoded` False). The count is checked from the header before any pixel is decoded, without
    touching Pillow's process-wide MAX_IMAGE_PIXELS: sessions verify concurrently."""
    allowed = mime.PILLOW_FORMATS.get(mime.normalise(content_type) or "")
    formats = (allowed,) if allowed else tuple(sorted(set(mime.PILLOW_FORMATS.values())))
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return DecodedImage((width, height), decoded=False)
            image.verify()  # structure and checksums
        with Image.open(io.BytesIO(data), formats=formats) as image:
            image.load()  # every pixel: catches truncated data verify() misses
            return DecodedImage(image.size, decoded=True)
    except Image.DecompressionBombError:
        raise ValueError(f"The image is too large to decode safely (over {MAX_IMAGE_PIXELS:,} pixels).") from None
    except Exception as exc:  # Pillow raises many types for broken input
        raise ValueError(f"The image does not decode ({type(exc).__name__}).") from None


def _set_aside(gateway: S3Gateway, grant: Signed, result: Verification, how: str, prefix: str) -> None:
    try:
        if how == "delete":
            gateway.delete(grant.key)
            result.action = "deleted"
        else:
            result.final_key = prefix + grant.key
            gateway.move(grant.key, result.final_key)
            result.action = "quarantined"
    except StorageError as exc:
        result.action = "kept"
        result.final_key = grant.key
        result.problems.append(f"It could not be set aside ({exc.message}); remove {grant.key} by hand.")
