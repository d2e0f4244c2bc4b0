"""lib.desk's audit actions: each needs the audit role on the whole bucket (building a snapshot the
index role), is refused and recorded before S3 is touched otherwise, and is recorded when done."""

from __future__ import annotations

import csv
import io
import threading

import pytest

import lib.s3
from lib.audit import usage
from lib.errors import PermissionDenied
from lib.events import EventFilter, Upload
from lib.inventory import jobs
from lib.inventory.store import Snapshot, SnapshotStore
from lib.upload.resume import OpenUploadStore
from tests.unit.helpers import BUCKET, local_desk, recorded

pytestmark = pytest.mark.unit


@pytest.fixture
def no_s3(monkeypatch):
    """Any S3 call fails the test: a refusal must come before the bucket is touched."""

    def forbidden(*args, **kwargs):
        raise AssertionError("S3 was touched before the refusal")

    for name in ["list_page", "list_multipart_uploads", "list_parts", "abort_multipart", "bucket_configuration"]:
        monkeypatch.setattr(lib.s3.S3Gateway, name, forbidden)


@pytest.fixture
def admin(make_gateway, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snapshot store's cache dir is relative
    return local_desk(make_gateway(inventory_store="disk"), tmp_path, who="root@example.com")


def audit_calls(desk, tmp_path):
    """Every audit read and action the page makes, as a crafted call would make it."""
    where = EventFilter(bucket=BUCKET)
    store = OpenUploadStore(tmp_path / "open")
    return {
        "snapshots": lambda: desk.audit_snapshots(),
        "review": lambda: desk.audit_review("http://127.0.0.1:8501"),
        "events": lambda: desk.audit_events(where),
        "export": lambda: desk.export_events(where, "csv"),
        "checksums": lambda: list(desk.upload_checksums()),
        "unfinished": lambda: desk.unfinished_uploads(store),
        "abort": lambda: desk.abort_unfinished("a/b.bin", "upload-1", store),
    }


@pytest.mark.parametrize("roles", [("viewer",), ("uploader",), ("analyst",), ("viewer", "uploader", "analyst")])
def test_no_audit_call_is_answered_without_the_admin_role(make_gateway, tmp_path, no_s3, roles):
    desk = local_desk(make_gateway(), tmp_path, who="vic@example.com", roles=roles)
    for name, call in audit_calls(desk, tmp_path).items():
        with pytest.raises(PermissionDenied):
            call()
        assert recorded(desk.events)[-1]["outcome"] == "refused", name
    assert {e["action"] for e in recorded(desk.events)} == {"audit", "abort-unfinished"}


def finished(job) -> Snapshot:
    job.join(60)
    assert job.status().state == jobs.DONE, job.status().message
    assert job.snapshot is not None
    return job.snapshot


@pytest.mark.parametrize("call", ["build_index", "cancel_index_build"])
def test_building_or_cancelling_a_snapshot_needs_the_index_role(make_gateway, tmp_path, no_s3, call):
    viewer = local_desk(make_gateway(), tmp_path, who="vic@example.com", roles=("viewer", "uploader"))
    with pytest.raises(PermissionDenied):
        getattr(viewer, call)()
    assert recorded(viewer.events)[-1] | {"details": None} == {
        "who": "vic@example.com",
        "action": "index",
        "bucket": BUCKET,
        "key": "",
        "outcome": "refused",
        "details": None,
    }


def test_an_admin_builds_a_snapshot_and_reads_usage_from_it_both_recorded(admin, s3):
    s3.put_object(Bucket=BUCKET, Key="a/one.txt", Body=b"12345")
    s3.put_object(Bucket=BUCKET, Key="a/two.txt", Body=b"123")
    built = finished(admin.build_index(versions=True))
    assert built.manifest.versions  # the audit page's build: hidden storage reads versions
    assert [s.id for s in admin.audit_snapshots()] == [built.id]
    counted = usage.totals(admin.open_snapshot(built))
    assert (counted.objects, counted.bytes) == (2, 8)
    events = recorded(admin.events)
    assert [(e["action"], e["outcome"]) for e in events] == [("index", "ok"), ("audit", "ok"), ("audit", "ok")]
    assert events[0]["details"]["objects"] == 2
    assert events[2]["details"] == {"view": "usage", "snapshot": built.id}


def test_cancelling_the_running_build_keeps_the_previous_snapshot_and_records_why_and_who(
    admin, s3, monkeypatch, make_gateway, tmp_path
):
    for n in range(6):
        s3.put_object(Bucket=BUCKET, Key=f"a/{n}.txt", Body=b"x")
    first = finished(admin.build_index(versions=True))
    listed_a_page = threading.Event()
    report = jobs.BuildJob._report

    def held(job, progress):  # the walk reports its first page, then waits until someone cancels
        report(job, progress)
        listed_a_page.set()
        job.cancel.wait(10)

    monkeypatch.setattr(jobs.BuildJob, "_report", held)
    build = SnapshotStore.build
    monkeypatch.setattr(SnapshotStore, "build", lambda store, **options: build(store, page_size=2, **options))
    job = admin.build_index(versions=True)
    assert listed_a_page.wait(10)
    other = local_desk(make_gateway(inventory_store="disk"), tmp_path, who="ops@example.com")
    other.cancel_index_build()  # another admin stops the build root started
    job.join(10)
    assert (job.status().state, job.snapshot) == (jobs.CANCELLED, None)
    assert [s.id for s in admin.audit_snapshots()] == [first.id]
    builds = [(e["outcome"], e["details"].get("message")) for e in recorded(admin.events, action="index")]
    assert builds == [("ok", None), ("failed", "The listing was cancelled before it finished.")]
    assert recorded(admin.events, action="index")[-1]["details"]["cancelled_by"] == "ops@example.com"


def test_a_page_of_events_and_its_count_agree(admin):
    for index in range(3):
        admin.events.record(Upload(who="alice@example.com", bucket=BUCKET, key=f"k{index}"))
    page, matching = admin.audit_events(EventFilter(bucket=BUCKET), limit=2)
    assert ([e.key for e in page.events], matching) == (["k2", "k1"], 3)  # this view is recorded after
    page, matching = admin.audit_events(EventFilter(bucket=BUCKET), before=page.next_before, limit=2)
    assert ([e.key for e in page.events], matching) == (["k0"], 4)  # older than k1; the first view now counts


def test_the_event_download_holds_the_filtered_events_and_is_recorded(admin):
    for index in range(3):
        admin.events.record(Upload(who="alice@example.com", bucket=BUCKET, key=f"k{index}", sha256=f"d{index % 2}"))
    admin.events.record(Upload(who="bob@example.com", bucket=BUCKET, key="b"))
    written = admin.export_events(EventFilter(who="alice@example.com"), "csv")
    rows = list(csv.DictReader(io.TextIOWrapper(written.file, encoding="utf-8", newline="")))
    assert [r["key"] for r in rows] == ["k2", "k1", "k0"]  # newest first
    assert recorded(admin.events, action="audit")[-1]["details"] == {"view": "events-export", "format": "csv"}
    assert sorted(admin.upload_checksums()) == [("k0", "d0"), ("k1", "d1"), ("k2", "d0")]
