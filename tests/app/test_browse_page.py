"""The Browse page on the embedded sandbox, through AppTest: folders, paging, details, share links."""

from __future__ import annotations

import io
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from lib.browse.thumbnails import THUMB_PREFIX
from lib.s3 import make_client
from lib.sandbox import start_sandbox
from tests.app.conftest import recorded

pytestmark = pytest.mark.app
S = "browse:sandbox:"


@pytest.fixture(scope="module")
def seeded():
    """A folder of its own in the sandbox bucket: 150 objects (two pages of 100), an image, a CSV, a tagged text."""
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    root = f"apptest-{uuid.uuid4().hex[:8]}/"
    bucket = box.profile.bucket
    for i in range(150):
        client.put_object(Bucket=bucket, Key=f"{root}many/{i:03d}.txt", Body=f"file {i}".encode())
    image = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 120, 200)).save(image, "PNG")
    client.put_object(Bucket=bucket, Key=f"{root}mixed/photo one.png", Body=image.getvalue(), ContentType="image/png")
    client.put_object(
        Bucket=bucket,
        Key=f"{root}mixed/notes.txt",
        Body=b"hello from the notes\n",
        ContentType="text/plain",
        Metadata={"uploaded-by": "alice@example.com", "filename": "Notes%20%C3%A9t%C3%A9.txt"},
        Tagging="project=apollo&review=done",
    )
    client.put_object(Bucket=bucket, Key=f"{root}mixed/data.csv", Body=b"a,b\n1,2\n3,4\n", ContentType="text/csv")
    client.put_object(
        Bucket=bucket,
        Key=f"{root}mixed/config.json",
        Body=json.dumps({"k": [1, 2]}).encode(),
        ContentType="application/json",
    )
    return {"root": root, "client": client, "bucket": bucket}


@pytest.fixture
def browse(app_test):
    def open_at(prefix: str = ""):
        at = app_test("pages/browse.py")
        if prefix:
            at.query_params["prefix"] = prefix
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_at


def table(at, profile: str = "sandbox"):
    [frame] = [d for d in at.dataframe if d.key and d.key.startswith(f"browse:{profile}:table:")]
    return frame


def names(at, profile: str = "sandbox") -> list[str]:
    return list(table(at, profile).value["name"])


