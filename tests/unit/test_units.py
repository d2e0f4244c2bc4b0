"""lib.units: sizes and durations as people read them."""

from __future__ import annotations

import pytest

from lib.config import GiB
from lib.units import human_bytes, human_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KB"), (5 * GiB, "5.0 GB")])
def test_human_bytes_reads_naturally(size, text):
    assert human_bytes(size) == text


def test_human_duration_names_the_two_largest_units():
    assert human_duration(300) == "5 minutes" and human_duration(3600) == "1 hour"
    assert human_duration(93600 + 60) == "1 day 2 hours" and human_duration(30) == "under a minute"
