"""Whole-bucket search on Browse: a snapshot's matches become the rows a folder page shows, the
app's own writes since the snapshot show at once, and nothing outside allowed prefixes comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lib.browse import listing
from lib.browse.search import IndexInfo, SearchIndex, recent_writes, search_frame
from lib.errors import BadQuery
from lib.inventory.query import ObjectQuery, connect, search
from lib.inventory.store import SnapshotStore
from tests.unit.helpers import BUCKET
from tests.unit.inventory_helpers import parquet_of

pytestmark = pytest.mark.unit

KEYS = [
    "brand/logo.png",
    "deep/a/b/c/d/e/f/g/quarterly-logo-final.svg",
    "docs/report.pdf",
    "private/hr/logo.png",
]


@pytest.fixture
def index(s3, gateway, tmp_path):
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"12345")
    store = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path)
    store.build()
    return SearchIndex(store)


def test_search_rows_have_the_folder_page_columns_with_the_whole_key_as_name(tmp_path):
    con = connect([parquet_of(tmp_path, [{"key": k, "size": 7} for k in KEYS])])
    frame = search_frame(search(con, ObjectQuery(text="logo")))
    assert list(frame.columns) == listing.COLUMNS
    assert list(frame["name"]) == list(frame["key"]) == [KEYS[0], KEYS[1], KEYS[3]]
    assert not frame["is_folder"].any() and set(frame["kind"]) == {"image"}
    assert list(frame["size"]) == [7, 7, 7]


def test_a_deeply_nested_object_is_found_by_part_of_its_name(index):
    snapshot = index.latest()
    assert snapshot is not None
    result = index.search(snapshot, ObjectQuery(text="QUARTERLY-logo"), None)
    assert list(result.frame["key"]) == ["deep/a/b/c/d/e/f/g/quarterly-logo-final.svg"]
    assert result.index.objects == len(KEYS) and not result.has_more


def test_results_never_include_objects_outside_the_allowed_prefixes(index):
    snapshot = index.latest()
    assert snapshot is not None
    scoped = index.search(snapshot, ObjectQuery(text="logo"), ["brand/", "deep/"])
    assert "private/hr/logo.png" not in set(scoped.frame["key"])
    assert len(scoped.frame) == 2
    # Recent writes are filtered by the same rule: an upload elsewhere does not leak in.
    leaked = index.search(
        snapshot, ObjectQuery(text="logo"), ["brand/"], recent=recent_writes([("upload", "private/logo2.png", 1, 1.0)])
    )
    assert list(leaked.frame["key"]) == ["brand/logo.png"]
    assert index.search(snapshot, ObjectQuery(), []).empty


def test_uploads_and_deletes_since_the_snapshot_show_at_once(index):
    snapshot = index.latest()
    assert snapshot is not None
    events = [
        ("upload", "new/fresh-logo.png", 42, 2.0),
        ("delete", "brand/logo.png", None, 3.0),
        ("upload", "gone/logo-then-deleted.png", 1, 4.0),
        ("delete", "gone/logo-then-deleted.png", None, 5.0),
    ]
    result = index.search(snapshot, ObjectQuery(text="logo"), None, recent=recent_writes(events))
    keys = list(result.frame["key"])
    assert "new/fresh-logo.png" in keys and "brand/logo.png" not in keys
    assert "gone/logo-then-deleted.png" not in keys
    assert result.frame.set_index("key").loc["new/fresh-logo.png", "size"] == 42


def test_recent_writes_are_applied_in_time_order_whatever_order_they_are_read_in():
    records = recent_writes([("delete", "a.png", None, 5.0), ("upload", "a.png", 3, 1.0), ("upload", None, 1, 2.0)])
    assert [(r.key, r.deleted) for r in records] == [("a.png", False), ("a.png", True)]


def test_pages_follow_one_another_in_key_order(index):
    snapshot = index.latest()
    assert snapshot is not None
    first = index.search(snapshot, ObjectQuery(), None, page_size=100)
    assert list(first.frame["key"]) == sorted(KEYS) and first.page_number == 1
    with pytest.raises(BadQuery, match="regular expression"):
        index.search(snapshot, ObjectQuery(text="logo(", mode="regex"), None)


def test_only_a_whole_bucket_snapshot_answers_a_whole_bucket_search(s3, gateway, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="docs/a.txt", Body=b"")
    store = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path)
    index = SearchIndex(store)
    assert index.latest() is None
    whole = store.build()
    store.build(prefix="docs/")  # newer, but of one folder only
    latest = index.latest()
    assert latest is not None and latest.id == whole.id


def test_the_index_says_how_old_it_is_and_how_many_objects_it_holds():
    built = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    info = IndexInfo("id", 12_345, built)
    assert info.age(built + timedelta(seconds=20)) == "less than a minute old"
    assert info.age(built + timedelta(hours=3, minutes=5)) == "3 hours old"
    assert info.describe(built + timedelta(days=1)).startswith("Index of 12,345 objects, 1 day old")


def test_a_snapshot_with_every_version_counts_its_current_objects_not_its_rows(s3, make_gateway, tmp_path):
    bucket = "bucketdesk-unit-search-versions"  # its own: versioning cannot be turned off again
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        for body in (b"1", b"2"):
            s3.put_object(Bucket=bucket, Key="a.txt", Body=body)
        s3.put_object(Bucket=bucket, Key="b.txt", Body=b"")
        s3.delete_object(Bucket=bucket, Key="b.txt")
        store = SnapshotStore(make_gateway(bucket=bucket), mode="disk", cache_dir=tmp_path)
        index = SearchIndex(store)
        plain = store.build()
        versions = store.build(versions=True)
        assert versions.manifest.rows == 4  # two versions of a.txt, b.txt and its delete marker
        assert (index.info(versions).objects, index.info(plain).objects) == (1, 1)
        assert [index.latest().id, index.latest(versions=False).id] == [versions.id, plain.id]
        assert index.search(versions, ObjectQuery(text="txt"), None).index.objects == 1
    finally:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=bucket)
