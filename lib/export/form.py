"""The Export page's fields as typed values, and the ExportRequest they make.

The page only collects what people typed or picked (`ExportForm`); reading sizes, dates, prefixes
and patterns, and saying what is wrong with them in a sentence, happens here (`to_request`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lib.errors import BucketdeskError
from lib.export.arguments import parse_size, parse_storage_classes
from lib.export.columns import choose
from lib.export.enrich import DEFAULT_HEAD_CONCURRENCY
from lib.export.formats import FORMATS
from lib.export.request import INVENTORY, LIVE, SNAPSHOT, ExportRequest, build_query
from lib.inventory.schema import DEFAULT_EXPORT_COLUMNS

SOURCES = {LIVE: "Live listing", SNAPSHOT: "Latest snapshot", INVENTORY: "S3 Inventory report"}
PATTERN_MODES = {"substring": "contains", "glob": "glob", "regex": "regular expression"}
# S3's storage classes, for the picker (a class the bucket never uses simply matches nothing).
STORAGE_CLASSES = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
    "EXPRESS_ONEZONE",
)


class BadExportForm(BucketdeskError):
    hint = "Correct the field and try again; nothing was exported."


@dataclass(frozen=True)
class ExportForm:
    source: str = LIVE  # a key of SOURCES
    manifest_key: str = ""
    prefixes: str = ""  # one per line
    pattern_mode: str = "substring"
    pattern: str = ""
    match_case: bool = False
    type_family: str | None = None
    extensions: str = ""  # comma- or space-separated
    min_size: str = ""
    max_size: str = ""
    since: date | None = None
    until: date | None = None  # that whole day included
    storage_classes: tuple[str, ...] = ()
    all_versions: bool = False
    columns: tuple[str, ...] = DEFAULT_EXPORT_COLUMNS
    format: str = "csv"
    spreadsheet_safe: bool = True
    head_concurrency: int = DEFAULT_HEAD_CONCURRENCY

    def to_request(self) -> ExportRequest:
        """The request these fields describe; BadExportForm naming the first field that is wrong."""
        if self.format not in FORMATS:
            raise BadExportForm(f"Choose a format: {', '.join(FORMATS)}.")
        source = self._source()
        try:
            smallest, largest = _size(self.min_size, "smallest size"), _size(self.max_size, "largest size")
            filters: dict[str, Any] = {
                "prefixes": _prefixes(self.prefixes),
                "text": self.pattern.strip() if self.pattern.strip() else None,
                "mode": self.pattern_mode if self.pattern.strip() else None,
                "case_sensitive": self.match_case,
                "type_family": self.type_family or None,
                "extensions": tuple(e.lstrip(".").lower() for e in self.extensions.replace(",", " ").split()),
                "min_size": smallest,
                "max_size": largest,
                "modified_since": _day(self.since),
                "modified_until": _day(self.until, end=True),
                "storage_classes": parse_storage_classes(list(self.storage_classes)),
                "versions": "all" if self.all_versions else "latest",
            }
        except ValueError as exc:
            raise BadExportForm(str(exc)) from None
        if smallest is not None and largest is not None and smallest > largest:
            raise BadExportForm("The smallest size is larger than the largest size, so nothing could match.")
        if self.since and self.until and self.since > self.until:
            raise BadExportForm("“Modified from” is after “Modified until”, so nothing could match.")
        query = build_query(filters)
        return ExportRequest(
            query=query,
            source=source,
            columns=choose(list(self.columns)),
            format=self.format,
            spreadsheet_safe=self.spreadsheet_safe and self.format == "csv",
            concurrency=self.head_concurrency,
        )

    def _source(self) -> str:
        if self.source == INVENTORY:
            key = self.manifest_key.strip()
            if not key:
                raise BadExportForm(
                    "Give the key of the S3 Inventory report's manifest.json.",
                    "e.g. inventory/my-bucket/daily/2024-05-01T01-00Z/manifest.json",
                )
            return INVENTORY + key
        if self.source not in (LIVE, SNAPSHOT):
            raise BadExportForm(f"Choose a source: {', '.join(SOURCES.values())}.")
        return self.source


def _prefixes(text: str) -> tuple[str, ...]:
    # One per line, kept exactly (a key prefix may hold spaces or commas); blank lines ignored.
    return tuple(dict.fromkeys(line for line in text.splitlines() if line.strip()))


def _size(text: str, what: str) -> int | None:
    if not text.strip():
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ValueError(f"The {what}: {exc}") from None


def _day(day: date | None, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # ObjectQuery's modified_until is inclusive: the last microsecond of that day.
    return start + timedelta(days=1, microseconds=-1) if end else start
