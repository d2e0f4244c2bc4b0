"""One export as the page asks for it: the form's fields become a request; preview, count and run
stay inside the analyst's allowed prefixes; a run ends as a download or a signed link."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from lib.errors import BadQuery, StorageError
from lib.export import request as exports
from lib.export.columns import UnknownColumns
from lib.export.destinations import Download, SignedLink
from lib.export.form import BadExportForm, ExportForm
from lib.names import user_segment
from tests.unit.export_rows import row, write_snapshot
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit

KEYS = ["=top.csv", "alice/a.jpg", "alice/deep/b.txt", "alicexyz/x.jpg", "bob/secret.jpg", "shared/=s.csv", "top.jpg"]


@pytest.fixture
def seeded(s3):
    for n, key in enumerate(KEYS):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * (n + 1))
    return s3


def csv_keys(data: bytes) -> list[str]:
    return [line[0] for line in list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:]]


def run(gateway, request, allowed, download_max_bytes=10_000_000):
    return exports.run(
        gateway,
        request,
        allowed,
        user="ana@example.com",
        export_prefix="exports/{user}/",
        download_max_bytes=download_max_bytes,
    )


def test_the_form_becomes_a_request_with_the_querys_fields():
    request = ExportForm(
        prefixes="photos/\n\nraw files/, 2024/\n",
        pattern_mode="glob",
        pattern="*.JPG",
        extensions=".JPG, png",
        min_size="1kB",
        max_size="2GiB",
        since=date(2024, 5, 1),
        until=date(2024, 5, 31),
        storage_classes=("standard",),
        all_versions=True,
        columns=("size", "key", "uploaded_by"),
        format="parquet",
        spreadsheet_safe=True,
    ).to_request()
    query = request.query
    assert query.prefixes == ("photos/", "raw files/, 2024/")
    assert (query.text, query.mode, query.extensions) == ("*.JPG", "glob", ("jpg", "png"))
    assert (query.min_size, query.max_size) == (1000, 2 * 1024**3)
    assert query.modified_since.isoformat() == "2024-05-01T00:00:00+00:00"
    assert query.modified_until.isoformat() == "2024-05-31T23:59:59.999999+00:00"
    assert (query.storage_classes, query.versions) == (("STANDARD",), "all")
    assert request.columns == ("size", "key", "uploaded_by")
    assert request.spreadsheet_safe is False  # only CSV is changed for spreadsheets
    assert "prefix photos/, raw files/, 2024/" in request.describe()
    assert request.describe().endswith("all versions and delete markers")


@pytest.mark.parametrize(
    ("fields", "error", "sentence"),
    [
        ({"min_size": "ten"}, BadExportForm, "The smallest size: 'ten' is not a size"),
        ({"min_size": "2MB", "max_size": "1MB"}, BadExportForm, "smallest size is larger"),
        ({"since": date(2024, 6, 1), "until": date(2024, 5, 1)}, BadExportForm, "is after"),
        ({"source": "inventory:", "manifest_key": " "}, BadExportForm, "manifest.json"),
        ({"pattern_mode": "regex", "pattern": "(unclosed"}, BadQuery, "is not valid"),
        ({"pattern_mode": "glob", "pattern": "[abc"}, BadQuery, "never closes it"),
        ({"columns": ("key", "colour")}, UnknownColumns, "Not a column: colour"),
    ],
)
def test_a_bad_field_is_a_sentence_naming_it(fields, error, sentence):
    with pytest.raises(error, match=sentence):
        ExportForm(**fields).to_request()


def test_a_scoped_analysts_live_export_holds_nothing_outside_their_prefixes(gateway, seeded):
    request = ExportForm(columns=("key",)).to_request()
    done = run(gateway, request, ["alice/", "shared/"])
    assert isinstance(done.delivery, Download)
    assert csv_keys(exports.take_download(done.delivery)) == ["alice/a.jpg", "alice/deep/b.txt", "shared/=s.csv"]
    assert not done.delivery.path.exists()  # the temporary file went with the download
    assert done.summary.rows == 3 and done.summary.where == "download"
    # Asking for a prefix outside the scope gives nothing, not the prefix.
    outside = ExportForm(prefixes="bob/", columns=("key",)).to_request()
    assert exports.preview(gateway, outside, ["alice/"]).num_rows == 0
    assert exports.count(gateway, outside, ["alice/"]) == 0


def test_preview_and_count_agree_with_the_export_for_a_snapshot(gateway, s3, tmp_path):
    write_snapshot(gateway, [row(key, n) for n, key in enumerate(KEYS)])
    request = ExportForm(source="snapshot", pattern=".jpg", columns=("key", "size")).to_request()
    table = exports.preview(gateway, request, ["alice/", "bob/"], limit=1)
    assert table.to_pylist() == [{"key": "alice/a.jpg", "size": 1}]
    assert exports.count(gateway, request, ["alice/", "bob/"]) == 2
    assert exports.count(gateway, request, None) == 4
    snapshot = exports.require_snapshot(gateway)
    assert exports.snapshot_words(snapshot).startswith("taken just now (")


def test_a_live_preview_stops_at_its_rows_and_a_count_walks_everything(gateway, seeded):
    request = ExportForm(columns=("key",)).to_request()
    assert exports.preview(gateway, request, None, limit=2).column("key").to_pylist() == ["=top.csv", "alice/a.jpg"]
    seen = []
    assert exports.count(gateway, request, None, progress=seen.append) == len(KEYS)
    assert seen and seen[-1].objects == len(KEYS)


def test_an_export_over_the_threshold_is_stored_under_the_users_prefix_and_signed(gateway, seeded):
    request = ExportForm(columns=("key", "size"), spreadsheet_safe=True).to_request()
    done = run(gateway, request, None, download_max_bytes=10)
    assert isinstance(done.delivery, SignedLink)
    assert done.delivery.key.startswith(f"exports/{user_segment('ana@example.com')}/") and done.delivery.key.endswith(
        ".csv"
    )
    assert done.summary.where == f"s3://{BUCKET}/{done.delivery.key}"
    stored = seeded.get_object(Bucket=BUCKET, Key=done.delivery.key)["Body"].read()
    assert csv_keys(stored)[:2] == ["'=top.csv", "alice/a.jpg"]  # safe for spreadsheets: a leading = is quoted
    assert "shared/=s.csv" in csv_keys(stored)
    assert len(stored) == done.delivery.size == done.summary.bytes


def test_no_snapshot_is_a_sentence(gateway, s3):
    request = ExportForm(source="snapshot").to_request()
    with pytest.raises(StorageError, match="has no snapshot yet"):
        exports.count(gateway, request, None)
