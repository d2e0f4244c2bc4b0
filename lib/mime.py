"""The one home of facts about media types: parsing, aliases, extensions, families, and which types a
browser may show inline.

Two readings of a type:
- `parse_declared` is strict, for a type a browser declares before an upload is signed: one RFC 6838
  `type/subtype` token, parameters dropped, lower-cased, aliases applied. Anything else (a comma
  list, spaces inside, an empty part, no slash) raises `BadContentType` with a sentence. Browsers
  read `video/mp4,text/html` as its *last* type, so a lenient parser would pin HTML under a video's name.
- `normalise` is for a type someone else stored: the same rules, but it answers None instead of raising.

`inline_type` is the one allow-list for signed GET links: raster images, PDF, plain text, audio and
video may open in the browser, served with their normalised type; everything else downloads.
"""

from __future__ import annotations

import functools
import mimetypes
import re

from lib.errors import BadContentType

# RFC 6838 section 4.2: restricted-name = first char alphanumeric, then up to 126 of these.
_NAME = r"[a-z0-9][a-z0-9!#$&\-^_.+]{0,126}"
_TYPE = re.compile(rf"{_NAME}/{_NAME}")

JSON_LINES = "application/jsonl"

# What browsers and operating systems actually report, mapped to one canonical type.
# (Chrome on Windows reports .csv as application/vnd.ms-excel when Excel is installed.)
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-icon": "image/vnd.microsoft.icon",
    "image/x-ms-bmp": "image/bmp",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
    "text/x-csv": "text/csv",
    "application/csv": "text/csv",
    "application/x-gzip": "application/gzip",
    "application/x-gtar": "application/gzip",
    "application/x-compressed-tar": "application/gzip",
    "application/x-bzip": "application/x-bzip2",
    "application/x-rar-compressed": "application/vnd.rar",
    "application/x-rar": "application/vnd.rar",
    "application/x-zstd": "application/zstd",
    "application/x-ndjson": JSON_LINES,
    "application/jsonlines": JSON_LINES,
    "application/x-jsonlines": JSON_LINES,
}

# Extensions Python's table misses or spells differently across systems.
EXTENSION_TYPES = {
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".ico": "image/vnd.microsoft.icon",
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": JSON_LINES,
    ".md": "text/markdown",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".opus": "audio/ogg",
    ".mkv": "video/x-matroska",
    ".parquet": "application/vnd.apache.parquet",
    ".7z": "application/x-7z-compressed",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
    ".zst": "application/zstd",
    ".rar": "application/vnd.rar",
}
# Extensions whose reported type depends on the machine; the extension's meaning decides.
EXTENSION_WINS = {".csv": {"application/vnd.ms-excel", "text/plain"}, ".json": {"text/plain"}, ".md": {"text/plain"}}

# Python's own extension table, never the server's /etc/mime.types: `mimetypes.types_map` is replaced
# the first time anything calls mimetypes.init()/guess_type() (boto3, listings…), which would make the
# same file granted on one request and refused on the next, and differ between operating systems.
_BUILTIN_TYPES = {**mimetypes.MimeTypes().types_map[False], **mimetypes.MimeTypes().types_map[True]}

# Types a browser would render as active content (scripts) when opened from the bucket's origin.
# A wildcard such as "*/*" or "image/*" never admits them; a profile must name them exactly.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "application/x-msdownload",
        "application/x-sh",
        # Browsers render XML types as documents in which XHTML-namespaced <script> runs.
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
        "multipart/x-mixed-replace",
    }
)

# Raster images a browser shows as a picture, never as a document.
RASTER_IMAGES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/vnd.microsoft.icon",
        "image/tiff",
        "image/heic",
        "image/heif",
    }
)
# Everything a signed link may serve inline (besides audio/* and video/*, see `inline_type`).
INLINE_SAFE = RASTER_IMAGES | {"application/pdf", "text/plain", "text/csv"}

# Images bucketdesk decodes (thumbnails, verification) -> the one Pillow decoder allowed for each
# (Image.open's `formats`). Never EPS/PS (it runs Ghostscript) or any other plugin, whatever a
# file's name or bytes claim. SVG is active content; HEIC and AVIF need plugins this app does not load.
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/vnd.microsoft.icon": "ICO",
}

