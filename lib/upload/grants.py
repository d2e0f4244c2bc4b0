"""Upload rules -> a signed upload (a *grant*) or a *refusal* with a reason a person understands.

This is the one signing seam: the browser declares a file (name, size, type) and gets back either a
grant that pins everything the bucket must enforce, or a sentence saying why not. A grant is, by the
profile's `upload_method`, either a POST policy (`post`) or a presigned PutObject URL (`put`).
Either pins: the bucket, the exact key, the exact size, the exact Content-Type and
Content-Disposition, the uploader's identity and file name (lib.metadata), the SHA-256 when the browser sent
one, and a short expiry. A POST policy pins them as conditions; a PUT URL as signed headers (any
header the browser sends that the URL does not sign, x-amz-meta-* included, is refused too). The
bucket enforces them, so a browser that lies gets nothing stored.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any

from lib import metadata, mime
from lib.config import OBJECT_LIMIT, POST_UPLOAD_LIMIT, BucketProfile
from lib.errors import BadContentType
from lib.limits import MAX_FILES_PER_EVENT
from lib.names import (
    content_disposition,
    display_name,
    render_key,
    safe_name,
)
from lib.s3 import S3Gateway
from lib.units import human_bytes


@dataclass(frozen=True)
class DeclaredFile:
    """What the browser says about a file it wants to upload. Untrusted."""

    id: str
    name: str
    size: int
    type: str = ""
    sha256: str | None = None  # base64 SHA-256, when the browser computed it
    # Why the browser sent no checksum: "insecure-context" (no WebCrypto: a plain-http page) or
    # "too-large" (a single upload too big to hash in one piece). None: it could compute them.
    no_checksum: str | None = None
    # Inside a dropped folder: the file's folder there ("shoot/raw"), and which drop it came with
    # (the browser's id for the batch; the server gives each batch one {uuid}).
    folder: str = ""
    batch: str | None = None


# Why a browser sent no checksum -> the sentence a person reads when the profile requires one.
_NO_CHECKSUM_REASONS = {
    "insecure-context": (
        "this page is not a secure context (it is not served over https://), so the browser cannot compute "
        "SHA-256 checksums. Open bucketdesk over https:// (or on localhost)"
    ),
    "too-large": (
        "it is too large to checksum in one piece as a single upload. Ask whoever runs bucketdesk to lower "
        "multipart_threshold_bytes (parts are checksummed one by one)"
    ),
}


def is_multipart(profile: BucketProfile, size: int) -> bool:
    """Files above the profile's threshold go up in parts; the rest as one POST."""
    return size > profile.multipart_threshold_bytes


def checksum_refusal(profile: BucketProfile, declared: DeclaredFile, *, multipart: bool) -> Refusal | None:
    """A refusal when the profile requires checksums and this upload would carry none.

    A single upload needs its whole-file SHA-256 now; a multipart upload sends one per part later,
    so only a browser that says it cannot compute them is refused up front."""
    if profile.checksums != "required":
        return None
    if declared.sha256 and not multipart:
        return None
    if multipart and not declared.no_checksum:
        return None
    shown = display_name(declared.name)
    why = _NO_CHECKSUM_REASONS.get(declared.no_checksum or "", "the browser sent no SHA-256 checksum for it")
    return Refusal(
        declared.id,
        shown,
        f"“{shown}” cannot be uploaded: {profile.display_name} requires a checksum the bucket verifies, but {why}.",
        "no_checksum",
    )


@dataclass(frozen=True)
class Grant:
    file_id: str
    bucket: str
    key: str
    url: str
    fields: dict[str, str]
    size: int
    content_type: str
    uploader: str
    original_name: str
    expires_at: float  # epoch seconds
    sign_seq: int = 1
    sha256: str | None = None
    method: str = "post"  # "post": `fields` go in a form; "put": send exactly `headers` with the body
    headers: dict[str, str] = field(default_factory=dict)

    def for_browser(self) -> dict[str, Any]:
        common = {"url": self.url, "key": self.key, "expiresAt": int(self.expires_at * 1000), "signSeq": self.sign_seq}
        if self.method == "put":
            return {"kind": "put", "headers": self.headers, **common}
        return {"kind": "post", "fields": self.fields, **common}


