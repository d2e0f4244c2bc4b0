"""Large files: a multipart upload the browser fills part by part, which the server starts and finishes.

Above the profile's `multipart_threshold_bytes` a file is not one POST but an S3 multipart upload:

1. `start_or_resume` checks the file with the same rules as a single upload, then creates the
   upload with the same pins a POST grant has (exact key, Content-Type, Content-Disposition,
   uploader and file-name metadata (lib.metadata), and `ChecksumAlgorithm=SHA256`), or, when the browser names
   an upload it remembers and the server's record says it is this person's upload of this file,
   resumes it: ListParts says which parts are already in the bucket (with their SHA-256).
2. The browser hashes a few parts at a time and asks for their URLs; `sign_part` presigns an
   UploadPart PUT whose `x-amz-checksum-sha256` header is signed, so the bucket verifies each part's
   bytes (a mismatch is `BadDigest`). URLs are signed only when needed and re-signed when expired.
3. `complete` takes each part's ETag from ListParts (which it calls anyway), checks every part is
   there with its planned size (adding up to the declared size) and that any ETag the browser did
   report matches, and completes with each part's ETag and checksum; the object then carries a
   composite SHA-256 (`<base64>-<parts>`). `abort` is Cancel.

The server's grant is the source of truth: key, upload id, size, type and uploader come from it and
from the `OpenUploadStore` record, never from the browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lib import metadata
from lib.config import BucketProfile, MiB
from lib.errors import StorageError, UploadIncomplete
from lib.names import content_disposition, display_name
from lib.s3 import S3Gateway
from lib.units import human_bytes
from lib.upload.grants import DeclaredFile, Refusal, admit, upload_key
from lib.upload.resume import OpenUpload, OpenUploadStore

MIN_PART_BYTES = 5 * MiB  # S3's minimum for every part but the last
MAX_PART_BYTES = 5 * 1024 * MiB  # S3's maximum part
MAX_PARTS = 10_000  # S3's maximum number of parts
# 16 MiB parts: the browser reads each part into memory once to hash it (WebCrypto has no
# streaming digest; one part at a time, then the part goes as a slice of the file); a lost part
# costs at most 16 MiB to send again; per-request overhead stays well under 1 % at everyday speeds;
# and progress moves visibly.
DEFAULT_PART_BYTES = 16 * MiB
# Above FEW_PARTS x 16 MiB (512 MiB) parts grow, up to LARGE_PART_BYTES, so a file has at most FEW_PARTS
# of them until that cap. Each part costs CPU on both sides whatever its size (a rerun to sign its URL, a
# CORS preflight, the bucket's handling of two requests, the browser's request set-up: ~50 ms in all on
# the development machine), and CPU is what a large upload waits for when the browser, the app and a
# local store share a few cores: a 1 GiB file in 32 parts of 32 MiB took ~1.5 s less CPU than in 64
# (bench/upload_bench.py). 64 MiB keeps the memory one hash needs, and what a lost part costs, modest;
# past 2 GiB the count grows again, and past 625 GiB so does the size (at most 10,000 parts).
FEW_PARTS = 32
LARGE_PART_BYTES = 64 * MiB
_GONE = {"NoSuchUpload", "404"}


def part_size_for(size: int, threshold: int = DEFAULT_PART_BYTES) -> int:
    """Part size for a file: 16 MiB (or the threshold when lower, so a file just above it still goes
    in several parts), at least 5 MiB; above 512 MiB, large enough for at most 32 parts, up to 64 MiB;
    and always large enough for at most 10,000 parts. Sizes grow in whole MiB."""
    base = max(MIN_PART_BYTES, min(DEFAULT_PART_BYTES, threshold))
    fewer = _whole_mib(size, FEW_PARTS) if size > FEW_PARTS * DEFAULT_PART_BYTES else 0
    return min(MAX_PART_BYTES, max(base, min(LARGE_PART_BYTES, fewer), _whole_mib(size, MAX_PARTS)))


def _whole_mib(size: int, parts: int) -> int:
    """The smallest whole-MiB part size that cuts `size` into at most `parts` parts."""
    per_part = -(-size // parts)  # ceiling division
    return -(-per_part // MiB) * MiB


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def part_bytes(number: int, size: int, part_size: int) -> int:
    """Size of part `number` (1-based): full parts, then whatever is left."""
    return max(0, min(part_size, size - (number - 1) * part_size))


@dataclass(frozen=True)
class PartInBucket:
    number: int
    size: int
    etag: str
    sha256: str | None


@dataclass(frozen=True)
class MultipartGrant:
    """What the server allowed for one large file: one multipart upload, cut into parts."""

    file_id: str
    bucket: str
    key: str
    upload_id: str
    size: int
    content_type: str
    uploader: str
    original_name: str
    part_size: int
    checksums: bool  # every part carries a signed SHA-256 the bucket verifies
    sign_seq: int = 1
    in_bucket: tuple[PartInBucket, ...] = ()  # parts already there when it was (re)granted
    sha256: None = None  # no whole-file digest: the bucket reports a composite one

    @property
    def part_count(self) -> int:
        return part_count(self.size, self.part_size)

    def for_browser(self) -> dict[str, Any]:
        return {
            "kind": "multipart",
            "key": self.key,
            "uploadId": self.upload_id,
            "partSize": self.part_size,
            "partCount": self.part_count,
            "checksums": self.checksums,
            "signSeq": self.sign_seq,
            "parts": {str(p.number): {"size": p.size, "etag": p.etag, "sha256": p.sha256} for p in self.in_bucket},
        }


@dataclass(frozen=True)
class PartUrl:
    """A presigned PUT for one part, or the reason there is none."""

    number: int
    seq: int
    url: str | None = None
    expires_at: float = 0.0
    sha256: str | None = None  # the signed checksum header value; None: the URL signs none
    refused: str | None = None

    def for_browser(self) -> dict[str, Any]:
        if self.refused:
            return {"seq": self.seq, "refused": self.refused}
        return {"seq": self.seq, "url": self.url, "expiresAt": int(self.expires_at * 1000), "sha256": self.sha256}


@dataclass
class _Plan:
    content_type: str
    original: str
    checksums: bool
    part_size: int
    notes: list[str] = field(default_factory=list)


def start_or_resume(
    gateway: S3Gateway,
    store: OpenUploadStore,
    uploader: str,
    declared: DeclaredFile,
    *,
    sign_seq: int = 1,
    resume_id: str | None = None,
    last_modified: int = 0,
    key: str | None = None,
) -> MultipartGrant | Refusal:
    """Resume the upload `resume_id` when it is this person's upload of this file; else start one (at `key`,
    or a fresh one)."""
    profile = gateway.profile
    content_type, refusal = admit(profile, declared, multipart=True)
    if refusal or content_type is None:
        return refusal or Refusal(declared.id, display_name(declared.name), "No type could be pinned.")
    plan = _Plan(
        content_type=content_type,
        original=display_name(declared.name),
        checksums=profile.checksums != "off" and not declared.no_checksum,
        part_size=part_size_for(declared.size, profile.multipart_threshold_bytes),
    )
    if resume_id:
        resumed = _resume(gateway, store, uploader, declared, plan, resume_id, sign_seq)
        if resumed:
            return resumed
    return _start(gateway, store, uploader, declared, plan, sign_seq, last_modified, key)


def _start(
    gateway: S3Gateway,
    store: OpenUploadStore,
    uploader: str,
    declared: DeclaredFile,
    plan: _Plan,
    sign_seq: int,
    last_modified: int,
    key: str | None = None,
) -> MultipartGrant:
    profile = gateway.profile
    key = key or upload_key(profile, declared, uploader)
    upload_id = gateway.create_multipart(
        key,
        content_type=plan.content_type,
        metadata=metadata.for_upload(uploader, plan.original),
        content_disposition=content_disposition(plan.original),
        checksum=plan.checksums,
    )
    store.put(
        OpenUpload(
            upload_id=upload_id,
            bucket=profile.bucket,
            key=key,
            user=uploader,
            name=plan.original,
            size=declared.size,
            content_type=plan.content_type,
            part_size=plan.part_size,
            checksums=plan.checksums,
            last_modified=last_modified,
        )
    )
    return _grant(profile, declared, uploader, plan, key, upload_id, sign_seq)


def _resume(
    gateway: S3Gateway,
    store: OpenUploadStore,
    uploader: str,
    declared: DeclaredFile,
    plan: _Plan,
    upload_id: str,
    sign_seq: int,
) -> MultipartGrant | None:
    """The grant for an upload already open, or None when it is not one this file may continue."""
    record = store.get(upload_id)
    if record is None or not _same_file(record, gateway.profile, uploader, declared.size, plan):
        return None
    try:
        listed = gateway.list_parts(record.key, record.upload_id)
    except StorageError as exc:
        if exc.code in _GONE:  # aborted, completed, or removed by a lifecycle rule
            store.remove(upload_id)
            return None
        raise
    plan.part_size = record.part_size
    in_bucket = []
    for part in listed:
        number, size = part["PartNumber"], part.get("Size")
        if 1 <= number <= part_count(record.size, record.part_size) and size == part_bytes(
            number, record.size, record.part_size
        ):
            digest = part.get("ChecksumSHA256") or record.part_sha256.get(number)
            in_bucket.append(PartInBucket(number, size, part.get("ETag", ""), digest))
    return _grant(gateway.profile, declared, uploader, plan, record.key, record.upload_id, sign_seq, tuple(in_bucket))


def _same_file(record: OpenUpload, profile: BucketProfile, uploader: str, size: int, plan: _Plan) -> bool:
    return (
        record.user == uploader
        and record.bucket == profile.bucket
        and record.size == size
        and record.name == plan.original
        and record.content_type == plan.content_type
        and record.checksums == plan.checksums  # parts signed with checksums cannot be mixed with parts without
        and MIN_PART_BYTES <= record.part_size <= MAX_PART_BYTES
        and part_count(record.size, record.part_size) <= MAX_PARTS
    )


def _grant(profile, declared, uploader, plan: _Plan, key, upload_id, sign_seq, in_bucket=()) -> MultipartGrant:
    return MultipartGrant(
        file_id=declared.id,
        bucket=profile.bucket,
        key=key,
        upload_id=upload_id,
        size=declared.size,
        content_type=plan.content_type,
        uploader=uploader,
        original_name=plan.original,
        part_size=plan.part_size,
        checksums=plan.checksums,
        sign_seq=sign_seq,
        in_bucket=in_bucket,
    )


def sign_part(gateway: S3Gateway, grant: MultipartGrant, number: int, sha256: str | None, seq: int) -> PartUrl:
    """A presigned PUT for part `number` of its planned size, bound to its SHA-256 when the upload
    carries checksums."""
    if not 1 <= number <= grant.part_count:
        return PartUrl(number, seq, refused=f"Part {number} is not one of the {grant.part_count} parts planned.")
    if grant.checksums and not sha256:
        return PartUrl(
            number, seq, refused=f"Part {number} came without its SHA-256 checksum, which this upload requires."
        )
    signed = sha256 if grant.checksums else None
    expires_in = gateway.profile.policy_expiry_seconds
    expires_at = time.time() + expires_in
    # The part's planned size is signed: no part can exceed it, so the parts cannot add up past the
    # declared size (checked against max_upload_bytes before the upload started).
    size = part_bytes(number, grant.size, grant.part_size)
    url = gateway.presign_upload_part(grant.key, grant.upload_id, number, signed, expires_in, size=size)
    return PartUrl(number, seq, url=url, expires_at=expires_at, sha256=signed)


def complete(
    gateway: S3Gateway, store: OpenUploadStore, grant: MultipartGrant, etags: dict[int, str] | None = None
) -> None:
    """Complete the upload from the parts ListParts reports, after checking them against the plan.

    `etags` are those the browser read (optional: a CORS rule may hide them); one that differs from
    the bucket's means the bucket holds other bytes than the browser sent, and nothing is completed.
    Raises UploadIncomplete: resumable when parts are missing or differ (choosing the file again sends
    them), not resumable (the upload is aborted) when the parts can never make the declared file."""
    etags = etags or {}
    count = grant.part_count
    try:
        listed = {part["PartNumber"]: part for part in gateway.list_parts(grant.key, grant.upload_id)}
    except StorageError as exc:
        if exc.code in _GONE:
            return _already_gone(gateway, store, grant)
        raise
    absent = [n for n in range(1, count + 1) if n not in listed]
    if absent:
        raise UploadIncomplete(
            f"The bucket does not have {_parts(absent)} of {count}.",
            "Choose the same file again to resume; only the missing parts are sent.",
            resumable=True,
        )
    wrong = [n for n in range(1, count + 1) if listed[n].get("Size") != part_bytes(n, grant.size, grant.part_size)]
    total = sum(int(listed[n].get("Size") or 0) for n in range(1, count + 1))
    if wrong or total != grant.size:
        abort(gateway, store, grant)
        raise UploadIncomplete(
            f"Its parts add up to {human_bytes(total)} ({total} bytes), but {grant.size} bytes were declared "
            f"({_parts(wrong) or 'the sizes'} differ from the plan). The upload was aborted and its parts removed.",
            "Choose the file again to upload it from the start.",
            resumable=False,
        )
    differ = [n for n in range(1, count + 1) if etags.get(n) and _etag(etags[n]) != _etag(listed[n].get("ETag"))]
    if differ:
        raise UploadIncomplete(
            f"In the bucket, {_parts(differ)} {'is' if len(differ) == 1 else 'are'} not what the browser sent (the ETags differ).",
            "Choose the same file again to resume; parts that differ from your file are sent again.",
            resumable=True,
        )
    record = store.get(grant.upload_id)
    parts = []
    for n in range(1, count + 1):
        part: dict[str, Any] = {"PartNumber": n, "ETag": listed[n]["ETag"]}
        # A bucket that checks checksums needs each part's (and reports it in ListParts); one that
        # does not (moto) reports none, and the ones the server signed stand in.
        digest = listed[n].get("ChecksumSHA256") or (record.part_sha256.get(n) if record else None)
        if grant.checksums and digest:
            part["ChecksumSHA256"] = digest
        parts.append(part)
    try:
        gateway.complete_multipart(grant.key, grant.upload_id, parts)
    except StorageError as exc:
        if exc.code in _GONE:
            return _already_gone(gateway, store, grant)
        raise UploadIncomplete(
            f"The bucket refused to complete the upload: {exc.message}",
            "Choose the same file again to resume.",
            resumable=True,
        ) from exc
    store.remove(grant.upload_id)


def already_complete(gateway: S3Gateway, grant: MultipartGrant) -> bool:
    """Whether the object this upload makes is already in the bucket: CompleteMultipartUpload returned (the
    app may have gone down before its verdict). So the upload is no longer open, and the object at the
    grant's key (unique to it) has the size, type and uploader the grant pinned, and as many parts as
    planned wherever its ETag or checksum says how many. A browser asking to resume it must not start it
    over: the report it re-sends until answered is verified instead. One HEAD when there is no object yet."""
    head = gateway.head(grant.key)
    if head is None or not _made_by(head, grant):
        return False
    try:
        gateway.list_parts(grant.key, grant.upload_id)
    except StorageError as exc:
        if exc.code in _GONE:
            return True
        raise
    return False  # still open: the upload continues, whatever stands at its key


def _made_by(head: dict[str, Any], grant: MultipartGrant) -> bool:
    counts = {composite_parts(str(head.get("ETag") or "").strip('"')), composite_parts(head.get("ChecksumSHA256"))}
    return (
        head.get("ContentLength") == grant.size
        and head.get("ContentType") == grant.content_type
        and metadata.read(head.get("Metadata")).uploader == grant.uploader
        and counts - {None} <= {grant.part_count}
    )


def _already_gone(gateway: S3Gateway, store: OpenUploadStore, grant: MultipartGrant) -> None:
    """NoSuchUpload: fine when an earlier attempt completed it (the object is there), else say so."""
    store.remove(grant.upload_id)
    if gateway.head(grant.key) is not None:
        return
    raise UploadIncomplete(
        "The upload no longer exists in the bucket: it was aborted, or a lifecycle rule removed its parts.",
        "Choose the file again to upload it from the start.",
        resumable=False,
    )


def abort(gateway: S3Gateway, store: OpenUploadStore, grant: MultipartGrant) -> None:
    """Cancel: the bucket deletes the parts; an upload already gone is fine."""
    try:
        gateway.abort_multipart(grant.key, grant.upload_id)
    except StorageError as exc:
        if exc.code not in _GONE:
            raise
    store.remove(grant.upload_id)


@dataclass(frozen=True)
class UnfinishedUpload:
    """A multipart upload the bucket still holds: started, neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: Any  # datetime from ListMultipartUploads
    user: str | None = None  # who, what and how large: from the server's record, when it has one
    name: str | None = None
    size: int | None = None


