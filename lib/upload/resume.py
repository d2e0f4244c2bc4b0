"""The server's record of multipart uploads it started and has not yet completed or aborted.

A reload, a closed tab or a dropped network ends the Streamlit session, but not the upload: its
parts stay in the bucket. When the same person chooses the same file again, the browser names the
upload id it remembers (localStorage), and this record is what the server trusts about it: whose it
is, which key, which file (name, size, type), how it was cut into parts, and the SHA-256 of each
part the server signed (the fallback for stores whose ListParts does not report checksums).

One small JSON file per upload under `multipart_state_dir`, written atomically (temp file +
rename), so concurrent sessions of one server never see half a record. `records()` lists them all,
for the audit page's view of unfinished uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_lock = threading.Lock()


@dataclass
class OpenUpload:
    upload_id: str
    bucket: str
    key: str
    user: str
    name: str  # the display name (lib.names.display_name)
    size: int
    content_type: str
    part_size: int
    checksums: bool  # created with ChecksumAlgorithm=SHA256: every part must carry one
    created: float = field(default_factory=time.time)
    last_modified: int = 0  # the file's lastModified as the browser reported it (ms)
    part_sha256: dict[int, str] = field(default_factory=dict)  # part number -> base64 SHA-256 signed

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["part_sha256"] = {str(n): digest for n, digest in sorted(self.part_sha256.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpenUpload:
        data = dict(data)
        data["part_sha256"] = {int(n): str(digest) for n, digest in (data.get("part_sha256") or {}).items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class OpenUploadStore:
    """Records by upload id. `directory=None` keeps them in memory (tests, or no disk to write)."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, dict[str, Any]] = {}

    def get(self, upload_id: str) -> OpenUpload | None:
        with _lock:
            data = self._read(upload_id)
        return OpenUpload.from_json(data) if data else None

    def put(self, record: OpenUpload) -> None:
        with _lock:
            self._write(record.upload_id, record.to_json())

    def remember_parts(self, upload_id: str, digests: dict[int, str]) -> None:
        """Add the SHA-256 of parts just signed (a part signed again keeps the newest)."""
        with _lock:
            data = self._read(upload_id)
            if not data:
                return
            record = OpenUpload.from_json(data)
            record.part_sha256.update(digests)
            self._write(upload_id, record.to_json())

    def remove(self, upload_id: str) -> None:
        with _lock:
            self._memory.pop(upload_id, None)
            if self.directory is not None:
                self._path(upload_id).unlink(missing_ok=True)

    def records(self) -> list[OpenUpload]:
        """Every open upload recorded, oldest first; unreadable files are skipped."""
        with _lock:
            if self.directory is None:
                found = list(self._memory.values())
            else:
                found = [data for path in sorted(self.directory.glob("*.json")) if (data := load_json(path))]
        return sorted((OpenUpload.from_json(data) for data in found), key=lambda record: record.created)

    def _path(self, upload_id: str) -> Path:
        # Upload ids are long and their alphabet is the store's business: hash them into a file name.
        assert self.directory is not None
        return self.directory / (hashlib.sha256(upload_id.encode()).hexdigest()[:40] + ".json")

    def _read(self, upload_id: str) -> dict[str, Any] | None:
        if self.directory is None:
            return self._memory.get(upload_id)
        data = load_json(self._path(upload_id))
        return data if data and data.get("upload_id") == upload_id else None

    def _write(self, upload_id: str, data: dict[str, Any]) -> None:
        if self.directory is None:
            self._memory[upload_id] = data
            return
        write_json(self._path(upload_id), data)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (temp file + rename): a reader sees the old record or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def create_json(path: Path, data: dict[str, Any]) -> bool:
    """Write a record only if none is there: True when this call created it, False when one existed. Of two
    writers racing for one path exactly one wins (O_EXCL). A crash mid-write leaves a record `load_json`
    cannot read, which a caller must treat as someone else's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return True


def load_json(path: Path) -> dict[str, Any] | None:
    """A record written by `write_json`; None when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
