"""lib.browse.state: where a reader is in "Search everywhere" results (plain Python, no Streamlit)."""

from __future__ import annotations

import pytest

from lib.browse.state import BrowseState

pytestmark = pytest.mark.unit


def test_search_results_page_forward_and_back_by_offset_and_drop_the_selection():
    here = BrowseState()
    assert here.search_for(("logo", "substring", 100)) is True
    here.search_page("next", 100)
    here.search_page("next", 100)
    assert here.search_offset == 200
    here.selected = "design/logo.png"
    here.search_page("previous", 100)
    assert here.search_offset == 100 and here.selected is None
    here.search_page("previous", 100)
    here.search_page("previous", 100)
    assert here.search_offset == 0  # never before the first row
    here.search_page("next", 100)
    here.search_page("first")
    assert here.search_offset == 0


def test_a_new_search_starts_at_its_first_page_and_the_same_search_stays_where_it_is():
    here = BrowseState()
    here.search_for(("logo", "substring", 100))
    here.search_page("next", 100)
    assert here.search_for(("logo", "substring", 100)) is False and here.search_offset == 100  # a rerun
    for changed in (("logos", "substring", 100), ("logos", "glob", 100), ("logos", "glob", 250)):
        here.search_page("next", 100)
        assert here.search_for(changed) is True and here.search_offset == 0
