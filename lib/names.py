"""File-name sanitising and object-key templates.

A browser-supplied file name is hostile until proven otherwise: it may carry path separators,
traversal, control characters, bidi overrides that disguise `gnp.exe` as `exe.png`, or be empty or
ten thousand characters long. `safe_name` turns any of them into one harmless key segment;
`display_name` keeps the person's original wording (minus invisible tricks) for metadata and UI.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
import uuid as uuid_module
from datetime import UTC, datetime
from urllib.parse import quote, unquote

SAFE_NAME_MAX_CHARS = 100
DISPLAY_NAME_MAX_CHARS = 255
FALLBACK_NAME = "file"
# Windows refuses these as file names, and people download objects under their safe name.
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r"[^\w.()\-]+")
TEMPLATE_FIELDS = {"yyyy", "mm", "dd", "uuid", "safe_name", "relative_path", "user"}
# A file inside a dropped folder keeps its path: at most this many folders deep (deeper ones are
# joined into the last), so a key stays well under S3's 1,024 bytes.
MAX_FOLDER_DEPTH = 8
FOLDER_SEGMENT_MAX_CHARS = 64


def _visible(text: str) -> str:
    """NFC, without control (Cc), format (Cf: bidi overrides, zero-width) or unassigned characters."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf", "Cn", "Cs", "Co"})


def display_name(original: str) -> str:
    """The name as the person typed it, minus invisible characters; for UI, metadata and downloads."""
    name = _visible(original).replace("/", "_").replace("\\", "_").strip()
    return name[:DISPLAY_NAME_MAX_CHARS] or FALLBACK_NAME


def safe_name(original: str, max_chars: int = SAFE_NAME_MAX_CHARS) -> str:
    """One key segment: letters, digits, `_ - . ( )`; no traversal, never empty, at most max_chars."""
    name = _UNSAFE.sub("_", _visible(original))  # separators, spaces, quotes, <, >, … become "_"
    name = re.sub(r"\.{2,}", ".", name)  # no ".." anywhere
    stem, dot, ext = name.rpartition(".")
    if not dot or not ext.isalnum() or len(ext) > 16:
        stem, ext = name, ""
    ext = f".{ext.lower()}"[: max_chars - 1] if ext else ""
    stem = re.sub(r"_{2,}", "_", stem).strip("._-") or FALLBACK_NAME
    if stem.split(".", 1)[0].lower() in _WINDOWS_RESERVED:  # Windows reads "NUL.tar.gz" as NUL too
        stem = "_" + stem
    stem = stem[: max(1, max_chars - len(ext))].rstrip("._-") or FALLBACK_NAME[: max(1, max_chars - len(ext))]
    return stem + ext


def safe_folder(folder: str) -> str:
    """A folder path from the browser ("shoot/raw") as key segments, each sanitised like a file name.

    Separators of either kind split it; empty, "." and ".." segments are dropped (no traversal);
    deeper than MAX_FOLDER_DEPTH, the rest is joined into the last segment. "" for no folder."""
    segments = [part for part in re.split(r"[/\\]+", _visible(folder)) if part.strip() not in {"", ".", ".."}]
    if len(segments) > MAX_FOLDER_DEPTH:
        segments = [*segments[: MAX_FOLDER_DEPTH - 1], "_".join(segments[MAX_FOLDER_DEPTH - 1 :])]
    return "/".join(safe_name(part, FOLDER_SEGMENT_MAX_CHARS) for part in segments)


def relative_path(folder: str, original_name: str) -> str:
    """`{relative_path}`: the safe folder path and the safe file name ("shoot/raw/img-001.jpg")."""
    return "/".join(part for part in (safe_folder(folder), safe_name(original_name)) if part)


def ascii_name(name: str) -> str:
    """An ASCII-only safe name (accents dropped), for headers that cannot carry UTF-8."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return safe_name(folded)


USER_SEGMENT_MAX_CHARS = 64
_USER_HASH_CHARS = 10


def user_segment(identity: str) -> str:
    """An identity as one safe, stable key segment (`{user}` in key templates and access prefixes).

    File-name sanitising makes it harmless; when that loses anything (an `@`, a `+`, a `/`…), a hash
    of the identity is appended, so two people never share a segment (`bob+1@x.com` and `bob_1@x.com`
    would otherwise both become `bob_1_x.com`, and one could write into the other's folder)."""
    lowered = unicodedata.normalize("NFC", identity.strip().lower())
    readable = safe_name(lowered, max_chars=USER_SEGMENT_MAX_CHARS).replace("(", "_").replace(")", "_")
    if readable == lowered:
        return readable
    digest = hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:_USER_HASH_CHARS]
    head = readable[: USER_SEGMENT_MAX_CHARS - _USER_HASH_CHARS - 1].rstrip("._-") or "user"
    return f"{head}-{digest}"


def template_problems(template: str) -> list[str]:
    """Why a key template is unusable (empty list when it is fine)."""
    problems = []
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return [f"not a valid template ({exc})"]
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        problems.append(
            f"unknown placeholder(s) {', '.join('{' + n + '}' for n in sorted(unknown))}; "
            f"use {', '.join('{' + n + '}' for n in sorted(TEMPLATE_FIELDS))}"
        )
    if "uuid" not in names:
        problems.append("must contain {uuid} so two uploads never overwrite each other")
    if ".." in template.split("/") or template.startswith("/"):
        problems.append("must not start with / or contain ..")
    return problems


def static_prefix(template: str) -> str:
    """The fixed part before the first placeholder: every key the template makes starts with it."""
    return template.split("{", 1)[0]


def render_key(
    template: str,
    *,
    original_name: str,
    user: str,
    now: datetime | None = None,
    unique: str | None = None,
    folder: str = "",
) -> str:
    """The object key for a file; `folder` is its folder inside a dropped folder (for `{relative_path}`)."""
    now = now or datetime.now(UTC)
    return template.format(
        yyyy=f"{now.year:04d}",
        mm=f"{now.month:02d}",
        dd=f"{now.day:02d}",
        uuid=unique or uuid_module.uuid4().hex,
        safe_name=safe_name(original_name),
        relative_path=relative_path(folder, original_name),
        user=user_segment(user),
    )


def encode_metadata(value: str) -> str:
    """S3 user metadata travels in HTTP headers, so it must be ASCII: percent-encode UTF-8."""
    return quote(value, safe=" @._-()+,:;=!*'~")


def decode_metadata(value: str) -> str:
    return unquote(value)


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """RFC 6266 header: an ASCII fallback plus the exact UTF-8 name for browsers that read it."""
    shown = display_name(name)
    fallback = ascii_name(shown)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(shown, safe='')}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Text that Markdown renders literally: names like `<img …>` or `[x](javascript:…)` stay text.

    Line breaks stay line breaks (a hard break), so a list of problems still reads as lines."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")


def code_span(text: str) -> str:
    """`text` as a Markdown code span shown exactly: fenced by more backticks than it contains in a row.

    Backslash escapes do not work inside code spans, so escape_markdown is no use there."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text.replace(chr(10), ' ')}{pad}{fence}"
