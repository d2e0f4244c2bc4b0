"""The upload component's Python side: its assets and the events it exchanges with the page.

The JS (uploader.js) knows nothing of AWS. Protocol:
  Python -> JS `data`:
    {maxBytes, accept, concurrency,
     checksums: "required" | "optional" | "off",      (absent: the JS computes none)
     multipart: {threshold, concurrency, scope},      (absent: every file is one POST)
     grants:   {id: post grant | put grant | multipart grant | {refused, code}},
     partUrls: {id: {partNumber: {seq, url, expiresAt, sha256} | {seq, refused}}},
     verified: {id: {ok, message, signSeq}},
     grantsThrough: "<epoch>:<n>"}                     (this session's latest sign event, n)
    A post grant is {kind: "post", url, fields, key, expiresAt, signSeq}; a put grant
    {kind: "put", url, headers, key, expiresAt, signSeq}: PUT the file with exactly `headers`.
    A multipart grant is {kind: "multipart", key, uploadId, partSize, partCount, checksums, signSeq,
    parts: {partNumber: {size, etag, sha256}}}: `parts` are those already in the bucket (a resume).
  JS -> Python triggers (each also carries `through`: the last `grantsThrough` the browser received):
    sign:  {files: [{id, name, size, type, lastModified, signSeq, sha256?, noChecksum?, uploadId?,
                     batch?, folder?}]}
           sha256: the whole file's (single uploads); noChecksum: why there is none
           ("insecure-context", "too-large"); uploadId: a multipart upload of this file the browser
           remembers (localStorage), to resume; batch, folder: a file of a dropped folder, the id
           of that drop (its files share one key prefix) and its folder path inside it.
    parts: {requests: [{id, signSeq, parts: [{n, sha256, held}]}]}
           part URLs wanted, each with the part's SHA-256 (hashed first: the URL signs it) and the
           seq of the URL the browser holds for it (0: none; holding the current one re-signs).
    done:  {results: [{id, signSeq, ok, status, key, etag, bytes, ms, code, message, s3Message,
                       parts?: [{n, etag, sha256}]}]}
           for a multipart upload, ok with `parts` asks the page to complete it; code "Cancelled"
           asks it to abort it; any other failure leaves its parts in the bucket for a resume.
Streamlit keeps only the last value of each trigger per script run, so every event is cumulative
and idempotent: `sign` lists every file still waiting for a grant, with the signSeq of the grant it
holds (0 for none; holding the current one asks for a re-sign); `parts` lists every part URL not
yet answered with a seq above the one held (an answer is kept until a `parts` event no longer lists
it); `done` lists every result the page has not yet acknowledged in `verified` (which echoes the
signSeq it judged). A grant goes whole until `through` says the browser received the data of the sign
event that answered it; after that as {signSeq} only (files queued for a slot do not make every rerun
carry their grants again).
Everything from the browser is untrusted: this module turns it into typed values or drops it.
Streamlit registration happens in the page (lib/ never imports streamlit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.limits import MAX_FILES_PER_EVENT, MAX_PARTS_PER_FILE_EVENT
from lib.upload.grants import DeclaredFile

ASSETS = Path(__file__).parent
NAME = "bucketdesk.uploader"
HTML = '<div class="bd-uploader"></div>'
_FILE_ID = re.compile(r"^[0-9a-f]{16,64}$")
_MAX_TEXT = 10_000  # a file name may be long; the sanitiser caps what is kept
_MAX_PARTS = 10_000  # S3's limit per upload
_NO_CHECKSUM = {"insecure-context", "too-large"}
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9._~+/=\-]{1,1024}$")
_THROUGH = re.compile(r"^[0-9a-f]{1,32}:[0-9]{1,12}$")


def js() -> str:
    return (ASSETS / "uploader.js").read_text(encoding="utf-8")


def css() -> str:
    return (ASSETS / "uploader.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class SignRequest:
    file: DeclaredFile
    held_seq: int  # signSeq of the grant the browser holds: 0 = none; current = please re-sign
    resume_upload_id: str | None = None  # a multipart upload the browser remembers for this file
    last_modified: int = 0


@dataclass(frozen=True)
class PartWanted:
    number: int
    sha256: str | None
    held_seq: int  # seq of the URL the browser holds for this part: 0 = none; current = re-sign


@dataclass(frozen=True)
class PartsRequest:
    id: str
    sign_seq: int
    parts: tuple[PartWanted, ...]


@dataclass(frozen=True)
class ReportedPart:
    number: int
    etag: str | None
    sha256: str | None


@dataclass(frozen=True)
class UploadReport:
    """What the browser says happened to one upload. Untrusted: the server verifies the object."""

    id: str
    sign_seq: int
    ok: bool
    status: int
    code: str | None
    message: str | None
    s3_message: str | None
    bytes: int
    ms: int
    parts: tuple[ReportedPart, ...] = ()


def parse_sign(value: Any) -> list[SignRequest]:
    requests = []
    for raw in _list_of(value, "files"):
        if not isinstance(raw, dict) or not _is_file_id(raw.get("id")):
            continue
        size = raw.get("size")
        declared = DeclaredFile(
            id=raw["id"],
            name=str(raw.get("name") or "")[:_MAX_TEXT],
            size=size if isinstance(size, int) and not isinstance(size, bool) else -1,
            type=str(raw.get("type") or "")[:255],
            sha256=_base64_sha256(raw.get("sha256")),
            no_checksum=raw.get("noChecksum") if raw.get("noChecksum") in _NO_CHECKSUM else None,
            folder=str(raw.get("folder") or "")[:_MAX_TEXT] if _is_file_id(raw.get("batch")) else "",
            batch=raw["batch"] if _is_file_id(raw.get("batch")) else None,
        )
        upload_id = raw.get("uploadId")
        resume = upload_id if isinstance(upload_id, str) and _UPLOAD_ID.fullmatch(upload_id) else None
        requests.append(SignRequest(declared, _int(raw.get("signSeq")), resume, _int(raw.get("lastModified"))))
    return requests


def parse_delivered(value: Any) -> str | None:
    """The `grantsThrough` an event echoes (`through`): every grant up to that sign event reached the browser."""
    through = value.get("through") if isinstance(value, dict) else None
    return through if isinstance(through, str) and _THROUGH.fullmatch(through) else None


def parse_parts(value: Any) -> list[PartsRequest]:
    requests = []
    for raw in _list_of(value, "requests"):
        if not isinstance(raw, dict) or not _is_file_id(raw.get("id")):
            continue
        wanted: dict[int, PartWanted] = {}
        items: list[Any] = raw["parts"] if isinstance(raw.get("parts"), list) else []
        for part in items[:MAX_PARTS_PER_FILE_EVENT]:
            number = _int(part.get("n")) if isinstance(part, dict) else 0
            if 1 <= number <= _MAX_PARTS:
                wanted[number] = PartWanted(number, _base64_sha256(part.get("sha256")), _int(part.get("held")))
        requests.append(PartsRequest(raw["id"], _int(raw.get("signSeq")), tuple(wanted.values())))
    return requests


def parse_done(value: Any) -> list[UploadReport]:
    reports = []
    for raw in _list_of(value, "results"):
        if not isinstance(raw, dict) or not _is_file_id(raw.get("id")):
            continue
        reports.append(
            UploadReport(
                id=raw["id"],
                sign_seq=_int(raw.get("signSeq")),
                ok=raw.get("ok") is True,
                status=_int(raw.get("status")),
                code=_text(raw.get("code")),
                message=_text(raw.get("message")),
                s3_message=_text(raw.get("s3Message")),
                bytes=_int(raw.get("bytes")),
                ms=_int(raw.get("ms")),
                parts=_reported_parts(raw.get("parts")),
            )
        )
    return reports


def _reported_parts(value: Any) -> tuple[ReportedPart, ...]:
    parts: dict[int, ReportedPart] = {}
    for raw in value[:_MAX_PARTS] if isinstance(value, list) else []:
        number = _int(raw.get("n")) if isinstance(raw, dict) else 0
        if 1 <= number <= _MAX_PARTS:
            etag = _text(raw.get("etag"))
            parts[number] = ReportedPart(number, etag[:200] if etag else None, _base64_sha256(raw.get("sha256")))
    return tuple(parts[n] for n in sorted(parts))


def _list_of(value: Any, name: str) -> list:
    items = value.get(name) if isinstance(value, dict) else None
    return items[:MAX_FILES_PER_EVENT] if isinstance(items, list) else []


def _is_file_id(value: Any) -> bool:
    return isinstance(value, str) and _FILE_ID.fullmatch(value) is not None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str | None:
    return str(value)[:1000] if value not in (None, "") else None


def _base64_sha256(value: Any) -> str | None:
    text = str(value or "")
    return text if re.fullmatch(r"[A-Za-z0-9+/]{43}=", text) else None
