"""Reading what people type: sizes (`10MB`, `1GiB`), dates and times, storage classes.

Each parser raises ValueError with a sentence, which the command line reports as a bad argument.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_STORAGE_CLASS = re.compile(r"^[A-Z][A-Z0-9_]*$")


def parse_size(text: str) -> int:
    """Bytes from `1500`, `10MB` (decimal: 10,000,000) or `1GiB` (binary: 1,073,741,824)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError(
            f"{text!r} is not a size; write e.g. 1500, 10MB, 2.5GB or 1GiB (kB MB GB TB, KiB MiB GiB TiB)."
        )
    return int(float(match.group(1)) * _UNITS[unit]) if "." in match.group(1) else int(match.group(1)) * _UNITS[unit]


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A UTC instant from a date (`2024-05-01`) or an ISO 8601 time (`2024-05-01T12:00`, `…Z`, `…+02:00`).

    Times without a zone are UTC. A bare date means its first moment, or with `end_of_day` the
    first moment of the next day (so `--until 2024-05-01` includes all of 1 May)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time; write e.g. 2024-05-01 or 2024-05-01T12:30:00Z (times without a zone are UTC)."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_storage_classes(values: list[str]) -> tuple[str, ...]:
    """`STANDARD`, `glacier,deep_archive`, …: upper-cased, comma-separated or repeated."""
    classes: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().upper()
            if not name:
                continue
            if not _STORAGE_CLASS.match(name):
                raise ValueError(f"{name!r} is not a storage class; write e.g. STANDARD, STANDARD_IA or GLACIER.")
            if name not in classes:
                classes.append(name)
    return tuple(classes)