def unfinished_uploads(gateway: S3Gateway, store: OpenUploadStore, prefix: str = "") -> list[UnfinishedUpload]:
    """Unfinished uploads in the bucket (for the audit page), oldest first. Listing the whole bucket
    also forgets records of uploads the bucket no longer has (e.g. removed by a lifecycle rule)."""
    records = {record.upload_id: record for record in store.records() if record.bucket == gateway.bucket}
    found = []
    for upload in gateway.list_multipart_uploads(prefix):
        record = records.pop(upload["UploadId"], None)
        found.append(
            UnfinishedUpload(
                key=upload["Key"],
                upload_id=upload["UploadId"],
                initiated=upload.get("Initiated"),
                user=record.user if record else None,
                name=record.name if record else None,
                size=record.size if record else None,
            )
        )
    if not prefix:
        for gone in records:
            store.remove(gone)
    return sorted(found, key=lambda upload: str(upload.initiated or ""))


def composite_parts(checksum: str | None) -> int | None:
    """The part count of a composite checksum (`<base64>-<n>`), None for a whole-object one."""
    if checksum and "-" in checksum:
        tail = checksum.rsplit("-", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None


def _etag(value: Any) -> str:
    return str(value or "").strip().strip('"').lower()


def _parts(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10]) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
    return f"part {shown}" if len(numbers) == 1 else f"parts {shown}"
