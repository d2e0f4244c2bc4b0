"""Where one reader is in one bucket's browser: the folder, the page stack, the selection.

The Browse page keeps one `BrowseState` per bucket profile under one session key; widgets keep
their own values under their keys (Streamlit's rule), everything else lives here. Plain Python, so
the transitions are tested without Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib.browse.listing import Pager
from lib.browse.sharing import ShareLink


@dataclass
class BrowseState:
    prefix: str = ""  # the open folder: "" for the top, else ending in "/"
    start_after: str = ""  # a name in this folder; page 1 begins just after it
    selected: str | None = None  # the object whose details are open
    pager: Pager = field(default_factory=Pager)
    nonce: int = 0  # bumped to give the table a fresh key (no stale row selection)
    refresh: int = 0  # bumped to bypass the listing cache
    table_key: str = ""  # the key of the table the last run drew
    rows: list[tuple[str, bool]] = field(default_factory=list)  # (key, is_folder) of the rows drawn
    deleting: str | None = None  # the key whose delete dialog is open
    link: tuple[str, ShareLink] | None = None  # the share link made last, for its key
    search_offset: int = 0  # "Search everywhere": the first row of the page of results shown
    searched: tuple = ()  # the search (text, mode, page size) that offset belongs to

    def open_folder(self, prefix: str) -> None:
        """Open a folder: the page stack, the jump and the selection start over."""
        self.prefix = prefix
        self.start_after = ""
        self.select(None)

    def select(self, key: str | None) -> None:
        self.selected = key
        if key is None:
            self.nonce += 1

    def turn(self, direction: str, next_token: str | None = None) -> None:
        """Next, previous or first page; the selection belongs to the page it was made on."""
        if direction == "next":
            self.pager.next(next_token)
        elif direction == "previous":
            self.pager.previous()
        elif direction == "first":
            self.pager.first()
        self.select(None)

    def jump(self, name: str) -> None:
        self.start_after = name
        self.select(None)

    def search_for(self, searched: tuple) -> bool:
        """A new search everywhere starts at its first page, with nothing selected; True when it is new."""
        if searched == self.searched:
            return False
        self.searched, self.search_offset = searched, 0
        self.select(None)
        return True

    def search_page(self, direction: str, page_size: int = 0) -> None:
        """Next, previous or first page of search results (by offset: results come from a query)."""
        if direction == "next":
            self.search_offset += page_size
        elif direction == "previous":
            self.search_offset = max(0, self.search_offset - page_size)
        else:
            self.search_offset = 0
        self.select(None)

    def follow_table_pick(self, event: Any) -> str | None:
        """Act on a table selection event: open the picked folder (returns its prefix) or select the
        picked object. A click on any cell counts as picking its row (the checkbox is a small target)."""
        row = picked_row(event)
        if row is None or row >= len(self.rows):
            self.selected = None
            return None
        key, is_folder = self.rows[row]
        if is_folder:
            self.open_folder(key)
            return key
        self.selected = key
        return None


def picked_row(event: Any) -> int | None:
    """The row index a dataframe selection event names (rows first, then cells), or None."""
    if not isinstance(event, dict) or not isinstance(event.get("selection"), dict):
        return None
    selection = event["selection"]
    rows = list(selection.get("rows") or []) or [cell[0] for cell in selection.get("cells") or [] if cell]
    return rows[0] if rows and isinstance(rows[0], int) else None