@dataclass(frozen=True)
class Refusal:
    file_id: str
    name: str
    reason: str
    code: str = "refused"

    def for_browser(self) -> dict[str, Any]:
        return {"refused": self.reason, "code": self.code}


@dataclass
class UploadRules:
    """The checks a profile applies before anything is signed; pure, so it is easy to test."""

    profile: BucketProfile

    def guess_type(self, name: str) -> str | None:
        return mime.guess_type(safe_name(name))

    def resolve_type(self, declared: DeclaredFile) -> tuple[str | None, str | None]:
        """(content type to pin, None) or (None, reason for refusing)."""
        shown = display_name(declared.name)
        try:
            reported = mime.parse_declared(declared.type)
        except BadContentType as exc:
            return None, f"“{shown}” cannot be uploaded: its declared type {exc.message[0].lower()}{exc.message[1:]}"
        guessed = self.guess_type(declared.name)
        if not reported:
            if not guessed:
                return (
                    None,
                    f"“{shown}” has no type and no known extension, so its type cannot be told. Rename it with the right extension.",
                )
            return guessed, None
        if guessed and reported != guessed:
            if reported in mime.EXTENSION_WINS.get(_extension(declared.name), set()):
                return guessed, None
            return None, (
                f"“{shown}” says it is {reported}, but its extension {_extension(declared.name)} means {guessed}. "
                "Rename the file or save it in the format its name says."
            )
        return reported, None

    def type_allowed(self, content_type: str) -> bool:
        for pattern in self.profile.allowed_types:
            if pattern == content_type:
                return True
            if not mime.is_active(content_type) and fnmatch.fnmatchcase(content_type, pattern):
                return True
        return False

    def check(self, declared: DeclaredFile, *, multipart: bool | None = None) -> tuple[str | None, Refusal | None]:
        """(content type, None) when the file may be uploaded, else (None, Refusal).

        `multipart` says how it will travel (None: by the profile's threshold): one POST stops at 5 GiB."""
        shown = display_name(declared.name)
        if not isinstance(declared.size, int) or isinstance(declared.size, bool) or declared.size < 0:
            return None, Refusal(declared.id, shown, f"“{shown}” did not report a valid size.", "bad_size")
        # One POST stops at 5 GiB; files above the multipart threshold go up in parts, up to 5 TiB.
        if multipart is None:
            multipart = is_multipart(self.profile, declared.size)
        limit = min(self.profile.max_upload_bytes, OBJECT_LIMIT if multipart else POST_UPLOAD_LIMIT)
        if declared.size > limit:
            return None, Refusal(
                declared.id,
                shown,
                f"“{shown}” is {human_bytes(declared.size)}; the limit for {self.profile.display_name} is {human_bytes(limit)}.",
                "too_large",
            )
        content_type, problem = self.resolve_type(declared)
        if problem or content_type is None:
            return None, Refusal(declared.id, shown, problem or f"“{shown}” has no type.", "type_mismatch")
        if not self.type_allowed(content_type):
            return None, Refusal(
                declared.id,
                shown,
                f"“{shown}” is {content_type}, which {self.profile.display_name} does not accept. "
                f"Allowed: {', '.join(self.profile.allowed_types)}.",
                "type_not_allowed",
            )
        return content_type, None


def admit(profile: BucketProfile, declared: DeclaredFile, *, multipart: bool) -> tuple[str | None, Refusal | None]:
    """Every check before anything is signed: (content type to pin, None) or (None, Refusal)."""
    content_type, refusal = UploadRules(profile).check(declared, multipart=multipart)
    return (None, refusal) if refusal else (content_type, checksum_refusal(profile, declared, multipart=multipart))


