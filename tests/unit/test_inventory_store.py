"""Snapshots: Parquet + manifest in the bucket or on disk; a failed build never replaces the last one."""

from __future__ import annotations

import threading

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from lib.errors import AccessDenied, BuildCancelled
from lib.inventory.query import connect
from lib.inventory.schema import SCHEMA
from lib.inventory.store import BUCKET_PREFIX, SnapshotStore
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit


def seed(s3, count: int = 25) -> list[str]:
    keys = [f"photos/{n % 3}/img {n:03d}.png" for n in range(count)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"abc")
    return keys


def inventory_keys(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=BUCKET_PREFIX).get("Contents", [])]


def test_a_build_publishes_parquet_and_a_manifest_in_the_bucket(s3, gateway, tmp_path):
    keys = seed(s3)
    store = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "a", rows_per_file=10)
    snapshot = store.build(split="always", page_size=4)
    m = snapshot.manifest
    assert (m.source, m.bucket, m.rows, m.where, m.versions) == ("listing", BUCKET, len(keys), "bucket", False)
    assert len(m.files) == 3 and [f["name"] for f in m.schema] == SCHEMA.names
    stored = inventory_keys(s3)
    assert f"{BUCKET_PREFIX}{m.id}/manifest.json" in stored and len(stored) == 4
    # Another server (an empty cache) downloads the files and reads them back under SCHEMA.
    other = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "b")
    latest = other.latest()
    assert latest is not None and latest.id == m.id
    files = latest.local_files()
    assert all(path.is_file() and str(path).startswith(str(tmp_path / "b")) for path in files)
    table = pq.read_table(files)
    assert table.schema.equals(SCHEMA) and sorted(table.column("key").to_pylist()) == sorted(keys)
    con = connect(files)
    assert con.execute("SELECT count(*), sum(size) FROM objects").fetchone() == (len(keys), 3 * len(keys))


def test_a_cancelled_build_keeps_the_previous_snapshot_and_leaves_nothing(s3, gateway, tmp_path):
    seed(s3, 40)
    store = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path)
    first = store.build()
    before = sorted(inventory_keys(s3))
    cancel = threading.Event()
    with pytest.raises(BuildCancelled):
        store.build(split="always", page_size=3, progress=lambda p: cancel.set(), cancel=cancel)
    assert store.latest().id == first.id
    assert sorted(inventory_keys(s3)) == before
    assert [p.name for p in (tmp_path / BUCKET / "snapshots").iterdir()] == [first.id]


def test_only_the_last_few_snapshots_are_kept(s3, gateway, tmp_path):
    seed(s3, 3)
    store = SnapshotStore(gateway, mode="bucket", keep=2, cache_dir=tmp_path)
    ids = [store.build().id for _ in range(3)]
    assert [s.id for s in store.list()] == ids[:0:-1]
    assert not any(ids[0] in key for key in inventory_keys(s3))


def test_auto_keeps_snapshots_on_disk_when_the_bucket_refuses_writes(s3, gateway, tmp_path, monkeypatch):
    seed(s3, 5)

    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(gateway.client, "upload_file", refuse)
    store = SnapshotStore(gateway, mode="auto", cache_dir=tmp_path)
    snapshot = store.build()
    assert snapshot.manifest.where == "disk" and inventory_keys(s3) == []
    assert store.latest().id == snapshot.id and len(pq.read_table(snapshot.local_files())) == 5
    with pytest.raises(AccessDenied):
        SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "strict").build()


def test_disk_mode_never_writes_to_the_bucket_and_an_empty_bucket_is_a_snapshot(s3, gateway, tmp_path):
    store = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path)
    snapshot = store.build()
    assert snapshot.manifest.rows == 0 and inventory_keys(s3) == []
    assert pq.read_table(snapshot.local_files()).schema.equals(SCHEMA)


def test_no_snapshot_yet_is_none(s3, gateway, tmp_path):
    assert SnapshotStore(gateway, cache_dir=tmp_path).latest() is None


def test_a_damaged_cached_manifest_defers_to_the_buckets_copy(s3, gateway, tmp_path):
    seed(s3, 5)
    built = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path).build()
    store = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path)
    cached = store.latest().local_files()[0].parent / "manifest.json"
    cached.write_text("", encoding="utf-8")  # what a reader saw while another thread was writing it
    latest = store.latest()
    assert latest is not None and latest.id == built.id and latest.manifest.rows == 5


def test_the_cache_stays_where_it_was_when_the_working_directory_changes(s3, gateway, tmp_path, monkeypatch):
    # A search database build runs on in a background thread after the request that started it.
    monkeypatch.chdir(tmp_path)
    store = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path.relative_to(tmp_path) / "cache")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    seed(s3, 3)
    snapshot = store.build()
    assert all(str(p).startswith(str(tmp_path / "cache")) for p in snapshot.local_files())
