"""The Export page on the embedded sandbox, through AppTest: preview, count, export, audit record."""

from __future__ import annotations

import json
import uuid

import pytest

from lib.s3 import make_client
from lib.sandbox import start_sandbox
from tests.app.conftest import recorded

pytestmark = pytest.mark.app
K = "export:sandbox:"


@pytest.fixture(scope="module")
def seeded():
    """A folder of the sandbox bucket with five objects, one of them a spreadsheet formula."""
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    root = f"exporttest-{uuid.uuid4().hex[:8]}/"
    keys = [f"{root}a.jpg", f"{root}b.txt", f"{root}deep/c.jpg", f"{root}=formula.csv", f"{root}big.bin"]
    for n, key in enumerate(keys):
        client.put_object(Bucket=box.profile.bucket, Key=key, Body=b"x" * (10 * (n + 1)))
    return {"root": root, "keys": sorted(keys), "client": client, "bucket": box.profile.bucket}


@pytest.fixture
def page(app_test, seeded):
    at = app_test("pages/export.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_area(key=K + "prefixes").input(seeded["root"])
    at.run()
    return at


def click(at, key: str):
    at.button(key=key).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_previews_the_first_rows_in_the_chosen_columns(page, seeded):
    page.multiselect(key=K + "columns").set_value(["key", "size"])
    page.run()
    click(page, K + "preview")
    [frame] = page.dataframe
    assert list(frame.value.columns) == ["key", "size"]
    assert list(frame.value["key"]) == seeded["keys"]
    assert list(frame.value["size"]) == [40, 10, 20, 50, 30]  # =formula.csv, a.jpg, b.txt, big.bin, deep/c.jpg


def test_a_live_count_runs_only_when_asked_and_follows_the_filters(page, seeded):
    assert any("press Count" in c.value for c in page.caption)
    page.text_input(key=K + "pattern").input(".jpg")
    page.run()
    click(page, K + "count-button")
    assert any("**2** objects match." in m.value for m in page.markdown)


def test_asking_for_head_columns_warns_of_the_requests_they_cost(page):
    page.multiselect(key=K + "columns").set_value(["key", "content_type"])
    page.run()
    assert any("one HEAD request per exported object" in w.value for w in page.warning)
    click(page, K + "count-button")
    assert any("5 HEAD requests" in w.value for w in page.warning)


def test_a_bad_size_is_a_sentence_and_nothing_runs(page):
    page.text_input(key=K + "min").input("lots")
    page.run()
    assert any("'lots' is not a size" in e.value for e in page.error)
    assert not page.button  # the buttons wait for a request that makes sense


def test_an_export_is_offered_as_a_download_and_recorded(page, seeded, tmp_path):
    page.multiselect(key=K + "columns").set_value(["key", "size"])
    page.run()
    click(page, K + "export")
    assert any("Exported 5 rows" in s.value for s in page.success)
    assert page.session_state[K + "result"][2].decode("utf-8").splitlines() == [
        "key,size",
        f"{seeded['root']}=formula.csv,40",
        f"{seeded['root']}a.jpg,10",
        f"{seeded['root']}b.txt,20",
        f"{seeded['root']}big.bin,50",
        f"{seeded['root']}deep/c.jpg,30",
    ]
    [event] = recorded(tmp_path, action="export")
    assert (event["action"], event["outcome"], event["key"]) == ("export", "ok", "download")
    assert event["details"]["rows"] == 5 and event["details"]["filter"].startswith(f"prefix {seeded['root']}")


def test_an_export_over_the_threshold_is_stored_in_the_bucket_as_a_link(app_test, seeded, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_EXPORT_DOWNLOAD_MAX_BYTES", "10")
    at = app_test("pages/export.py")
    at.run()
    at.text_area(key=K + "prefixes").input(seeded["root"])
    at.selectbox(key=K + "format").set_value("jsonl")
    at.run()
    click(at, K + "export")
    summary, delivery, payload = at.session_state[K + "result"]
    assert payload is None and delivery.key.startswith("exports/") and delivery.key.endswith(".jsonl")
    stored = seeded["client"].get_object(Bucket=seeded["bucket"], Key=delivery.key)["Body"].read()
    assert [json.loads(line)["key"] for line in stored.splitlines()] == seeded["keys"]
    assert any("stored in the bucket" in s.value for s in at.success)
