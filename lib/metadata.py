"""The user metadata bucketdesk pins on every object it uploads, and how to read it back: its one home.

Two entries, each an `x-amz-meta-<name>` header whose value is percent-encoded UTF-8 (headers are ASCII):
- `uploaded-by`: who signed the upload; verification checks it against the grant.
- `filename`: the person's own name for the file, for display and downloads (Content-Disposition
  carries it too, and calls it `filename` as well).

Why `filename` and not `original-name`, which objects stored before carry (still read, never written):
a presigned PUT signs these names as headers, and LocalStack 4.9.2 decides whether a request header
is signed by looking for its name as a substring of X-Amz-SignedHeaders. "origin" is part of
"original-name", so the Origin header every browser sends counted as signed, and every PUT from a
browser was refused (SignatureDoesNotMatch). A metadata name must therefore contain no header name a
browser sends on its own (Origin, Referer, Accept, User-Agent, Sec-Fetch-*, Priority, …);
tests/unit/test_metadata.py checks the names here and the signed headers of a PUT grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lib.names import decode_metadata, encode_metadata

UPLOADED_BY = "uploaded-by"
FILENAME = "filename"
# Names of the file name written by earlier versions: read (first match wins), never written.
LEGACY_FILENAMES = ("original-name",)
HEADER_PREFIX = "x-amz-meta-"


def for_upload(uploader: str, filename: str) -> dict[str, str]:
    """The metadata a grant pins (as boto3's `Metadata`: names without the prefix, values encoded)."""
    return {UPLOADED_BY: encode_metadata(uploader), FILENAME: encode_metadata(filename)}


def as_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    """The same metadata as request headers (or POST policy fields)."""
    return {HEADER_PREFIX + name: value for name, value in metadata.items()}


@dataclass(frozen=True)
class UploadMetadata:
    """bucketdesk's metadata as read back from an object, decoded; None where the object has none."""

    uploader: str | None
    filename: str | None


def read(metadata: Mapping[str, str] | None) -> UploadMetadata:
    """From HeadObject's `Metadata` (names in any case): the uploader, and the file name under its current
    name or, for objects stored before it changed, a legacy one."""
    found = {name.lower(): value for name, value in (metadata or {}).items()}
    uploader = found.get(UPLOADED_BY)
    filename = next((found[name] for name in (FILENAME, *LEGACY_FILENAMES) if name in found), None)
    return UploadMetadata(
        uploader=None if uploader is None else decode_metadata(uploader),
        filename=None if filename is None else decode_metadata(filename),
    )
