"""Sizes and durations as people read them."""

from __future__ import annotations


def human_bytes(size: int | float) -> str:
    """1536 -> "1.5 KB" (binary multiples, as file managers show them)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def human_duration(seconds: int) -> str:
    """'5 minutes', '2 hours', '7 days', '1 day 6 hours'."""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "under a minute"