def upload_key(
    profile: BucketProfile,
    declared: DeclaredFile,
    uploader: str,
    unique: str | None = None,
    *,
    template: str | None = None,
) -> str:
    """The key a declared file gets: `template` (default the profile's upload_prefix; the desk puts the
    chosen destination folder in front of it); `unique` is its {uuid} (a folder's, shared)."""
    return render_key(
        template or profile.upload_prefix,
        original_name=declared.name,
        user=uploader,
        unique=unique,
        folder=declared.folder,
    )


def sign_upload(
    gateway: S3Gateway,
    uploader: str,
    declared: DeclaredFile,
    *,
    sign_seq: int = 1,
    key: str | None = None,
) -> Grant | Refusal:
    """A grant for one declared file (at `key`, or a fresh one), or a refusal saying why."""
    profile = gateway.profile
    content_type, refusal = admit(profile, declared, multipart=False)
    if refusal or content_type is None:
        return refusal or Refusal(declared.id, display_name(declared.name), "No type could be pinned.")
    sha256 = declared.sha256 if profile.checksums != "off" else None
    original = display_name(declared.name)
    key = key or upload_key(profile, declared, uploader)
    if profile.upload_method == "put":
        return _sign_put(gateway, uploader, declared, key, content_type, original, sha256, sign_seq)
    fields = {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(original),
        "success_action_status": "201",
        **metadata.as_headers(metadata.for_upload(uploader, original)),
    }
    if sha256:
        # Both fields: S3-compatible stores (LocalStack among them) only check the checksum
        # when the algorithm is named too.
        fields["x-amz-checksum-algorithm"] = "SHA256"
        fields["x-amz-checksum-sha256"] = sha256
    # boto3 adds the bucket and exact-key conditions itself; every other field is pinned here.
    conditions: list[Any] = [["content-length-range", declared.size, declared.size]]
    conditions += [{name: value} for name, value in fields.items()]
    expires_at = time.time() + profile.policy_expiry_seconds
    post = gateway.presign_post(key, fields, conditions, profile.policy_expiry_seconds)
    return Grant(
        file_id=declared.id,
        bucket=profile.bucket,
        key=key,
        url=post["url"],
        fields=post["fields"],
        size=declared.size,
        content_type=content_type,
        uploader=uploader,
        original_name=original,
        expires_at=expires_at,
        sign_seq=sign_seq,
        sha256=sha256,
    )


def _sign_put(
    gateway: S3Gateway,
    uploader: str,
    declared: DeclaredFile,
    key: str,
    content_type: str,
    original: str,
    sha256: str | None,
    sign_seq: int,
) -> Grant:
    """A presigned PutObject: the same pins as a POST policy, as signed headers."""
    expires_at = time.time() + gateway.profile.policy_expiry_seconds
    url, headers = gateway.presign_put(
        key,
        size=declared.size,
        content_type=content_type,
        content_disposition=content_disposition(original),
        metadata=metadata.for_upload(uploader, original),
        sha256=sha256,
        expires_in=gateway.profile.policy_expiry_seconds,
    )
    return Grant(
        file_id=declared.id,
        bucket=gateway.profile.bucket,
        key=key,
        url=url,
        fields={},
        size=declared.size,
        content_type=content_type,
        uploader=uploader,
        original_name=original,
        expires_at=expires_at,
        sign_seq=sign_seq,
        sha256=sha256,
        method="put",
        headers=headers,
    )


def sign_uploads(
    gateway: S3Gateway, uploader: str, declared: list[DeclaredFile], *, sign_seq: int = 1
) -> list[Grant | Refusal]:
    if len(declared) > MAX_FILES_PER_EVENT:
        return [
            Refusal(d.id, display_name(d.name), f"Choose at most {MAX_FILES_PER_EVENT} files at a time.", "too_many")
            for d in declared
        ]
    return [sign_upload(gateway, uploader, d, sign_seq=sign_seq) for d in declared]


def _extension(name: str) -> str:
    """The extension as the stored key will carry it (safe_name keeps short alphanumeric ones)."""
    return mime.extension(safe_name(name))
