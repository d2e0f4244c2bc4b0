"""The parallel walk lists every key exactly once, whatever the keys and however it splits."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from lib.config import BucketProfile
from lib.errors import BuildCancelled
from lib.inventory.schema import SCHEMA
from lib.inventory.walk import _density_cuts, walk
from lib.s3 import S3Gateway
from tests.unit.helpers import BUCKET, REGION
from tests.unit.inventory_helpers import AWKWARD_KEYS

pytestmark = pytest.mark.unit

FLAT = [f"flat/{n:05d}.bin" for n in range(5000)]
TREE = [f"tree/d{a}/s{b}/f{c}.txt" for a in range(6) for b in range(5) for c in range(12)]


@pytest.fixture(scope="module")
def seeded(_moto):
    """One bucket seeded once for the module (5,000 puts are the slow part)."""
    client = _moto
    bucket = "bucketdesk-unit-walk"
    client.create_bucket(Bucket=bucket)
    for key in AWKWARD_KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    # Straight into moto's backend: 5,000 PutObject calls would dominate the tier's time.
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in [*FLAT, *TREE]:
        backend.put_object(bucket, key, b"x")
    yield S3Gateway(BucketProfile(name="walk", bucket=bucket, region=REGION))
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def keys_of(batches) -> Counter:
    seen: Counter = Counter()
    for batch in batches:
        assert batch.schema.equals(SCHEMA)
        seen.update(batch.column("key").to_pylist())
    return seen


@pytest.mark.parametrize(
    ("split", "page_size", "concurrency"),
    [("never", 1000, 1), ("always", 1000, 8), ("always", 97, 8), ("always", 251, 3), ("auto", 200, 4)],
)
def test_the_walk_sees_every_key_exactly_once(seeded, split, page_size, concurrency):
    seen = keys_of(walk(seeded, split=split, page_size=page_size, concurrency=concurrency, batch_rows=500))
    assert set(seen) == {*AWKWARD_KEYS, *FLAT, *TREE}
    assert [key for key, times in seen.items() if times > 1] == []
    assert seeded.client._bucketdesk_lean is True  # listed by the lean path, not boto3's fallback


def test_the_walk_on_boto3s_fallback_sees_the_same_rows(seeded):
    lean = {b["key"]: b for batch in walk(seeded, "tree/") for b in batch.to_pylist()}
    fallback = S3Gateway(seeded.profile)
    fallback.client._bucketdesk_lean = False
    assert {b["key"]: b for batch in walk(fallback, "tree/") for b in batch.to_pylist()} == lean
    assert fallback.client._bucketdesk_lean is False


@pytest.mark.parametrize("prefix", ["tree/d3/", "tree/", "deep/", "a/"])
def test_a_walk_of_a_prefix_sees_its_keys_once_with_tiny_pages(seeded, prefix):
    seen = keys_of(walk(seeded, prefix, split="always", page_size=3, concurrency=4))
    assert set(seen) == {key for key in [*TREE, *AWKWARD_KEYS] if key.startswith(prefix)}
    assert max(seen.values()) == 1


def test_progress_reports_objects_and_ends_with_the_total(seeded):
    reports = []
    keys_of(walk(seeded, "tree/", split="always", page_size=20, progress=reports.append))
    assert reports[-1].objects == len(TREE)
    assert reports[-1].prefixes_left == 0


def test_cancelling_raises_a_specific_error(seeded):
    cancel = threading.Event()

    def stop_soon(progress):
        cancel.set()

    batches = walk(seeded, split="always", page_size=10, progress=stop_soon, cancel=cancel, batch_rows=10)
    with pytest.raises(BuildCancelled) as caught:
        keys_of(batches)
    assert "cancelled" in caught.value.message


def test_rows_carry_size_etag_and_storage_class_without_quotes(seeded):
    rows = [row for b in walk(seeded, "top-level", split="never") for row in b.to_pylist()]
    assert len(rows) == 1
    row = rows[0]
    assert row["size"] == 1 and row["storage_class"] == "STANDARD" and row["is_latest"] is True
    assert row["e_tag"] and '"' not in row["e_tag"] and row["is_multipart_uploaded"] is False
    assert row["bucket"] == seeded.bucket and row["last_modified_date"].tzinfo is not None


def test_versions_and_delete_markers_are_listed(_moto):
    client = _moto
    bucket = "bucketdesk-unit-versions"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        for n in range(3):
            client.put_object(Bucket=bucket, Key="doc/report.pdf", Body=b"v" * (n + 1))
        client.put_object(Bucket=bucket, Key="doc/gone.txt", Body=b"bye")
        client.delete_object(Bucket=bucket, Key="doc/gone.txt")
        for n in range(30):
            client.put_object(Bucket=bucket, Key=f"many/{n:02d}", Body=b"")
        gateway = S3Gateway(BucketProfile(name="versions", bucket=bucket, region=REGION))
        for split, page_size in (("never", 1000), ("always", 2)):
            rows = [r for b in walk(gateway, versions=True, split=split, page_size=page_size) for r in b.to_pylist()]
            report = sorted((r for r in rows if r["key"] == "doc/report.pdf"), key=lambda r: r["size"])
            assert [r["size"] for r in report] == [1, 2, 3]
            assert [r["is_latest"] for r in report] == [False, False, True]
            assert len({r["version_id"] for r in report}) == 3 and None not in {r["version_id"] for r in report}
            gone = [r for r in rows if r["key"] == "doc/gone.txt"]
            markers = [r for r in gone if r["is_delete_marker"]]
            assert len(gone) == 2 and len(markers) == 1
            assert markers[0]["is_latest"] is True and markers[0]["size"] is None
            assert len(rows) == 3 + 2 + 30
            assert len({(r["key"], r["version_id"]) for r in rows}) == len(rows)
    finally:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
        client.delete_bucket(Bucket=bucket)


def test_density_cuts_follow_the_keys_seen_and_stay_in_range():
    page = [f"flat/{n:07d}.bin" for n in range(1000)]
    cuts = _density_cuts(page, page[-1], None, "flat/", 8)
    assert cuts == sorted(cuts) and len(cuts) == 8
    assert all(cut > page[-1] and cut.startswith("flat/") for cut in cuts)
    # Decimal names are counted in decimal: each piece holds most of a page, never several pages.
    assert cuts[0].startswith("flat/0001") and "flat/0006" < cuts[-1] < "flat/0009"
    bounded = _density_cuts(page, page[-1], "flat/0003", "flat/", 8)
    assert bounded and all(cut < "flat/0003" for cut in bounded)


def test_a_bad_split_mode_is_refused(gateway):
    with pytest.raises(ValueError):
        next(walk(gateway, split="sometimes"))


def test_the_unit_bucket_fixture_is_left_alone(s3):
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


class TimedStore:
    """ListObjectsV2 over keys k/00000…: each request takes 30 ms, one at a time when `serialises`."""

    def __init__(self, count: int, serialises: bool, server: str = ""):
        self.keys = [f"k/{n:05d}" for n in range(count)]
        self.serialises, self.server = serialises, server
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.concurrent: list[int] = []  # requests in flight as each one started
        from types import SimpleNamespace

        self.meta = SimpleNamespace(config=SimpleNamespace(max_pool_connections=64))

    def list_objects_v2(self, **params):
        import bisect
        import time

        self.in_flight += 1
        self.concurrent.append(self.in_flight)
        if self.serialises:
            with self.lock:
                time.sleep(0.03)
        else:
            time.sleep(0.03)
        self.in_flight -= 1
        self.requests += 1
        after = params.get("StartAfter", "")
        start = bisect.bisect_right(self.keys, after) if after else 0
        keys = [k for k in self.keys[start:] if k.startswith(params["Prefix"])][: params["MaxKeys"]]
        truncated = start + len(keys) < len(self.keys)
        headers = {"server": self.server} if self.server else {}
        return {
            "Contents": [{"Key": k, "Size": 1} for k in keys],
            "IsTruncated": truncated,
            "ResponseMetadata": {"HTTPHeaders": headers},
        }


@pytest.mark.parametrize("serialises", [True, False])
def test_the_walk_goes_parallel_only_when_the_store_overlaps_requests(serialises):
    from types import SimpleNamespace

    from lib.inventory import walk as walk_module

    store = TimedStore(4000, serialises)
    gateway = SimpleNamespace(client=store, bucket="fake", profile=BucketProfile(name="f", bucket="fake"))
    reports = []
    seen = keys_of(walk(gateway, page_size=100, concurrency=8, progress=reports.append))  # type: ignore[arg-type]
    assert sorted(seen) == store.keys and max(seen.values()) == 1
    went_parallel = any(report.parallel for report in reports)
    assert went_parallel is (not serialises)
    if serialises:
        # The paginator's requests plus the probes' twins: two rounds (after 4 and 20 pages alone)
        # of two that agree, more when one is noise.
        assert 40 + 4 <= store.requests <= 40 + 2 * walk_module.MAX_PROBES


@pytest.mark.parametrize(
    ("ratios", "parallel"),
    [
        ([9.0, 2.0, 12.0, 2.0], False),  # the stalled pairs get no vote: two that queued decide
        ([9.0, 1.2, 3.5, 1.4], True),
        ([2.0, 1.2, 2.2], False),
        ([9.0, 9.0, 1.2, 9.0], False),  # no two votes agree within four probes: serial, to be safe
        ([2.0, 2.0, 1.2, 1.2], True),  # a serial verdict is asked again, after four times as many pages
    ],
)
def test_a_probe_the_machine_stalled_does_not_vote(ratios, parallel, monkeypatch):
    """On a loaded machine a pair of requests sometimes takes many times a page alone; a store that
    queues them takes twice as long, never more, so such a probe says nothing about the store."""
    from types import SimpleNamespace

    from lib.inventory import walk as walk_module

    told = itertools.chain(ratios, itertools.repeat(2.0))  # later rounds: the store queues
    monkeypatch.setattr(
        walk_module, "_probe", lambda lister, prefix, cursor, times: (lister.page(prefix, cursor), next(told))
    )
    store = TimedStore(4000, serialises=False)
    gateway = SimpleNamespace(client=store, bucket="fake", profile=BucketProfile(name="f", bucket="fake"))
    reports = []
    seen = keys_of(walk(gateway, page_size=100, concurrency=8, progress=reports.append))  # type: ignore[arg-type]
    assert sorted(seen) == store.keys and max(seen.values()) == 1
    assert any(report.parallel for report in reports) is parallel
    assert list(reports[-1].probes[: len(ratios)]) == ratios  # every probe was made
    if not parallel:
        assert list(reports[-1].probes[len(ratios) :]) == [2.0, 2.0]  # and a second round, later


@pytest.mark.parametrize("serialises", [True, False])
def test_a_parallel_walk_that_does_not_pay_goes_on_with_one_worker(serialises, monkeypatch):
    """The probes misjudged a store that queues requests: after two requests per worker the walk
    compares its pace with its serial start's and, finding no gain, lists the rest with one worker
    and splits no more. A store that overlaps requests keeps every worker."""
    from types import SimpleNamespace

    from lib.inventory import walk as walk_module
    from tests.unit.listing_store import ListingStore

    monkeypatch.setattr(walk_module, "_probe", lambda lister, prefix, cursor, times: (lister.page(prefix, cursor), 1.0))
    store = ListingStore([f"k/{n:05d}" for n in range(20_000)], delay=0.02, serialises=serialises)
    gateway = SimpleNamespace(client=store, bucket="fake", profile=BucketProfile(name="f", bucket="fake"))
    seen = keys_of(walk(gateway, page_size=100, concurrency=8))  # type: ignore[arg-type]
    assert sorted(seen) == store.keys and max(seen.values()) == 1
    late = store.concurrent[-len(store.concurrent) // 3 :]
    assert (max(late) == 1) is serialises


@pytest.mark.parametrize("server", ["Werkzeug/3.1.9 Python/3.11.7, amazon.com", "amazon.com"])
def test_a_store_known_to_serialise_gets_exactly_the_paginators_requests(server):
    from types import SimpleNamespace

    store = TimedStore(2000, serialises=True, server=server)
    gateway = SimpleNamespace(client=store, bucket="fake", profile=BucketProfile(name="f", bucket="fake"))
    seen = keys_of(walk(gateway, page_size=100, concurrency=8))  # type: ignore[arg-type]
    assert sorted(seen) == store.keys and max(seen.values()) == 1
    assert store.requests == 20  # moto (the sandbox): no probe's twin


def test_a_walk_read_no_further_ends_its_threads_at_once(seeded):
    """A preview reads one batch and closes the walk: no worker may wait for ever on the full queue."""
    batches = walk(seeded, split="always", page_size=5, concurrency=4, batch_rows=5)
    next(batches)
    threading.Event().wait(0.5)  # let the workers fill the queue (4 per worker) and block on it
    batches.close()
    alive = [t for t in threading.enumerate() if t.name.startswith("bucketdesk-walk-")]
    for thread in alive:
        thread.join(timeout=5)
    assert [t.name for t in alive if t.is_alive()] == []


VERSIONED = [*AWKWARD_KEYS, *[f"many/{n:02d}" for n in range(40)], "many/sub/x", "many/sub/y", "z-last"]


@pytest.fixture(scope="module")
def versioned(_moto):
    """Keys with three versions each, every fifth deleted (a delete marker on top): folders, plain
    keys between them, nesting and folder markers, so small pages split at every kind of place."""
    client = _moto
    bucket = "bucketdesk-unit-walk-versions"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n, key in enumerate(VERSIONED):
        for version in range(3 if n % 3 == 0 else 1):
            client.put_object(Bucket=bucket, Key=key, Body=b"v" * (version + 1))
        if n % 5 == 0:
            client.delete_object(Bucket=bucket, Key=key)
    expected: list[tuple[str, str, bool]] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        expected += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
        expected += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])]
    yield S3Gateway(BucketProfile(name="versions", bucket=bucket, region=REGION)), expected
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    client.delete_bucket(Bucket=bucket)


def versions_of(batches) -> Counter:
    seen: Counter = Counter()
    for batch in batches:
        for row in batch.to_pylist():
            seen[(row["key"], row["version_id"], row["is_delete_marker"])] += 1
    return seen


@pytest.fixture
def goes_parallel_after_the_probe(monkeypatch):
    """moto says it serialises (so auto never probes it): pretend it does not, and that the probe
    found overlap, so a walk goes parallel from wherever its serial start stopped."""
    from lib.inventory import walk as walk_module

    def overlapping(lister, prefix, cursor, times):
        return lister.page(prefix, cursor), 1.0

    monkeypatch.setattr(walk_module._Lister, "serialises", property(lambda self: False))
    monkeypatch.setattr(walk_module, "_probe", overlapping)


@pytest.mark.parametrize(("page_size", "concurrency"), [(1000, 8), (7, 8), (3, 4), (2, 3)])
def test_every_version_and_delete_marker_is_listed_once_in_parallel(versioned, page_size, concurrency):
    gateway, expected = versioned
    seen = versions_of(walk(gateway, versions=True, split="always", page_size=page_size, concurrency=concurrency))
    assert [v for v, times in seen.items() if times > 1] == []
    assert sorted(seen) == sorted(expected)
    assert sum(1 for _, _, marker in expected if marker) == len([n for n in range(len(VERSIONED)) if n % 5 == 0])


@pytest.mark.parametrize("page_size", [2, 3, 5])
def test_versions_going_parallel_mid_listing_list_each_once(versioned, goes_parallel_after_the_probe, page_size):
    """The serial start stops inside a folder: its rest is listed flat from the store's markers,
    and the level goes on from there without listing that folder again."""
    gateway, expected = versioned
    reports = []
    seen = versions_of(walk(gateway, versions=True, page_size=page_size, concurrency=4, progress=reports.append))
    assert any(report.parallel for report in reports)
    assert [v for v, times in seen.items() if times > 1] == []
    assert sorted(seen) == sorted(expected)


SMALL = [*AWKWARD_KEYS, *TREE, "o/a/", "o/a/b", "o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/ü/z", "o/z"]


@pytest.fixture(scope="module")
def small(_moto):
    """A bucket small enough for pages of two keys (moto scans the whole bucket per request)."""
    client = _moto
    bucket = "bucketdesk-unit-walk-small"
    client.create_bucket(Bucket=bucket)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in SMALL:
        backend.put_object(bucket, key, b"x")
    yield S3Gateway(BucketProfile(name="small", bucket=bucket, region=REGION))
    for key in SMALL:
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("page_size", [2, 3, 7, 30])
def test_objects_going_parallel_mid_listing_list_each_once(small, goes_parallel_after_the_probe, page_size):
    reports = []
    seen = keys_of(walk(small, page_size=page_size, concurrency=4, batch_rows=50, progress=reports.append))
    assert any(report.parallel for report in reports)
    assert set(seen) == set(SMALL)
    assert [key for key, times in seen.items() if times > 1] == []