def pick_row(at, name: str):
    """Select a row the way a click does: the table's selection state, then a rerun."""
    frame = table(at)
    row = list(frame.value["name"]).index(name)
    at.session_state[frame.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text_of(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_top_of_the_bucket_lists_folders_first(browse):
    at = browse()
    assert at.title[0].value == "Browse"
    listed = table(at).value
    assert "samples/" in list(listed["name"])
    assert list(listed["is_folder"]) == sorted(listed["is_folder"], reverse=True)
    assert not any(name.startswith(".bucketdesk") for name in listed["name"])


def test_open_a_folder_by_picking_its_row_then_go_up_by_the_breadcrumb(browse):
    at = pick_row(browse(), "samples/")
    assert names(at) == ["data/", "images/", "readme.txt"]
    assert at.query_params["prefix"] == ["samples/"] or at.query_params["prefix"] == "samples/"
    pick_row(at, "images/")
    assert names(at) == ["photo.jpg", "sea.png", "sunrise.png"]
    at.button(key=S + "crumb1").click().run()  # "samples" in the breadcrumb
    assert names(at) == ["data/", "images/", "readme.txt"]
    at.button(key=S + "up").click().run()
    assert "samples/" in names(at)


def test_next_page_and_back(browse, seeded):
    at = browse(seeded["root"] + "many/")
    first = names(at)
    assert first == [f"{i:03d}.txt" for i in range(100)]
    assert "Page **1**" in text_of(at) and "more pages follow" in text_of(at)
    assert at.button(key=S + "prev").disabled
    at.button(key=S + "next").click().run()
    assert names(at) == [f"{i:03d}.txt" for i in range(100, 150)]
    assert "Page **2**" in text_of(at) and "last page" in text_of(at)
    assert at.button(key=S + "next").disabled
    at.button(key=S + "prev").click().run()
    assert names(at) == first and "Page **1**" in text_of(at)


def test_bigger_pages_and_search_as_you_type(browse, seeded):
    at = browse(seeded["root"] + "many/")
    at.segmented_control(key=S + "page_size").set_value(250).run()
    assert len(names(at)) == 150 and "last page" in text_of(at)
    at.text_input(key=S + "search").input("14").run()
    assert names(at) == [f"14{i}.txt" for i in range(10)]
    at.text_input(key=S + "search").input("zzz").run()
    assert "No names in this folder start with" in at.info[0].value


def test_filters_and_sort_within_the_page(browse, seeded):
    at = browse(seeded["root"] + "mixed/")
    at.multiselect(key=S + "f_kinds").set_value(["image"]).run()
    assert names(at) == ["photo one.png"]
    at.multiselect(key=S + "f_kinds").set_value([]).run()
    at.text_input(key=S + "f_name").input("NOTES").run()
    assert names(at) == ["notes.txt"]
    at.text_input(key=S + "f_name").input("").run()
    at.selectbox(key=S + "f_sort").set_value("size").run()
    at.toggle(key=S + "f_desc").set_value(True).run()
    assert names(at)[0] == "photo one.png"


def test_open_details_of_an_object(browse, seeded):
    at = pick_row(browse(seeded["root"] + "mixed/"), "notes.txt")
    assert at.subheader[0].value.replace("\\", "") == "Notes été.txt"  # the original name from metadata
    assert seeded["root"] + "mixed/notes.txt" in [c.value for c in at.code]
    assert "hello from the notes" in [c.value for c in at.code]  # the text preview
    frames = {tuple(d.value.columns): d.value for d in at.dataframe}
    facts = frames[("", "value")]
    fields = dict(zip(facts[""], facts["value"], strict=True))
    assert fields["Uploaded by"] == "alice@example.com" and fields["Content type"] == "text/plain"
    assert fields["Storage class"] == "STANDARD" and fields["Size (bytes)"] == "21 (21 bytes)"
    tags = frames[("tag", "value")]
    assert dict(zip(tags["tag"], tags["value"], strict=True)) == {"project": "apollo", "review": "done"}
    assert "Versioning is off" in text_of(at)
    assert not [b for b in at.button if b.key == S + "delete"]  # allow_delete is off by default


def test_details_preview_csv_json_and_image(browse, seeded):
    at = pick_row(browse(seeded["root"] + "mixed/"), "data.csv")
    assert any(list(d.value.columns) == ["a", "b"] for d in at.dataframe)
    pick_row(at, "config.json")
    assert json.loads(at.json[0].value) == {"k": [1, 2]}
    pick_row(at, "photo one.png")
    [image] = [i for i in at.get("image")]
    assert requests.get(image.proto.imgs[0].url, timeout=30).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_pick_a_link_expiry_and_download_under_the_original_name(browse, seeded):
    at = pick_row(browse(seeded["root"] + "mixed/"), "notes.txt")
    at.number_input(key=S + "expiry_amount").set_value(2)
    at.selectbox(key=S + "expiry_unit").set_value("hours")
    at.segmented_control(key=S + "disposition").set_value("download")
    at.button(key=S + "make_link").click().run()
    assert not at.error
    link = at.code[-1].value
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["7200"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    # The sandbox (moto) ignores response-* overrides, so the signed parameter is checked here and the
    # header the bucket sends in the browser tier, on LocalStack.
    assert "filename*=UTF-8''Notes%20%C3%A9t%C3%A9.txt" in query["response-content-disposition"][0]
    assert requests.get(link, timeout=30).content == b"hello from the notes\n"
    assert "Valid for 2 hours" in text_of(at)


def test_asking_for_more_than_seven_days_says_so(browse, seeded):
    at = pick_row(browse(seeded["root"] + "mixed/"), "notes.txt")
    at.number_input(key=S + "expiry_amount").set_value(8)
    at.selectbox(key=S + "expiry_unit").set_value("days")
    at.button(key=S + "make_link").click().run()
    assert "at most 7 days" in at.error[0].value
    at.number_input(key=S + "expiry_amount").set_value(7)
    at.button(key=S + "make_link").click().run()
    assert not at.error and "X-Amz-Expires=604800" in at.code[-1].value


def test_gallery_shows_stored_thumbnails(browse, seeded):
    at = browse(seeded["root"] + "mixed/")
    at.segmented_control(key=S + "view").set_value("gallery").run()
    urls = [image.proto.imgs[0].url for image in at.get("image")]
    thumbs = [url for url in urls if THUMB_PREFIX in url]
    assert len(thumbs) == 1  # the one PNG; the others show type icons
    thumb = Image.open(io.BytesIO(requests.get(thumbs[0], timeout=30).content))
    assert thumb.format == "WEBP" and thumb.size == (256, 192)
    at.button(key=S + f"g:{seeded['root']}mixed/notes.txt").click().run()
    assert at.subheader[0].value.replace("\\", "") == "Notes été.txt"


def test_delete_with_confirmation_when_allowed(app_test, monkeypatch, seeded, tmp_path):
    monkeypatch.setenv("BUCKETDESK_ALLOW_DELETE", "true")
    key = seeded["root"] + "mixed/doomed.txt"
    seeded["client"].put_object(Bucket=seeded["bucket"], Key=key, Body=b"bye")
    at = app_test("pages/browse.py")
    at.query_params["prefix"] = seeded["root"] + "mixed/"
    at.run()
    at.button(key=S + "refresh_btn").click().run()  # listings are cached for a few seconds
    pick_row(at, "doomed.txt")
    at.button(key=S + "delete").click().run()
    assert "cannot be undone" in at.warning[-1].value
    [confirm] = [b for b in at.button if b.label == "Delete"]
    confirm.click().run()
    assert not at.exception
    assert "doomed.txt" not in names(at)
    listed = seeded["client"].list_objects_v2(Bucket=seeded["bucket"], Prefix=key).get("Contents", [])
    assert listed == []
    records = recorded(tmp_path, action="delete")
    assert records[-1]["action"] == "delete" and records[-1]["key"] == key and records[-1]["outcome"] == "ok"


def test_a_folder_with_nothing_in_it_says_so(browse, seeded):
    at = browse(seeded["root"] + "nothing-here/")
    assert "Nothing is stored under" in at.info[0].value


def test_missing_bucket_is_explained_with_what_to_check(app_test, monkeypatch):
    box = start_sandbox()
    monkeypatch.setenv("BUCKETDESK_BUCKET", "no-such-bucket")
    monkeypatch.setenv("BUCKETDESK_ENDPOINT_URL", box.endpoint_url)
    monkeypatch.setenv("BUCKETDESK_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("BUCKETDESK_REGION", "us-east-1")
    monkeypatch.setenv("BUCKETDESK_ACCESS_KEY_ID", "bucketdesk-sandbox")
    monkeypatch.setenv("BUCKETDESK_SECRET_ACCESS_KEY", "bucketdesk-sandbox-not-a-secret")
    at = app_test("pages/browse.py")
    at.run()
    assert not at.exception
    assert "does not exist" in at.error[0].value
    assert "Check the bucket name" in text_of(at)


def test_bucket_picker_lists_every_bucket_and_moves_the_sidebar_picker(app_test, tmp_path, seeded):
    box = start_sandbox()
    seeded["client"].create_bucket(Bucket="bucketdesk-second")
    seeded["client"].put_object(Bucket="bucketdesk-second", Key="only-here.txt", Body=b"2")
    common = f"""endpoint_url = "{box.endpoint_url}"
addressing_style = "path"
region = "us-east-1"
access_key_id = "bucketdesk-sandbox"
secret_access_key = "bucketdesk-sandbox-not-a-secret"
"""
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        f'[bucketdesk.profiles.demo]\nbucket = "bucketdesk-demo"\nlabel = "Demo"\n{common}\n'
        f'[bucketdesk.profiles.second]\nbucket = "bucketdesk-second"\nlabel = "Second"\n{common}'
    )
    at = app_test("pages/browse.py")
    at.query_params["prefix"] = "samples/"
    at.run()
    assert not at.exception
    assert "readme.txt" in names(at, "demo")  # the link's folder, in the first bucket
    picker = at.selectbox(key="browse:demo:bucket")
    assert picker.options == ["Demo", "Second"] and picker.value == "demo"
    picker.set_value("second").run()
    assert not at.exception
    # The sidebar's picker (streamlit_app.py) decides the bucket of the next run. AppTest reruns only
    # the page script once a pages/ folder exists, so the switch itself is checked in a browser.
    assert at.session_state["profile"] == "second"


def test_an_empty_bucket_says_so_and_points_to_upload(app_test, monkeypatch, seeded):
    box = start_sandbox()
    seeded["client"].create_bucket(Bucket="bucketdesk-empty")
    for name, value in {
        "BUCKETDESK_BUCKET": "bucketdesk-empty",
        "BUCKETDESK_ENDPOINT_URL": box.endpoint_url,
        "BUCKETDESK_ADDRESSING_STYLE": "path",
        "BUCKETDESK_REGION": "us-east-1",
        "BUCKETDESK_ACCESS_KEY_ID": "bucketdesk-sandbox",
        "BUCKETDESK_SECRET_ACCESS_KEY": "bucketdesk-sandbox-not-a-secret",
    }.items():
        monkeypatch.setenv(name, value)
    at = app_test("pages/browse.py")
    at.run()
    assert not at.exception and not at.error
    assert "is empty" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")] == ["upload"]
