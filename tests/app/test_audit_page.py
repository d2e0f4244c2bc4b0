"""The audit page through AppTest on the embedded sandbox: an admin sees every section (usage after
building a snapshot, hidden storage, the configuration checklist, who did what); anyone else gets
neither the page nor its actions."""

from __future__ import annotations

import threading
import uuid

import pytest

from lib.audit.config_review import CHECKS, TITLES
from lib.inventory import jobs
from lib.inventory.store import SnapshotStore
from lib.s3 import make_client
from lib.sandbox import start_sandbox
from pages import BUILD_NEWS_SECONDS
from tests.support.markdown import as_read

pytestmark = pytest.mark.app
S = "audit:sandbox:"


@pytest.fixture(scope="module")
def unfinished():
    """An unfinished multipart upload of its own in the sandbox bucket."""
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    key = f"audit-{uuid.uuid4().hex[:8]}/half.bin"
    started = client.create_multipart_upload(Bucket=box.profile.bucket, Key=key)
    client.upload_part(Bucket=box.profile.bucket, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=b"z" * 100)
    yield key
    client.abort_multipart_upload(Bucket=box.profile.bucket, Key=key, UploadId=started["UploadId"])


def opened(app_test):
    at = app_test("pages/audit.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_tab(at, name: str):
    at.session_state[S + "tab"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def build_from_the_page(at):
    """Click the Usage tab's build button: the build runs in the background (lib.inventory.jobs) and
    the page shows its progress bar; once it is done, the next run shows the new snapshot."""
    before = set(map(id, jobs._jobs.values()))
    at.button(key=S + "build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    building = [job for job in jobs._jobs.values() if id(job) not in before]
    for job in building:
        job.join(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return building


def test_an_admin_sees_every_section_and_builds_the_first_snapshot(app_test, unfinished):
    at = opened(app_test)
    assert at.title[0].value == "Audit"
    assert [tab.label for tab in at.tabs] == ["Usage", "Hidden storage", "Configuration review", "Who did what"]
    assert any("no snapshot of this bucket yet" in info.value for info in at.info)

    [job] = build_from_the_page(at)
    assert job.versions and job.status().state == jobs.DONE
    shown = metrics(at)
    assert int(shown["Objects"].replace(",", "")) > 0  # the sandbox's sample objects at least
    assert {"Bytes (current)", "Stored versions", "Bytes billed (all versions)"} <= set(shown)
    assert any(c.startswith("From snapshot ") and " rows" in c for c in captions(at))
    assert [s.value for s in at.subheader] == [
        "Where: biggest folders",
        "What: type families and extensions",
        "Storage classes",
        "Age (last modified)",
        "Largest objects",
        "Growth",
    ]
    assert len(at.get("vega_lite_chart")) >= 4  # folders, families, classes, ages

    # Hidden storage: versions from the snapshot; the unfinished upload from a live call, abortable.
    open_tab(at, "Hidden storage")
    assert {"Noncurrent versions", "Their bytes", "Delete markers"} <= set(metrics(at))
    assert at.selectbox(key=S + "unfinished:chosen").value.key == unfinished
    assert any(c.startswith("Live calls ListMultipartUploads and ListParts at ") for c in captions(at))
    assert [s.value for s in at.subheader] == [
        "Noncurrent versions and delete markers",
        "Duplicates",
        "Unfinished multipart uploads",
    ]

    # Configuration review: one card per check, each with its status.
    open_tab(at, "Configuration review")
    for check in CHECKS:
        assert any(TITLES[check.name] in m.value for m in at.markdown), check.name
    assert any(c.startswith("Live calls reading the bucket's configuration at ") for c in captions(at))

    # Who did what: this admin's own snapshot build and audit views are in the store.
    open_tab(at, "Who did what")
    [events] = [frame.value for frame in at.dataframe if "outcome" in frame.value]
    assert {"index", "audit"} <= set(events["action"])
    assert set(events["who"]) == {events["who"].iloc[0]}  # the local user
    assert [b.proto.label for b in at.get("download_button")] == ["Download CSV", "Download JSON Lines"]
    assert any(c.endswith("newest first. From the audit store at " + c.rsplit("at ", 1)[-1]) for c in captions(at))


def test_drilling_into_a_folder_shows_its_subfolders(app_test, unfinished):
    at = opened(app_test)
    if at.button(key=S + "build").proto.label == "Build a snapshot now":
        build_from_the_page(at)
    folder = unfinished.split("/")[0] + "/"
    at.session_state[S + "prefix"] = folder
    at.run()
    assert not at.exception
    assert any(folder in c.value.replace("\\", "") for c in at.caption)


def hold_builds(monkeypatch) -> threading.Event:
    """From now on a build lists pages of two keys and, after its first page, waits until it is
    cancelled: long enough to look at its progress. The returned event is set once a page is listed."""
    listed = threading.Event()
    report = jobs.BuildJob._report

    def held(job, progress):
        report(job, progress)
        listed.set()
        job.cancel.wait(30)

    monkeypatch.setattr(jobs.BuildJob, "_report", held)
    build = SnapshotStore.build
    monkeypatch.setattr(SnapshotStore, "build", lambda store, **options: build(store, page_size=2, **options))
    return listed


def test_a_running_build_shows_progress_and_cancel_keeps_the_previous_snapshot(app_test, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_INVENTORY_STORE", "disk")  # this test's own snapshots, in its own folder
    at = opened(app_test)
    build_from_the_page(at)
    [first] = [c for c in captions(at) if c.startswith("From snapshot ")]

    listed = hold_builds(monkeypatch)
    before = set(map(id, jobs._jobs.values()))
    at.button(key=S + "build").click().run()
    [job] = [job for job in jobs._jobs.values() if id(job) not in before]
    assert listed.wait(30)
    at.run()
    [bar] = at.get("progress")
    assert bar.proto.text.startswith(
        ":material/manage_search: Building a snapshot, with every version and delete marker: 2 objects listed"
    )
    assert S + "build" not in [b.key for b in at.button]  # no second build while one runs

    at.button(key=S + "cancel_build").click().run()
    job.join(30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.status().state == jobs.CANCELLED
    assert [as_read(w.value) for w in at.warning] == ["The listing was cancelled before it finished."]
    assert not at.get("progress")
    assert [c for c in captions(at) if c.startswith("From snapshot ")] == [first]  # still the latest
    assert at.button(key=S + "build").proto.label == "Build a new snapshot"
    job._ended -= BUILD_NEWS_SECONDS  # an hour later the page no longer tells of it
    at.run()
    assert not at.warning and at.button(key=S + "build").proto.label == "Build a new snapshot"


@pytest.mark.parametrize("roles", ["viewer", "uploader", "analyst", "viewer,uploader,analyst"])
def test_anyone_but_an_admin_neither_gets_the_page_nor_sees_its_sections(app_test, monkeypatch, roles):
    monkeypatch.setenv("BUCKETDESK_LOCAL_ROLES", roles)
    at = app_test("pages/audit.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["bucketdesk"]  # the navigation sent them Home
    assert not at.tabs and not at.metric
