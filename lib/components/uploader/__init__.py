"""The upload component's Python side: its assets and the events it exchanges with the page.

The JS (uploader.js) knows nothing of AWS. Protocol:
  Python -> JS `data`: {maxBytes, accept, concurrency, grants: {id: grant | {refused}}, verified: {id: {ok, message}}}
  JS -> Python triggers:
    sign: {files: [{id, name, size, type, lastModified, signSeq}]}
    done: {results: [{id, signSeq, ok, status, key, etag, bytes, ms, code, message, s3Message}]}
Streamlit keeps only the last value of each trigger per script run, so both events are cumulative
and idempotent: `sign` lists every file still waiting for a grant, with the signSeq of the grant it
holds (0 for none; holding the current one asks for a re-sign); `done` lists every result the page
has not yet acknowledged in `verified` (which echoes the signSeq it judged).
Everything from the browser is untrusted: this module turns it into typed values or drops it.
Streamlit registration happens in the page (lib/ never imports streamlit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.policy import DeclaredFile

ASSETS = Path(__file__).parent
NAME = "bucketdesk.uploader"
HTML = '<div class="bd-uploader"></div>'
_FILE_ID = re.compile(r"^[0-9a-f]{16,64}$")
_MAX_TEXT = 10_000  # a file name may be long; the sanitiser caps what is kept
_MAX_FILES = 1000


def js() -> str:
    return (ASSETS / "uploader.js").read_text(encoding="utf-8")


def css() -> str:
    return (ASSETS / "uploader.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class SignRequest:
    file: DeclaredFile
    held_seq: int  # signSeq of the grant the browser holds: 0 = none; current = please re-sign


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
        )
        requests.append(SignRequest(declared, _int(raw.get("signSeq"))))
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
            )
        )
    return reports


def _list_of(value: Any, name: str) -> list:
    items = value.get(name) if isinstance(value, dict) else None
    return items[:_MAX_FILES] if isinstance(items, list) else []


def _is_file_id(value: Any) -> bool:
    return isinstance(value, str) and _FILE_ID.fullmatch(value) is not None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str | None:
    return str(value)[:1000] if value not in (None, "") else None


def _base64_sha256(value: Any) -> str | None:
    text = str(value or "")
    return text if re.fullmatch(r"[A-Za-z0-9+/]{43}=", text) else None
