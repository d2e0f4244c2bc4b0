"""lib.events: typed events in one SQLite file, safe for many threads and several processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lib.events import (
    FAILED,
    OK,
    REFUSED,
    Delete,
    EventFilter,
    EventStore,
    ListFolder,
    Share,
    SignUpload,
    Upload,
)

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path) -> EventStore:
    return EventStore(tmp_path / "nested" / "bucketdesk.db")


def test_an_event_keeps_its_kind_and_typed_details(store):
    store.record(Share(who="ann@x.io", bucket="assets", key="a.png", seconds=3600, download=False))
    [event] = store.page().events
    assert (event.who, event.action, event.bucket, event.key, event.outcome) == (
        "ann@x.io",
        "share",
        "assets",
        "a.png",
        OK,
    )
    assert event.details == {"seconds": 3600, "download": False}


def test_a_detail_the_kind_does_not_declare_is_a_type_error():
    with pytest.raises(TypeError):
        Share(who="a", bucket="b", colour="red")  # type: ignore[call-arg]


def test_a_refusal_keeps_its_sentence(store):
    store.record(Delete(who="a", bucket="b", key="k", outcome=REFUSED, message="You may not delete “k”."))
    assert store.page().events[0].details == {"message": "You may not delete “k”."}


def test_the_database_is_in_wal_mode(store):
    assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_recent_uploads_is_one_indexed_query(store):
    plan = store._connection().execute(
        "EXPLAIN QUERY PLAN SELECT id FROM events WHERE who = ? AND action = ? AND bucket = ? ORDER BY id DESC LIMIT 21",
        ("a", "upload", "b"),
    )
    assert "USING COVERING INDEX events_by_who" in " ".join(str(row) for row in plan)


def test_recent_uploads_are_the_persons_newest_in_the_bucket(store):
    for n in range(30):
        store.record(Upload(who="ann", bucket="assets", key=f"k{n}"))
        store.record(Upload(who="bob", bucket="assets", key=f"b{n}"))
        store.record(Upload(who="ann", bucket="other", key=f"o{n}"))
        store.record(SignUpload(who="ann", bucket="assets", key=f"s{n}"))
    assert [e.key for e in store.recent_uploads("ann", "assets", 3)] == ["k29", "k28", "k27"]


# --- filters and paging ---------------------------------------------------------------------------------


@pytest.fixture
def mixed(store) -> EventStore:
    rows = [
        Upload(who="ann", bucket="assets", key="design/a.png", ts=100.0),
        Upload(who="ann", bucket="assets", key="design-old/b.png", ts=200.0, outcome=FAILED),
        Delete(who="bob", bucket="assets", key="design/c.png", ts=300.0, outcome=REFUSED),
        ListFolder(who="bob", bucket="archive", key="Design/", ts=400.0),
        Share(who="ann", bucket="assets", key="design%/d", ts=500.0),
        Share(who="ann", bucket="assets", key="designXd", ts=600.0),
    ]
    for event in rows:
        store.record(event)
    return store


@pytest.mark.parametrize(
    ("where", "keys"),
    [
        (EventFilter(who="ann"), ["designXd", "design%/d", "design-old/b.png", "design/a.png"]),
        (EventFilter(action="share"), ["designXd", "design%/d"]),
        (EventFilter(bucket="archive"), ["Design/"]),
        (EventFilter(key_prefix="design/"), ["design/c.png", "design/a.png"]),  # not Design/, design-old/
        (EventFilter(key_prefix="design%"), ["design%/d"]),  # % is a character, not a wildcard
        (EventFilter(since=200.0, until=400.0), ["design/c.png", "design-old/b.png"]),
        (EventFilter(outcome=REFUSED), ["design/c.png"]),
        (EventFilter(who="ann", action="upload", outcome=OK), ["design/a.png"]),
    ],
)
def test_filters(mixed, where, keys):
    assert [e.key for e in mixed.page(where).events] == keys
    assert mixed.count(where) == len(keys)


def test_pages_go_newest_first_and_meet_without_gaps_or_repeats(store):
    for n in range(25):
        store.record(Upload(who="ann", bucket="b", key=f"k{n:02d}"))
    seen, before, pages = [], None, 0
    while True:
        page = store.page(EventFilter(who="ann"), limit=10, before=before)
        seen += [e.key for e in page.events]
        pages += 1
        if page.next_before is None:
            break
        before = page.next_before
    assert pages == 3 and seen == [f"k{n:02d}" for n in reversed(range(25))]


def test_a_page_is_stable_while_new_events_arrive(store):
    for n in range(5):
        store.record(Upload(who="a", bucket="b", key=f"k{n}"))
    first = store.page(limit=2)
    store.record(Upload(who="a", bucket="b", key="new"))
    assert [e.key for e in store.page(limit=2, before=first.next_before).events] == ["k2", "k1"]


# --- concurrency ----------------------------------------------------------------------------------------


def test_many_threads_write_without_losing_or_tearing_an_event(store):
    threads, per_thread = 8, 150

    def write(n: int) -> None:
        for i in range(per_thread):
            store.record(Upload(who=f"t{n}", bucket="b", key=f"t{n}/{i}", name="é" * 200, size=i))

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert store.count() == threads * per_thread
    for n in range(threads):
        events = store.page(EventFilter(who=f"t{n}"), limit=1000).events
        assert sorted(e.details["size"] for e in events) == list(range(per_thread))
        assert all(e.details["name"] == "é" * 200 and e.key == f"t{n}/{e.details['size']}" for e in events)


WRITER = """
import sys
sys.path.insert(0, {root!r})
from lib.events import EventStore, Upload
store = EventStore({path!r})
for i in range({count}):
    store.record(Upload(who={who!r}, bucket="b", key=f"{who}/{{i}}", size=i))
"""


def test_two_processes_write_one_file_without_losing_an_event(tmp_path):
    path = str(tmp_path / "shared.db")
    count = 300
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), path=path, count=count, who=who)])
        for who in ("p1", "p2")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    store = EventStore(Path(path))
    for who in ("p1", "p2"):
        events = store.page(EventFilter(who=who), limit=1000).events
        assert sorted(e.details["size"] for e in events) == list(range(count))
        assert {e.key for e in events} == {f"{who}/{i}" for i in range(count)}


# --- the JSON Lines import ------------------------------------------------------------------------------


def write_jsonl(path: Path) -> Path:
    lines = [
        {"ts": "2025-01-02T03:04:05Z", "who": "ann", "action": "upload", "bucket": "b", "key": "k1", "outcome": "ok"},
        {
            "ts": "2025-01-02T03:04:06Z",
            "who": "bob",
            "action": "share",
            "bucket": "b",
            "key": "k2",
            "outcome": "ok",
            "details": {"seconds": 300},
        },
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"ts": "2025-01-0', encoding="utf-8")
    return path


def test_an_old_audit_log_is_imported_once(store, tmp_path):
    old = write_jsonl(tmp_path / "audit.jsonl")
    assert store.import_jsonl(old) == 2  # the torn last line is skipped
    assert store.import_jsonl(old) == 0
    assert EventStore(store.path).import_jsonl(old) == 0  # another server process, later
    events = store.page().events
    assert [(e.who, e.action, e.key) for e in events] == [("bob", "share", "k2"), ("ann", "upload", "k1")]
    assert events[0].details == {"seconds": 300} and events[1].when.isoformat() == "2025-01-02T03:04:05+00:00"


def test_no_old_audit_log_imports_nothing(store, tmp_path):
    assert store.import_jsonl(tmp_path / "never.jsonl") == 0
    assert store.count() == 0
