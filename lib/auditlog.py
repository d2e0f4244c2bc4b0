"""An append-only record of who did what, one JSON object per line.

Appends are single `write` calls on a file opened with O_APPEND, so concurrent sessions in one
server never interleave a record. The log is for people: every record says who, what, where, and
how it ended.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_lock = threading.Lock()


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)

    def record(
        self, who: str, action: str, bucket: str, key: str | None = None, outcome: str = "ok", **details: Any
    ) -> dict:
        event = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "who": who,
            "action": action,
            "bucket": bucket,
            "key": key,
            "outcome": outcome,
            **({"details": details} if details else {}),
        }
        line = json.dumps(event, ensure_ascii=False, default=str) + "\n"
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as handle:
                # After a crash mid-write the last line is torn: start on a fresh line so only it is lost.
                if handle.tell():
                    handle.seek(-1, 2)
                    if handle.read(1) != b"\n":
                        line = "\n" + line
                handle.write(line.encode("utf-8"))
        return event

    def events(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a torn last line after a crash is skipped, not fatal
