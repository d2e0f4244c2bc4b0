"""One object up close: everything HEAD says, its tags and versions, a preview of its content, delete.

Tags and versions need their own permissions (s3:GetObjectTagging, s3:ListBucketVersions); when
one is refused the rest of the details still show, with a sentence saying what could not be read.
"""

from __future__ import annotations

import codecs
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from lib import metadata as stored_metadata
from lib import mime
from lib.browse.thumbnails import store_for
from lib.errors import DeleteNotAllowed, StorageError
from lib.names import decode_metadata
from lib.s3 import S3Gateway

TEXT_PREVIEW_BYTES = 64 * 1024
VERSIONS_SHOWN = 100
# Headers worth showing, in the order a person reads them; HEAD's other keys are transport detail.
_HEADERS = [
    ("ContentType", "Content type"),
    ("ContentLength", "Size (bytes)"),
    ("ETag", "ETag"),
    ("LastModified", "Modified"),
    ("StorageClass", "Storage class"),
    ("ServerSideEncryption", "Encryption"),
    ("SSEKMSKeyId", "KMS key"),
    ("BucketKeyEnabled", "S3 Bucket Key"),
    ("SSECustomerAlgorithm", "Customer-provided key"),
    ("VersionId", "Version"),
    ("CacheControl", "Cache-Control"),
    ("ContentDisposition", "Content-Disposition"),
    ("ContentEncoding", "Content-Encoding"),
    ("ContentLanguage", "Content-Language"),
    ("Expires", "Expires"),
    ("ChecksumSHA256", "SHA-256 (base64)"),
    ("ChecksumCRC32", "CRC32"),
    ("ChecksumCRC32C", "CRC32C"),
    ("ChecksumCRC64NVME", "CRC64NVME"),
    ("ObjectLockMode", "Object Lock"),
    ("ObjectLockRetainUntilDate", "Retained until"),
    ("ObjectLockLegalHoldStatus", "Legal hold"),
    ("ReplicationStatus", "Replication"),
    ("Restore", "Restore"),
    ("ArchiveStatus", "Archive status"),
    ("WebsiteRedirectLocation", "Redirect"),
]


@dataclass
class ObjectDetails:
    key: str
    size: int
    content_type: str
    etag: str
    modified: datetime | None
    storage_class: str
    encryption: str
    uploader: str
    original_name: str
    headers: dict[str, Any]  # label -> value, everything HEAD returned worth reading
    metadata: dict[str, str]  # user metadata, decoded
    tags: dict[str, str] | None = None
    tags_error: str = ""
    versioning: str = ""  # Enabled | Suspended | "" (never enabled)
    versions: list[dict[str, Any]] = field(default_factory=list)
    versions_more: bool = False
    versions_error: str = ""

    @property
    def name(self) -> str:
        """The name to show and to download under: the uploader's original name, else the key's last part."""
        return self.original_name or self.key.rstrip("/").rsplit("/", 1)[-1] or self.key

    @property
    def preview(self) -> str | None:
        return preview_kind(self.content_type, self.key)


def object_details(gateway: S3Gateway, key: str, *, with_versions: bool = True) -> ObjectDetails | None:
    """HEAD, tags and (when versioning is on) versions of `key`; None when the object is gone."""
    head = gateway.head(key)
    if head is None:
        return None
    metadata = {name.lower(): decode_metadata(value) for name, value in (head.get("Metadata") or {}).items()}
    ours = stored_metadata.read(head.get("Metadata"))
    headers = {label: head[name] for name, label in _HEADERS if head.get(name) not in (None, "")}
    if "Storage class" not in headers:
        headers["Storage class"] = "STANDARD"  # HEAD leaves it out for STANDARD objects
    details = ObjectDetails(
        key=key,
        size=int(head.get("ContentLength") or 0),
        content_type=head.get("ContentType") or "application/octet-stream",
        etag=str(head.get("ETag", "")).strip('"'),
        modified=head.get("LastModified"),
        storage_class=headers["Storage class"],
        encryption=head.get("ServerSideEncryption") or "",
        uploader=ours.uploader or "",
        original_name=ours.filename or "",
        headers=headers,
        metadata=metadata,
    )
    try:
        details.tags = gateway.tags(key)
    except StorageError as exc:
        details.tags_error = exc.message
    if with_versions:
        try:
            details.versioning = gateway.versioning()
            if details.versioning:
                details.versions, details.versions_more = gateway.versions(key, VERSIONS_SHOWN)
        except StorageError as exc:
            details.versions_error = exc.message
    return details


