"""lib.audit.events_export: the filtered audit events as CSV and JSON Lines, streamed into a
temporary file and cut off at a row or byte cap (said so), never the whole store in memory."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from lib.audit.config_review import origin_of
from lib.audit.events_export import COLUMNS, event_row, write_events

pytestmark = pytest.mark.unit


@dataclass
class Stored:
    ts: float
    who: str
    action: str
    bucket: str
    key: str | None
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)


def events(count: int):
    for number in range(count):
        yield Stored(
            1_780_000_000.0 + number,
            "alice@example.com",
            "upload",
            "assets",
            f'design/é,"q"\n{number}.png',
            "ok",
            {"size": number, "name": "a,b.png"},
        )


def test_a_row_says_who_what_where_when_and_how_it_ended():
    row = event_row(next(events(1)))
    assert row == {
        "when": "2026-05-28T20:26:40+00:00",
        "who": "alice@example.com",
        "action": "upload",
        "bucket": "assets",
        "key": 'design/é,"q"\n0.png',
        "outcome": "ok",
        "details": {"size": 0, "name": "a,b.png"},
    }


def test_csv_quotes_commas_quotes_and_newlines_and_keeps_details_as_json():
    written = write_events(events(3), "csv")
    rows = list(csv.DictReader(io.TextIOWrapper(written.file, encoding="utf-8", newline="")))
    assert written.rows == 3 and not written.truncated
    assert tuple(rows[0]) == COLUMNS
    assert [r["key"] for r in rows] == [f'design/é,"q"\n{n}.png' for n in range(3)]
    assert json.loads(rows[2]["details"]) == {"size": 2, "name": "a,b.png"}


def test_json_lines_hold_one_event_per_line():
    written = write_events(events(4), "jsonl")
    lines = written.file.read().decode("utf-8").splitlines()
    assert [json.loads(line)["details"]["size"] for line in lines] == [0, 1, 2, 3]


def test_the_row_cap_stops_the_stream_and_says_it_was_cut():
    consumed = []

    def counted():
        for event in events(1000):
            consumed.append(event)
            yield event

    written = write_events(counted(), "jsonl", max_rows=10)
    assert written.rows == 10 and written.truncated
    assert len(written.file.read().splitlines()) == 10
    assert len(consumed) == 11  # one past the cap to know there was more, not the whole store


def test_the_byte_cap_stops_the_stream_near_the_limit():
    written = write_events(events(10_000), "csv", max_bytes=20_000)
    body = written.file.read()
    assert written.truncated and 20_000 <= len(body) < 21_000


def test_a_large_export_spills_to_disk_instead_of_memory():
    written = write_events(events(20_000), "jsonl")
    assert written.rows == 20_000 and written.file._rolled  # SpooledTemporaryFile moved to a real file


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="csv, jsonl"):
        write_events(events(1), "xlsx")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8501/audit", "http://127.0.0.1:8501"),
        ("https://Desk.Example.com/audit?x=1", "https://desk.example.com"),
        ("https://desk.example.com", "https://desk.example.com"),
        ("", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_the_app_origin_comes_from_the_page_url(url, origin):
    assert origin_of(url) == origin
