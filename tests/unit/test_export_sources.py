"""Sources pass on only the rows the query selects inside the allowed prefixes; HEAD columns cost
one request per object and are filled from the object's metadata."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from lib.export import enrich, sources
from lib.export.columns import UnknownColumns, choose, export_schema
from lib.inventory.query import ObjectQuery
from lib.inventory.schema import DEFAULT_EXPORT_COLUMNS, SCHEMA
from lib.names import encode_metadata
from tests.unit.export_rows import batch, row, write_snapshot
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit

ROWS = [
    row("alice/a.jpg", 10),
    row("alice/b.txt", 2**33),
    row("alice/old.jpg", 5, is_latest=False, version_id="v1"),
    row("alice/gone.jpg", None, is_delete_marker=True, version_id="v2"),
    row("bob/secret.jpg", 10),
    row("alicexyz/not-alice.jpg", 10),
    row("shared/=formula.jpg", 2**31, storage_class="GLACIER"),
]


def keys(batches) -> list[str]:
    return [key for b in batches for key in b.column("key").to_pylist()]


def test_walk_roots_cover_wanted_and_allowed_prefixes_once():
    assert sources.walk_roots((), None) == [""]
    assert sources.walk_roots((), ["alice/", "shared/"]) == ["alice/", "shared/"]
    assert sources.walk_roots(["alice/photos/"], ["alice/"]) == ["alice/photos/"]
    assert sources.walk_roots(["al"], ["alice/", "bob/"]) == ["alice/"]
    assert sources.walk_roots(["bob/"], ["alice/"]) == []
    assert sources.walk_roots(["a/", "a/b/"], None) == ["a/"]


def test_live_filters_each_walked_batch_with_the_querys_sql(gateway, monkeypatch):
    walked = []

    def fake_walk(gw, prefix="", **options):
        walked.append((prefix, options["versions"], options["concurrency"]))
        yield batch(ROWS[:4])
        yield batch([])
        yield batch(ROWS[4:])

    monkeypatch.setattr(sources, "walk", fake_walk)
    got = list(
        sources.live(
            gateway, ObjectQuery(text="*.jpg", mode="glob"), None, 3, columns=("key", "size", "last_modified_date")
        )
    )
    assert walked == [("", False, 3)]
    assert keys(got) == ["alice/a.jpg", "bob/secret.jpg", "alicexyz/not-alice.jpg", "shared/=formula.jpg"]
    assert all(b.schema == export_schema(("key", "size", "last_modified_date")) for b in got)


def test_a_scoped_live_export_lists_and_returns_nothing_outside_the_allowed_prefixes(gateway, s3, monkeypatch):
    listed = []
    real_walk = sources.walk

    def spied_walk(gw, prefix="", **options):
        listed.append(prefix)
        return real_walk(gw, prefix, **options)

    monkeypatch.setattr(sources, "walk", spied_walk)
    for item in ROWS:
        if item["size"] is not None and item["is_latest"]:
            s3.put_object(Bucket=BUCKET, Key=item["key"], Body=b"x")
    got = keys(sources.live(gateway, ObjectQuery(), ["alice/", "shared/"], columns=("key",)))
    assert got == ["alice/a.jpg", "alice/b.txt", "shared/=formula.jpg"]
    assert listed == ["alice/", "shared/"]


def test_snapshot_streams_selected_rows_in_key_order_with_listing_types(gateway, tmp_path):
    snap = write_snapshot(gateway, list(reversed(ROWS)), tmp_path)
    query = ObjectQuery(min_size=2**31, versions="all")
    got = list(sources.snapshot(snap, query, None, columns=("size", "key", "last_modified_date"), batch_rows=1))
    assert keys(got) == ["alice/b.txt", "shared/=formula.jpg"]
    assert [b.num_rows for b in got] == [1, 1]
    assert got[0].schema == pa.schema([SCHEMA.field("size"), SCHEMA.field("key"), SCHEMA.field("last_modified_date")])
    assert got[0].column("last_modified_date").to_pylist() == [datetime(2024, 5, 1, 12, 30, 45, 123000, tzinfo=UTC)]


def test_snapshot_for_a_scoped_analyst_holds_only_their_prefixes_and_versions_when_asked(gateway, tmp_path):
    snap = write_snapshot(gateway, ROWS, tmp_path)
    latest = keys(sources.snapshot(snap, ObjectQuery(), ["alice/"], columns=("key",)))
    assert latest == ["alice/a.jpg", "alice/b.txt"]
    every = keys(sources.snapshot(snap, ObjectQuery(versions="all"), ["alice/"], columns=("key",)))
    assert every == ["alice/a.jpg", "alice/b.txt", "alice/gone.jpg", "alice/old.jpg"]
    assert keys(sources.snapshot(snap, ObjectQuery(), [], columns=("key",))) == []


def test_column_choice_is_checked_against_the_schema_and_head_columns():
    assert choose(None) == DEFAULT_EXPORT_COLUMNS
    assert choose(" size, key ,content_type") == ("size", "key", "content_type")
    with pytest.raises(UnknownColumns, match="Not a column: colour, Key"):
        choose("key,colour,Key")
    with pytest.raises(UnknownColumns, match="named twice: key"):
        choose(["key", "size", "key"])


def test_head_columns_cost_one_request_per_row_and_only_when_asked():
    assert enrich.head_requests(1234, ("key", "size")) == 0
    assert enrich.head_requests(1234, ("key", "uploaded_by")) == 1234
    assert enrich.columns_to_list(("size", "content_type")) == ("size", "key", "version_id", "is_delete_marker")
    assert enrich.columns_to_list(("size", "key")) == ("size", "key")


def test_head_columns_come_from_each_objects_type_and_metadata(gateway, s3):
    s3.put_object(
        Bucket=BUCKET,
        Key="up/cat.png",
        Body=b"x",
        ContentType="image/png",
        Metadata={"uploaded-by": encode_metadata("zoë@example.com"), "filename": encode_metadata("Chat, 1.png")},
    )
    # Stored before the file-name metadata was renamed (lib.metadata): still read.
    s3.put_object(
        Bucket=BUCKET,
        Key="up/old.png",
        Body=b"x",
        ContentType="image/png",
        Metadata={"uploaded-by": "bob%40example.com", "original-name": encode_metadata("Vieux, 2.png")},
    )
    listing = [
        row("up/cat.png"),
        row("up/old.png"),
        row("up/deleted-since", 1),
        row("up/marker", None, is_delete_marker=True),
    ]
    columns = ("key", "content_type", "uploaded_by", "original_name")
    source = [pa.RecordBatch.from_pylist(listing, schema=SCHEMA).select(list(enrich.columns_to_list(columns)))]
    calls = []
    original_head = gateway.head
    gateway_head = lambda key, version_id=None: calls.append(key) or original_head(key, version_id=version_id)  # noqa: E731
    object.__setattr__(gateway, "head", gateway_head)
    try:
        got = list(enrich.with_head_columns(source, gateway, columns, concurrency=2))
    finally:
        del gateway.head
    assert got[0].schema.names == list(columns)
    assert got[0].to_pylist() == [
        {
            "key": "up/cat.png",
            "content_type": "image/png",
            "uploaded_by": "zoë@example.com",
            "original_name": "Chat, 1.png",
        },
        {
            "key": "up/old.png",
            "content_type": "image/png",
            "uploaded_by": "bob@example.com",
            "original_name": "Vieux, 2.png",
        },
        {"key": "up/deleted-since", "content_type": None, "uploaded_by": None, "original_name": None},
        {"key": "up/marker", "content_type": None, "uploaded_by": None, "original_name": None},
    ]
    assert sorted(calls) == ["up/cat.png", "up/deleted-since", "up/old.png"]  # no HEAD for a delete marker
