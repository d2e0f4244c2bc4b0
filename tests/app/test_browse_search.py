"""Browse's "Search everywhere" through AppTest: the index is built from the page by those who may,
a deeply nested object is found by part of its name and opens its details, a scoped person finds
nothing outside their prefixes, and a bucket without an index says so.

Snapshots are kept on disk under each test's own working directory (inventory_store = disk), so
one test's index is never another's."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from lib.browse.search import PREPARING_THREAD
from lib.inventory import jobs, localdb
from lib.s3 import make_client
from lib.sandbox import start_sandbox
from tests.app.conftest import AUTH, recorded
from tests.support.markdown import as_read

pytestmark = pytest.mark.app
S = "browse:sandbox:"
DEEP = "2025/spring/campaign/final/print/Quarterly-Report-Final.pdf"


@pytest.fixture(scope="module")
def nested():
    """A folder of its own with a deeply nested object, and a sibling folder a scoped person may not see."""
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    root = f"search-{uuid.uuid4().hex[:8]}/"
    for key in ("design/" + DEEP, "design/logo.png", "secret/Quarterly-Report-Secret.pdf"):
        client.put_object(Bucket=box.profile.bucket, Key=root + key, Body=b"x", ContentType="application/pdf")
    return root


@pytest.fixture(autouse=True)
def disk_snapshots(monkeypatch):
    monkeypatch.setenv("BUCKETDESK_INVENTORY_STORE", "disk")


def browse(app_test, monkeypatch, rules: list[dict] | None = None, email: str = ""):
    """The Browse page: the local user (every role) without rules, else `email` signed in under `rules`."""
    if rules is not None:
        monkeypatch.setenv("BUCKETDESK_ACCESS", json.dumps(rules))
    at = app_test("pages/browse.py")
    if rules is not None:
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0], "groups": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def everywhere(at):
    at.toggle(key=S + "everywhere").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def search(at, text: str):
    at.text_input(key=S + "search").input(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def build_from_the_page(at):
    """Click the page's build button, wait for the background build, and rerun."""
    [button] = [b for b in at.button if b.label in ("Build the index", "Update index")]
    button.click().run()
    for job in list(jobs._jobs.values()):
        job.join(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def result_names(at) -> list[str]:
    """The rows shown, as a table or as a gallery (a folder with mostly images opens as one)."""
    frames = [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")]
    if frames:
        return list(frames[0].value["name"])
    return [b.key.removeprefix(S + "g:") for b in at.button if b.key and b.key.startswith(S + "g:")]


def text_of(at) -> str:
    return "\n".join(as_read(x.value) for x in [*at.markdown, *at.caption, *at.info])


def test_without_an_index_the_page_says_so_and_offers_to_build_one(app_test, monkeypatch):
    at = everywhere(browse(app_test, monkeypatch))
    assert "There is no index of this bucket yet" in as_read(at.info[0].value)
    assert [b.label for b in at.button if b.label == "Build the index"] == ["Build the index"]
    assert not result_names(at)


def test_a_viewer_without_an_index_is_told_whom_to_ask_and_cannot_build(app_test, monkeypatch):
    at = everywhere(
        browse(app_test, monkeypatch, [{"who": ["vic@example.com"], "roles": ["viewer"]}], "vic@example.com")
    )
    assert "Ask an analyst or an admin" in as_read(at.info[0].value)
    assert not [b for b in at.button if b.label in ("Build the index", "Update index")]


def test_build_then_find_a_deeply_nested_object_by_part_of_its_name_and_open_it(
    app_test, monkeypatch, nested, tmp_path
):
    at = build_from_the_page(everywhere(browse(app_test, monkeypatch)))
    assert "Index of" in text_of(at) and "less than a minute old" in text_of(at)
    search(at, "report-fin")
    assert result_names(at) == [nested + "design/" + DEEP]
    frame = [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")][0]
    at.session_state[frame.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert nested + "design/" + DEEP in [c.value for c in at.code]  # the details panel is open
    assert [(e["action"], e["outcome"]) for e in recorded(tmp_path, action="index")] == [("index", "ok")]
    assert recorded(tmp_path, action="search")[-1]["details"] == {"query": "report-fin", "rows": 1}


def test_a_bad_regular_expression_gets_a_sentence(app_test, monkeypatch, nested):
    at = build_from_the_page(everywhere(browse(app_test, monkeypatch)))
    at.segmented_control(key=S + "mode").set_value("regex").run()
    search(at, "report[")
    assert "The regular expression 'report[' is not valid" in as_read(at.error[0].value)
    assert not result_names(at)


@pytest.mark.parametrize(
    ("roles", "may_update"),
    [(["viewer"], False), (["viewer", "uploader"], False), (["viewer", "analyst"], True), (["admin"], True)],
)
def test_update_index_is_offered_to_analysts_and_admins_only(app_test, monkeypatch, nested, roles, may_update):
    build_from_the_page(everywhere(browse(app_test, monkeypatch)))  # the local user builds it
    rules = [{"who": ["pat@example.com"], "roles": roles}]
    at = everywhere(browse(app_test, monkeypatch, rules, "pat@example.com"))
    assert "Index of" in text_of(at)
    assert bool([b for b in at.button if b.label == "Update index"]) is may_update


def test_a_scoped_viewers_search_never_returns_objects_outside_their_prefixes(app_test, monkeypatch, nested, tmp_path):
    build_from_the_page(everywhere(browse(app_test, monkeypatch)))
    rules = [{"who": ["vic@example.com"], "roles": ["viewer"], "prefixes": [nested + "design/"]}]
    at = search(everywhere(browse(app_test, monkeypatch, rules, "vic@example.com")), "quarterly-report")
    assert not at.error, [e.value for e in at.error]
    assert result_names(at) == [nested + "design/" + DEEP]  # not secret/Quarterly-Report-Secret.pdf
    search(at, "")
    search(at, ".")
    assert result_names(at) and all(name.startswith(nested + "design/") for name in result_names(at))
    assert "Secret" not in repr(at._tree)


def test_while_the_search_database_is_prepared_the_page_says_so_and_searches_still_answer(
    app_test, monkeypatch, nested
):
    release, real_build = threading.Event(), localdb.build

    def slow_build(*args, **kwargs):
        release.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(localdb, "build", slow_build)
    try:
        at = search(build_from_the_page(everywhere(browse(app_test, monkeypatch))), "report-fin")
        assert "preparing faster search" in text_of(at)
        assert result_names(at) == [nested + "design/" + DEEP]  # from the Parquet files meanwhile
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name == PREPARING_THREAD:
            thread.join(60)
    at.run()
    assert "Index of" in text_of(at) and "preparing" not in text_of(at)
    assert result_names(at) == [nested + "design/" + DEEP]
