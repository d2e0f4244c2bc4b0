"""A snapshot's local search database: built once per snapshot, rebuilt when missing, stale or
corrupt (never fatal: searches read the Parquet files meanwhile), and answering every query exactly
as the Parquet files do, inside the same allowed prefixes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from lib.browse.search import SearchIndex
from lib.inventory import localdb
from lib.inventory.query import (
    ORDER_BY,
    ObjectQuery,
    RecentWrite,
    connect,
    count,
    iter_matches,
    search,
)
from lib.inventory.store import SnapshotStore
from tests.unit.helpers import BUCKET
from tests.unit.inventory_helpers import table_of

pytestmark = pytest.mark.unit

BASE = datetime(2024, 5, 1, tzinfo=UTC)

# In no particular order, as a parallel walk delivers them; awkward characters for every mode.
ROWS = [
    {"key": "zeta/last.png"},
    {"key": "brand/logo.png", "version_id": "v2", "is_latest": True},
    {"key": "brand/logo.png", "version_id": "v1", "is_latest": False, "size": 1},
    {"key": "brand/logo.png", "version_id": "dm", "is_latest": False, "is_delete_marker": True, "size": None},
    {"key": "brand/Logo-Final.PNG"},
    {"key": "docs/100% done.txt"},
    {"key": "docs/100 done.txt"},
    {"key": "docs/file_name.txt"},
    {"key": "docs/filexname.txt"},
    {"key": "docs/star*.txt"},
    {"key": "docs/[draft] plan.pdf"},
    {"key": 'docs/it\'s "quoted".md'},
    {"key": "deep/a/b/c/d/e/f/logo-deep.svg", "storage_class": "GLACIER", "size": 10**9},
    {"key": "private/hr/logo.png"},
    {"key": "private/hr/salaries.xlsx"},
    {"key": "ünïcödé/ÄRGER-logo.JPG"},
    {"key": ".bucketdesk/thumbs/ab/abc.webp"},
    *({"key": f"bulk/{n % 7}/item-{n:03d}.{'png' if n % 2 else 'txt'}"} for n in range(60)),
]

QUERIES = [
    ObjectQuery(),
    ObjectQuery(text="logo"),
    ObjectQuery(text="LOGO", case_sensitive=True),
    ObjectQuery(text="Logo", case_sensitive=True),
    ObjectQuery(text="ärger"),
    ObjectQuery(text="100%"),
    ObjectQuery(text="file_name"),
    ObjectQuery(text="star*"),
    ObjectQuery(text="[draft]"),
    ObjectQuery(text='it\'s "quoted"'),
    ObjectQuery(text="'); DROP TABLE objects; --"),
    ObjectQuery(text="*.png", mode="glob"),
    ObjectQuery(text="**/logo*", mode="glob"),
    ObjectQuery(text="docs/100%*", mode="glob"),
    ObjectQuery(text="docs/star[*].txt", mode="glob"),
    ObjectQuery(text="docs/[[]draft*", mode="glob"),
    ObjectQuery(text="docs/file?name.txt", mode="glob"),
    ObjectQuery(text="docs/it's*", mode="glob"),
    ObjectQuery(text=r"^docs/\d+% ", mode="regex"),
    ObjectQuery(text=r"\[draft\]|'s \"", mode="regex"),
    ObjectQuery(text=r"item-0[0-4]\d\.", mode="regex"),
    ObjectQuery(prefixes=("bulk/3/", "docs/")),
    ObjectQuery(extensions=("pdf", ".MD")),
    ObjectQuery(type_family="image"),
    ObjectQuery(min_size=100, max_size=140),
    ObjectQuery(modified_since=BASE + timedelta(days=10), modified_until=BASE + timedelta(days=30)),
    ObjectQuery(storage_classes=("GLACIER",)),
    ObjectQuery(text="logo", versions="all"),
    ObjectQuery(include_app_files=True, versions="all"),
]
SCOPES = [None, ["brand/", "bulk/2/"], ["private/"], []]
RECENT = [
    RecentWrite("brand/new-logo.png", 42, BASE, '"abc"'),
    RecentWrite("brand/logo.png", deleted=True),
    RecentWrite("private/hr/logo-2.png", 1, BASE, "f"),
    RecentWrite("bulk/2/item-002.txt", 7, BASE, "g"),
]


@pytest.fixture
def store(s3, gateway, tmp_path):
    return SnapshotStore(gateway, mode="disk", cache_dir=tmp_path)


def publish(store: SnapshotStore, rows=ROWS):
    return store.publish(table_of(rows).to_batches(max_chunksize=17), source="listing", versions=True)


def database_file(snapshot):
    return localdb.path_in(snapshot.local_files()[0].parent)


def test_the_database_is_built_once_per_snapshot_with_its_rows_in_search_order(store):
    snapshot = publish(store)
    assert not snapshot.search_ready() and not database_file(snapshot).exists()
    assert snapshot.prepare_search() and snapshot.search_ready()
    built = database_file(snapshot).stat()
    assert snapshot.prepare_search()
    again = database_file(snapshot).stat()
    assert (again.st_ino, again.st_mtime_ns) == (built.st_ino, built.st_mtime_ns)  # not built twice
    # The order searches stop early on: the table holds its rows sorted as a search returns them.
    con = snapshot.connect()
    stored = con.execute("SELECT key, version_id FROM snapshot.objects").fetchall()  # no ORDER BY
    assert stored == con.execute(f"SELECT key, version_id FROM objects ORDER BY {ORDER_BY}").fetchall()
    assert len(stored) == len(ROWS)
    assert [p.name for p in database_file(snapshot).parent.iterdir() if "duckdb" in p.name] == [localdb.FILE]


def test_a_new_snapshot_gets_its_own_database_and_a_stale_or_old_layout_one_is_rebuilt(store, monkeypatch):
    first = publish(store)
    assert first.prepare_search()
    second = publish(store, ROWS[:5])
    assert not second.search_ready()
    # A file left from another snapshot (copied by hand, say) is not taken for this one's.
    database_file(second).write_bytes(database_file(first).read_bytes())
    assert not second.search_ready()
    assert second.prepare_search()
    assert second.connect().execute("SELECT count(*) FROM objects").fetchone() == (5,)
    monkeypatch.setattr(localdb, "LAYOUT", localdb.LAYOUT + 1)
    assert not first.search_ready()
    assert first.prepare_search() and first.search_ready()


@pytest.mark.parametrize("damage", ["corrupt", "missing", "truncated"])
def test_a_corrupt_or_missing_database_is_rebuilt_and_searches_answer_meanwhile(store, damage):
    snapshot = publish(store)
    assert snapshot.prepare_search()
    path = database_file(snapshot)
    if damage == "corrupt":
        path.write_bytes(b"not a duckdb file" * 100)
    elif damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:5000])
    assert not snapshot.search_ready()
    expected = [r["key"] for r in sorted(ROWS, key=lambda r: r["key"]) if "logo" in r["key"].lower()]
    meanwhile = search(snapshot.connect(), ObjectQuery(text="logo", versions="all"), limit=100)
    assert sorted(set(meanwhile.keys)) == sorted(set(expected))  # from the Parquet files
    assert snapshot.prepare_search() and snapshot.search_ready()
    assert search(snapshot.connect(), ObjectQuery(text="logo", versions="all"), limit=100).keys == meanwhile.keys


def test_a_database_that_cannot_be_built_leaves_searches_on_the_parquet_files(store, monkeypatch):
    snapshot = publish(store)

    def full_disk(*args, **kwargs):
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(localdb, "build", full_disk)
    assert snapshot.prepare_search() is False and not snapshot.search_ready()
    assert "brand/logo.png" in search(snapshot.connect(), ObjectQuery(text="logo")).keys


def test_a_build_that_fails_half_way_leaves_no_partial_file(store, monkeypatch):
    snapshot = publish(store)
    folder = database_file(snapshot).parent
    monkeypatch.setattr(localdb, "ORDER_BY", "no_such_column")  # fails inside CREATE TABLE
    with pytest.raises(duckdb.Error):
        localdb.build(folder, snapshot.id, snapshot.local_files())
    assert not [p for p in folder.iterdir() if localdb.FILE in p.name]


def test_every_mode_and_filter_answers_alike_over_parquet_and_the_database(store):
    snapshot = publish(store)
    assert snapshot.prepare_search()
    parquet, database = connect(snapshot.local_files()), snapshot.connect()
    for query in QUERIES:
        for scope in SCOPES:
            for recent in ((), RECENT):

                def page(con, limit, offset, query=query, scope=scope, recent=recent):
                    return search(con, query, scope, limit=limit, offset=offset, recent=recent, bucket=BUCKET)

                case = (query, scope, bool(recent))
                whole = page(parquet, 1000, 0)
                assert page(database, 1000, 0).rows.equals(whole.rows), case
                for offset in (0, 5, 30):  # paging: the same slices in the same order
                    a, b = page(parquet, 5, offset), page(database, 5, offset)
                    assert (a.keys, a.has_more) == (b.keys, b.has_more), (case, offset)
                    assert a.keys == whole.keys[offset : offset + 5], (case, offset)
                assert count(parquet, query, scope, recent=recent) == count(database, query, scope, recent=recent)
                if scope is not None:
                    assert all(any(k.startswith(p) for p in scope) for k in whole.keys), case
            streamed = [b.to_pylist() for b in iter_matches(database, query, scope, batch_rows=7)]
            assert sum(streamed, []) == search(parquet, query, scope, limit=1000).rows.to_pylist()


def test_the_search_index_reads_parquet_until_the_database_is_built_then_the_database(store):
    snapshot = publish(store)
    index = SearchIndex(store)
    first = index.search(snapshot, ObjectQuery(text="logo"), ["brand/"])
    index.prepare(snapshot).join(60)  # the first search started the build in the background
    assert snapshot.search_ready()
    after = index.search(snapshot, ObjectQuery(text="logo"), ["brand/"])
    assert list(after.frame["key"]) == list(first.frame["key"]) == ["brand/Logo-Final.PNG", "brand/logo.png"]
    cursor = index._view(snapshot).cursor()
    assert cursor.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = 'snapshot'").fetchone() == (1,)


def test_pruning_a_snapshot_removes_its_database(s3, gateway, tmp_path):
    store = SnapshotStore(gateway, mode="disk", keep=1, cache_dir=tmp_path)
    first = publish(store)
    assert first.prepare_search()
    folder = database_file(first).parent
    publish(store)
    assert not folder.exists()


def test_a_snapshot_kept_in_the_bucket_is_downloaded_then_built_on_another_server(s3, gateway, tmp_path):
    kept = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "builder")
    publish(kept)
    other = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "other")
    snapshot = other.latest()
    assert snapshot is not None and snapshot.prepare_search()
    assert str(database_file(snapshot)).startswith(str(tmp_path / "other"))
    assert count(snapshot.connect(), ObjectQuery(versions="all", include_app_files=True)) == len(ROWS)


def test_audit_and_export_answer_alike_from_the_database(store):
    from lib.audit import hidden, usage
    from lib.export import sources

    snapshot = publish(store)
    now = BASE + timedelta(days=400)
    checksums = [("brand/logo.png", "aa"), ("zeta/last.png", "aa"), ("gone.txt", "aa")]

    def answers():
        con = snapshot.connect()
        exported = sources.snapshot(snapshot, ObjectQuery(text="logo", versions="all"), ["brand/", "deep/"])
        return (
            usage.totals(con),
            usage.by_prefix(con).to_dict("list"),
            usage.by_extension(con).to_dict("list"),
            usage.by_storage_class(con).to_dict("list"),
            usage.by_age(con, now).to_dict("list"),
            usage.largest(con).to_dict("list"),
            hidden.duplicates_by_checksum(con, checksums).groups.to_dict("list"),
            [batch.to_pylist() for batch in exported],
            sources.snapshot_count(snapshot, ObjectQuery(type_family="image"), None),
        )

    from_parquet = answers()
    assert snapshot.prepare_search()
    assert answers() == from_parquet
    assert from_parquet[7] and from_parquet[-1] > 0


def test_a_failed_download_leaves_no_database_and_no_traceback(s3, gateway, tmp_path, monkeypatch):
    from botocore.exceptions import ClientError

    publish(SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "builder"))
    other = SnapshotStore(gateway, mode="bucket", cache_dir=tmp_path / "other")
    snapshot = other.latest()
    assert snapshot is not None

    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    monkeypatch.setattr(gateway.client, "download_file", refuse)
    assert snapshot.prepare_search() is False and not snapshot.search_ready()


def test_the_index_says_while_its_search_database_is_being_prepared(store, monkeypatch):
    snapshot = publish(store)
    index = SearchIndex(store)
    release, real_build = threading.Event(), localdb.build

    def slow_build(*args, **kwargs):
        release.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(localdb, "build", slow_build)
    info = index.info(snapshot)  # asking starts the preparation: a search is about to follow
    assert info.preparing and "preparing faster search" in info.describe()
    found = index.search(snapshot, ObjectQuery(text="logo"), ["brand/"])  # answered from Parquet meanwhile
    assert list(found.frame["key"]) == ["brand/Logo-Final.PNG", "brand/logo.png"] and found.index.preparing
    release.set()
    index.prepare(snapshot).join(60)
    info = index.info(snapshot)
    assert not info.preparing and "preparing" not in info.describe()


def test_a_database_that_could_not_be_built_is_not_said_to_be_preparing(store, monkeypatch):
    snapshot = publish(store)
    index = SearchIndex(store)
    monkeypatch.setattr(localdb, "build", lambda *a, **k: (_ for _ in ()).throw(duckdb.IOException("disk full")))
    index.info(snapshot)
    index.prepare(snapshot).join(60)
    assert not index.info(snapshot).preparing and not snapshot.search_ready()