# Types shown as text in previews and counted as "text and data" in listings.
TEXT_TYPES = frozenset({"application/json", JSON_LINES, "application/xml", "application/yaml", "application/x-yaml"})
ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-bzip2",
        "application/x-xz",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/zstd",
    }
)
# HEIC and HEIF are one format family (ISO/IEC 23008-12): files and browsers use either name.
_FAMILIES = {
    "image/heif": "image/heic",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heic",
}


def normalise(value: str | None) -> str | None:
    """A stored type as one lower-case `type/subtype` with aliases applied; None when it is not one."""
    try:
        return parse_declared(value) or None
    except BadContentType:
        return None


def parse_declared(value: str | None) -> str:
    """A declared type, strictly: "" when none was declared, else the normalised type.

    Raises BadContentType with a sentence for lists, spaces, empty parts or a missing slash."""
    text = (value or "").strip()
    if not text:
        return ""
    if "," in text:
        raise BadContentType(f"“{text}” is a list of types; a file has exactly one.")
    base = text.split(";", 1)[0].rstrip().lower()
    if not _TYPE.fullmatch(base):
        raise BadContentType(f"“{text}” is not a media type of the form type/subtype.")
    return ALIASES.get(base, base)


def family(content_type: str) -> str:
    """The type with members of one format family (HEIC/HEIF) made the same."""
    return _FAMILIES.get(content_type, content_type)


def extension(name: str) -> str:
    """The lower-cased extension of the last path segment, with its dot ("" when there is none)."""
    last = name.rsplit("/", 1)[-1].lower()
    dot = last.rfind(".")
    return last[dot:] if dot > 0 else ""


def guess_type(name: str) -> str | None:
    """The type a file name suggests (bucketdesk's table first, then Python's own), or None."""
    ext = extension(name)
    return EXTENSION_TYPES.get(ext) or _BUILTIN_TYPES.get(ext)


def is_active(content_type: str) -> bool:
    """True for types a browser may run scripts in; any `+xml` type is rendered as an XML document."""
    return content_type in ACTIVE_TYPES or content_type.endswith("+xml")


def inline_type(stored: str | None) -> str | None:
    """The type to serve inline under, or None when the object must be a download.

    Only raster images, PDF, plain text, audio and video; never active content, XML or a type that
    does not parse (`text/html`, `*+xml`, `*/*`, `application/unknown`, no slash, comma lists)."""
    content_type = normalise(stored)
    if content_type is None or is_active(content_type) or content_type.endswith("+json"):
        return None
    if content_type in INLINE_SAFE:
        return content_type
    major = content_type.split("/", 1)[0]
    return content_type if major in {"audio", "video"} else None


KINDS = ("image", "video", "audio", "pdf", "text", "archive", "other")


def kind_of(content_type: str) -> str:
    """The family people filter by: image, video, audio, pdf, text, archive or other."""
    major = content_type.split("/", 1)[0]
    if major in {"image", "video", "audio"}:
        return major
    if content_type == "application/pdf":
        return "pdf"
    if major == "text" or content_type in TEXT_TYPES or content_type.endswith(("+json", "+xml")):
        return "text"
    if content_type in ARCHIVE_TYPES:
        return "archive"
    return "other"


def kind_of_name(name: str) -> str:
    """The family a file name's extension suggests ("other" when it suggests no type)."""
    guessed = guess_type(name)
    return kind_of(guessed) if guessed else "other"


@functools.cache
def kind_extensions() -> dict[str, frozenset[str]]:
    """Every extension bucketdesk knows (lower case, no dot), grouped by `kind_of_name`.

    Computed once from the same tables `guess_type` reads, so search filters, the audit's families
    and exports agree on what an extension is. "other" lists only known extensions of no family;
    a name with an unknown extension (or none) is "other" too."""
    grouped: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for ext in {*_BUILTIN_TYPES, *EXTENSION_TYPES}:
        grouped[kind_of_name("x" + ext)].add(ext[1:])
    return {kind: frozenset(exts) for kind, exts in grouped.items()}
