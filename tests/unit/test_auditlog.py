"""lib.auditlog: an append-only JSONL record that concurrent writers never corrupt."""

from __future__ import annotations

import json
import threading

import pytest

from lib.auditlog import AuditLog

pytestmark = pytest.mark.unit


def lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_record_writes_one_json_line_with_who_what_where_and_outcome(tmp_path):
    log = AuditLog(tmp_path / "nested" / "audit.jsonl")
    event = log.record("alice@example.com", "upload", "assets", "uploads/a.png", "ok", size=12, name="a.png")
    [line] = lines(log.path)
    stored = json.loads(line)
    assert stored == event
    assert stored["who"] == "alice@example.com" and stored["action"] == "upload"
    assert stored["bucket"] == "assets" and stored["key"] == "uploads/a.png" and stored["outcome"] == "ok"
    assert stored["details"] == {"size": 12, "name": "a.png"}
    assert stored["ts"].endswith("Z") and "T" in stored["ts"]


def test_record_without_details_has_no_details_field(tmp_path):
    event = AuditLog(tmp_path / "a.jsonl").record("bob", "delete", "assets", "k")
    assert "details" not in event


def test_appends_never_rewrite_earlier_records(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).record("a", "upload", "b", "k1")
    before = path.read_bytes()
    AuditLog(path).record("a", "upload", "b", "k2")  # a second writer, as another session would be
    after = path.read_bytes()
    assert after.startswith(before)
    assert [e["key"] for e in AuditLog(path).events()] == ["k1", "k2"]


def test_unicode_and_odd_values_are_kept_readable(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    log.record("josé", "upload", "b", "名前\n.png", name="Café\u202e.png", when=object())
    [event] = list(log.events())
    assert event["who"] == "josé" and event["key"] == "名前\n.png"
    assert event["details"]["name"] == "Café\u202e.png"
    assert len(lines(log.path)) == 1, "a newline inside a value must not split the record"


def test_concurrent_appends_from_threads_never_interleave(tmp_path):
    path = tmp_path / "audit.jsonl"
    threads_n, per_thread = 8, 200
    padding = "x" * 2000  # long records make a torn or interleaved write likely if appends were not atomic
    barrier = threading.Barrier(threads_n)

    def writer(n: int) -> None:
        log = AuditLog(path)
        barrier.wait()
        for i in range(per_thread):
            log.record(f"user{n}", "upload", "b", f"{n}/{i}", pad=padding)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    raw = lines(path)
    assert len(raw) == threads_n * per_thread
    parsed = [json.loads(line) for line in raw]  # every line parses
    assert {e["key"] for e in parsed} == {f"{n}/{i}" for n in range(threads_n) for i in range(per_thread)}
    for n in range(threads_n):  # each writer's records keep their order
        mine = [int(e["key"].split("/")[1]) for e in parsed if e["who"] == f"user{n}"]
        assert mine == list(range(per_thread))


def test_torn_last_line_is_skipped(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("a", "upload", "b", "k1")
    log.record("a", "upload", "b", "k2")
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write('{"ts": "2026-01-01T00:00:00Z", "who": "a", "act')  # a crash mid-write
    assert [e["key"] for e in log.events()] == ["k1", "k2"]


def test_record_after_a_torn_line_is_not_lost(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("a", "upload", "b", "k1")
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write('{"ts": "2026-01-01T00:00:00Z", "who": "a", "act')  # a crash mid-write
    log.record("a", "upload", "b", "k2")  # the first record after restart
    assert [e["key"] for e in log.events()] == ["k1", "k2"]


def test_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text('\n{"who": "a", "key": "k1"}\n\n', encoding="utf-8")
    assert [e["key"] for e in AuditLog(path).events()] == ["k1"]


def test_missing_log_has_no_events(tmp_path):
    assert list(AuditLog(tmp_path / "never-written.jsonl").events()) == []