def versions_frame(details: ObjectDetails) -> pd.DataFrame:
    rows = [
        {
            "version": v.get("VersionId") or "null",
            "latest": bool(v.get("IsLatest")),
            "deleted": bool(v.get("IsDeleteMarker")),
            "size": v.get("Size"),
            "modified": v.get("LastModified"),
        }
        for v in details.versions
    ]
    frame = pd.DataFrame(rows, columns=["version", "latest", "deleted", "size", "modified"])
    frame["size"] = frame["size"].astype("Int64")
    return frame


def preview_kind(content_type: str, key: str = "") -> str | None:
    """How to preview: image | csv | json | text | pdf | audio | video, or None.

    Images, audio, video and PDF are shown through a signed link, so only types lib.mime lets open
    inline; text kinds are read by the server and shown as source, never rendered."""
    normalised = mime.normalise(content_type)
    if normalised is None:
        return None  # not one type/subtype (e.g. "video/mp4,text/html"): nothing to trust
    content_type = normalised
    lowered = key.lower()
    inline = mime.inline_type(content_type)
    major = content_type.split("/", 1)[0]
    if inline and major in {"image", "audio", "video"}:
        return major
    if inline == "application/pdf":
        return "pdf"
    if content_type == "text/csv" or lowered.endswith(".csv"):
        return "csv"
    if content_type == "application/json" or lowered.endswith(".json"):
        return "json"
    if content_type in {"text/html", "application/xhtml+xml"}:
        return "text"  # shown as source text, never rendered
    if major == "text" or content_type in mime.TEXT_TYPES or content_type.endswith(("+json", "+xml")):
        return "text"
    return None


@dataclass
class TextPreview:
    kind: str  # text | json | csv
    text: str
    truncated: bool
    parsed: Any = None  # the JSON value, or a DataFrame for CSV, when it parses
    problem: str = ""


def text_preview(gateway: S3Gateway, key: str, size: int, kind: str, limit: int = TEXT_PREVIEW_BYTES) -> TextPreview:
    """The first `limit` bytes as text (a Range GET, never the whole object), parsed when possible."""
    data = gateway.read(key, 0, min(size, limit) - 1) if size else b""
    truncated = size > len(data)
    # final=False drops a UTF-8 sequence cut in half at the limit instead of showing a replacement char.
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=not truncated)
    preview = TextPreview(kind=kind, text=text, truncated=truncated)
    if kind == "json":
        if truncated:
            preview.problem = "Only the first 64 KB is shown, so it is shown as text."
        else:
            try:
                preview.parsed = json.loads(text)
            except ValueError as exc:
                preview.problem = f"Not valid JSON ({exc}); shown as text."
    elif kind == "csv":
        body = text.rsplit("\n", 1)[0] if truncated else text  # a cut last line is not a row
        try:
            preview.parsed = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False, on_bad_lines="skip")
        except Exception as exc:  # pandas raises several types for malformed CSV
            preview.problem = f"Not readable as CSV ({type(exc).__name__}); shown as text."
    return preview


def delete_object(gateway: S3Gateway, key: str, etag: str = "") -> None:
    """Delete `key` when the profile allows it (the desk checks who may and records it). With
    versioning on, S3 keeps the older versions and adds a delete marker."""
    if not gateway.profile.allow_delete:
        raise DeleteNotAllowed("Deleting is turned off for this bucket.")
    gateway.delete(key)
    if etag:
        store_for(gateway).forget(key, etag)  # its thumbnail goes too
