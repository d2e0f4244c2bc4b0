"""The server's record of every grant it handed out, by the browser's file id, and of its verdict.

An `UploadSession` lives in Streamlit's session state, which a restart of the app (a deploy) loses,
while the browser keeps its files, its grants and its unanswered reports, and sends them again once
the app answers. This journal is what lets the new session take them up where the old one was:
- a single upload whose POST/PUT had already succeeded is verified from its re-sent `done` report
  (the key, size, type and uploader checked are the ones signed here, read back from the record),
  instead of being stored a second time under a new key;
- a grant handed out before the restart keeps its key and sign sequence when asked for again;
- a verdict reached just before the restart is given again, not reached twice;
- the files of a dropped folder keep their batch's one {uuid}, and no key is handed out twice in a
  batch: each is claimed once, by one file id (two names may sanitise alike, and the file that
  claimed a key may have been granted by the earlier self).
Records are bound to the user: a file id (random, 96 bits, from the browser) only finds a record of
the same user's. One small JSON file per file id (and per folder batch, and per key claimed in it) under
`<multipart_state_dir>/grants/`, written atomically like lib.upload.resume's records; they are
removed once older than GRANT_RECORD_SECONDS (grants expire long before that).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

from lib.limits import GRANT_RECORD_SECONDS
from lib.upload.grants import Grant
from lib.upload.multipart import MultipartGrant, PartInBucket
from lib.upload.resume import create_json, load_json, write_json

Granted = Grant | MultipartGrant
_PRUNE_EVERY_SECONDS = 3600
_last_pruned: dict[Path, float] = {}
_prune_lock = threading.Lock()


def grant_to_json(grant: Granted) -> dict[str, Any]:
    data = dataclasses.asdict(grant)
    data["kind"] = "multipart" if isinstance(grant, MultipartGrant) else "single"
    return data


def grant_from_json(data: dict[str, Any]) -> Granted | None:
    data = dict(data)
    kind = data.pop("kind", None)
    try:
        if kind == "multipart":
            data["in_bucket"] = tuple(PartInBucket(**part) for part in data.get("in_bucket") or ())
            return MultipartGrant(**data)
        if kind == "single":
            return Grant(**data)
    except TypeError:  # written by another version: not a grant this one can judge
        return None
    return None


class GrantJournal:
    """Records by (user, file id). `directory=None` keeps them in memory (tests; no restart to survive)."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) / "grants" if directory is not None else None
        self._memory: dict[str, dict[str, Any]] = {}
        self._prune_now_and_then()

    def grant(self, user: str, file_id: str) -> tuple[Granted, dict[str, Any] | None] | None:
        """The latest grant handed to this user's file, and the verdict on it (a dict) when there is one."""
        data = self._read(_name("file", user, file_id))
        if not data or data.get("user") != user or data.get("file_id") != file_id:
            return None
        grant = grant_from_json(data.get("grant") or {})
        if grant is None or grant.file_id != file_id:
            return None
        outcome = data.get("outcome")
        return grant, outcome if isinstance(outcome, dict) else None

    def granted(self, user: str, grant: Granted) -> None:
        self._write(
            _name("file", user, grant.file_id), {"user": user, "file_id": grant.file_id, "grant": grant_to_json(grant)}
        )

    def judged(self, user: str, grant: Granted, outcome: dict[str, Any]) -> None:
        record = {"user": user, "file_id": grant.file_id, "grant": grant_to_json(grant), "outcome": outcome}
        self._write(_name("file", user, grant.file_id), record)

    def batch_uuid(self, user: str, batch: str) -> str | None:
        data = self._read(_name("batch", user, batch))
        return str(data["uuid"]) if data and data.get("user") == user and data.get("uuid") else None

    def remember_batch(self, user: str, batch: str, unique: str) -> None:
        self._write(_name("batch", user, batch), {"user": user, "batch": batch, "uuid": unique})

    def claim_key(self, user: str, batch: str, key: str, file_id: str) -> bool:
        """Claim `key` in a folder batch for a file: True when it is that file's (claimed now or before),
        False when another file of the batch holds it. A claim is made once and never changes hands."""
        name = _name("key", user, "\0".join((batch, key)))
        record = {"user": user, "batch": batch, "key": key, "file_id": file_id}
        if self.directory is None:
            held = self._memory.setdefault(name, record)
        elif create_json(self.directory / name, record):
            return True
        else:
            # Unreadable (torn by a crash) counts as held by another: a fresh key costs nothing.
            held = load_json(self.directory / name) or {}
        return held.get("file_id") == file_id and held.get("key") == key and held.get("user") == user

    def _read(self, name: str) -> dict[str, Any] | None:
        if self.directory is None:
            return self._memory.get(name)
        return load_json(self.directory / name)

    def _write(self, name: str, data: dict[str, Any]) -> None:
        if self.directory is None:
            self._memory[name] = data
        else:
            write_json(self.directory / name, data)

    def _prune_now_and_then(self) -> None:
        """Remove records past their use, at most once an hour per directory (sessions start often)."""
        if self.directory is None:
            return
        now = time.time()
        with _prune_lock:
            if now - _last_pruned.get(self.directory, 0) < _PRUNE_EVERY_SECONDS:
                return
            _last_pruned[self.directory] = now
        for path in self.directory.glob("*.json") if self.directory.is_dir() else ():
            try:
                if now - path.stat().st_mtime > GRANT_RECORD_SECONDS:
                    path.unlink(missing_ok=True)
            except OSError:
                continue  # another server pruned it first


def _name(kind: str, user: str, ident: str) -> str:
    # User names and ids are the browser's and the identity provider's business: hash them into a name.
    digest = hashlib.sha256("\0".join((user, ident)).encode()).hexdigest()[:40]
    return f"{kind}-{digest}.json"
