"""Filters and sorting for the rows of one listed page, built from what the reader set.

They never cause more listing: search and paging ask the bucket (lib.browse.listing); these narrow
and order the page in hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import pandas as pd

# What people filter by: a family of types, not a MIME string.
KINDS = {
    "folder": "Folders",
    "image": "Images",
    "video": "Video",
    "audio": "Audio",
    "pdf": "PDF",
    "text": "Text and data",
    "archive": "Archives",
    "other": "Other",
}
# The size slider's stops: label -> bytes (None: no upper bound).
SIZE_STEPS: dict[str, int | None] = {
    "0": 0,
    "10 KB": 10_000,
    "100 KB": 100_000,
    "1 MB": 10**6,
    "10 MB": 10**7,
    "100 MB": 10**8,
    "1 GB": 10**9,
    "any": None,
}
ANY_SIZE = ("0", "any")


@dataclass(frozen=True)
class PageFilter:
    """Filters and sort for the rows of one page (never a reason to list more)."""

    name_contains: str = ""
    kinds: tuple[str, ...] = ()  # KINDS keys; empty means all
    min_size: int | None = None
    max_size: int | None = None
    modified_from: date | None = None
    modified_to: date | None = None  # inclusive
    sort_by: str = "name"  # name | size | modified | kind
    descending: bool = False

    @property
    def filters_objects(self) -> bool:
        """Type, size and date describe objects: while one is set, folders step aside."""
        return bool(
            [k for k in self.kinds if k != "folder"]
            or self.min_size is not None
            or self.max_size is not None
            or self.modified_from
            or self.modified_to
        )

    @property
    def active(self) -> bool:
        return bool(self.name_contains.strip() or self.kinds or self.filters_objects)


SORTS = {"name": "Name", "size": "Size", "modified": "Modified", "kind": "Type"}


def apply_filter(frame: pd.DataFrame, spec: PageFilter) -> pd.DataFrame:
    """The page's rows that match, folders first, objects sorted; a new frame with a fresh index."""
    keep = pd.Series(True, index=frame.index)
    needle = spec.name_contains.strip().casefold()
    if needle:
        keep &= frame["name"].str.casefold().str.contains(needle, regex=False)
    folders = frame["is_folder"]
    if spec.kinds:
        keep &= frame["kind"].isin(spec.kinds)
    if spec.min_size is not None:
        keep &= folders | (frame["size"].fillna(0) >= spec.min_size)
    if spec.max_size is not None:
        keep &= folders | (frame["size"].fillna(0) <= spec.max_size)
    if spec.modified_from:
        start = datetime.combine(spec.modified_from, dtime.min, tzinfo=UTC)
        keep &= folders | (frame["modified"] >= start)
    if spec.modified_to:
        end = datetime.combine(spec.modified_to, dtime.max, tzinfo=UTC)
        keep &= folders | (frame["modified"] <= end)
    if spec.filters_objects and "folder" not in spec.kinds:
        keep &= ~folders
    chosen = frame[keep]
    by = spec.sort_by if spec.sort_by in SORTS else "name"
    ordered = [
        chosen[chosen["is_folder"]].sort_values(
            "name", ascending=not spec.descending if by == "name" else True, kind="stable"
        ),
        chosen[~chosen["is_folder"]].sort_values(
            [by, "name"] if by != "name" else ["name"], ascending=not spec.descending, kind="stable", na_position="last"
        ),
    ]
    return pd.concat(ordered).reset_index(drop=True) if len(chosen) else chosen.reset_index(drop=True)


def page_filter(
    *,
    name: str | None = "",
    kinds: Sequence[str] | None = (),
    size: Sequence[str] | None = ANY_SIZE,
    dates: Sequence[date] | None = (),
    sort_by: str | None = "name",
    descending: Any = False,
) -> PageFilter:
    """A PageFilter from the widgets' values as Streamlit hands them over (None, lists, half-picked ranges).

    A date range with one day picked filters that day; unknown kinds and size labels are ignored."""
    low, high = tuple(size or ANY_SIZE) if len(size or ()) == 2 else ANY_SIZE
    picked = tuple(dates or ())
    return PageFilter(
        name_contains=name or "",
        kinds=tuple(kind for kind in (kinds or ()) if kind in KINDS),
        min_size=SIZE_STEPS.get(low) or None,
        max_size=SIZE_STEPS.get(high),
        modified_from=picked[0] if picked else None,
        modified_to=picked[1] if len(picked) > 1 else (picked[0] if picked else None),
        sort_by=sort_by if sort_by in SORTS else "name",
        descending=bool(descending),
    )
