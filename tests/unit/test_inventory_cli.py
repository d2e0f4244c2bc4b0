"""`python -m lib.inventory`: exit 0 done, 1 storage/configuration, 2 bad arguments; always a sentence."""

from __future__ import annotations

import io
import json

import duckdb
import pytest

from lib.inventory import localdb
from lib.inventory.__main__ import main
from lib.inventory.schema import COLUMNS
from tests.unit.helpers import BUCKET, REGION

pytestmark = pytest.mark.unit


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def configured(s3, monkeypatch, tmp_path):
    monkeypatch.setenv("BUCKETDESK_BUCKET", BUCKET)
    monkeypatch.setenv("BUCKETDESK_REGION", REGION)
    monkeypatch.setenv("BUCKETDESK_INVENTORY_STORE", "disk")
    monkeypatch.setenv("BUCKETDESK_INVENTORY_CACHE_DIR", str(tmp_path / "inv"))
    for key in ["brand/logo.png", "brand/notes.txt", "deep/a/b/logo 2.png"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    return s3


def test_without_a_bucket_the_cli_says_the_sandbox_is_app_only(s3):
    code, out, err = run("list")
    assert code == 1 and out == ""
    assert "sandbox" in err and "BUCKETDESK_BUCKET" in err


def test_bad_arguments_exit_2_with_a_sentence(configured):
    code, _, err = run("frobnicate")
    assert code == 2 and "--help" in err
    code, _, err = run("search", "x", "--glob", "--regex")
    assert code == 2 and "not allowed with" in err


def test_build_list_and_search(configured, tmp_path):
    code, out, err = run("build")
    assert code == 0 and "3 rows" in out and "objects" in err and "search database" in err
    assert list((tmp_path / "inv").rglob(localdb.FILE))  # this machine's searches are fast from the first
    code, out, _ = run("list")
    assert code == 0 and len(out.splitlines()) == 1 and "listing" in out
    code, out, _ = run("search", "LOGO")
    assert code == 0 and out.splitlines() == ["brand/logo.png", "deep/a/b/logo 2.png"]
    code, out, _ = run("search", "**/logo*", "--glob", "--prefix", "deep/")
    assert out.splitlines() == ["deep/a/b/logo 2.png"]
    code, out, _ = run("search", "notes", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 1 and set(rows[0]) == set(COLUMNS) and rows[0]["key"] == "brand/notes.txt"


def test_a_bad_regex_exits_2_and_no_snapshot_exits_1(configured):
    code, out, err = run("search", "logo[", "--regex")
    assert code == 2 and out == "" and "not valid" in err
    code, out, err = run("search", "logo")
    assert code == 1 and "no snapshot" in err and "build" in err


def test_a_missing_bucket_is_a_storage_error_with_exit_1(configured, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_BUCKET", "no-such-bucket-here")
    code, _, err = run("build", "--quiet")
    assert code == 1 and "does not exist" in err


def test_import_of_a_missing_report_exits_1(configured):
    code, _, err = run("import", "inventory/none/manifest.json")
    assert code == 1 and "no S3 Inventory manifest" in err


def test_build_can_skip_the_search_database_and_a_failed_one_is_said_not_fatal(configured, tmp_path, monkeypatch):
    code, _, err = run("build", "--quiet", "--no-search-database")
    assert code == 0 and err == "" and not list((tmp_path / "inv").rglob(localdb.FILE))

    def full_disk(*args, **kwargs):
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(localdb, "build", full_disk)
    code, out, err = run("build", "--quiet")
    assert code == 0 and "3 rows" in out and "Could not prepare the search database" in err
    code, out, _ = run("search", "LOGO")  # from the Parquet files: the same answers
    assert code == 0 and out.splitlines() == ["brand/logo.png", "deep/a/b/logo 2.png"]
