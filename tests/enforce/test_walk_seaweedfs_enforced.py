"""Against SeaweedFS, whose listings follow its directory tree ("a/b" before "a b"; a StartAfter
naming a directory skips all of it), the parallel walk sees every key once, and the in-memory model
the unit tests split against (tests/unit/listing_store.py) answers exactly as SeaweedFS does."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from lib.config import BucketProfile
from lib.inventory.walk import walk
from lib.s3 import S3Gateway
from tests.support.seaweedfs import SeaweedFS, seaweedfs_client
from tests.unit.inventory_helpers import AWKWARD_KEYS
from tests.unit.listing_store import ListingStore

pytestmark = pytest.mark.enforce

# Siblings that sort differently by tree and by bytes, folders of a page or more, a flat run, tiny folders.
KEYS = [
    *AWKWARD_KEYS,
    *["o/a/", "o/a/b", "o/a/c/d", "o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/ü/z", "o/z", "o/a+b/%41"],
    *[f"tree/d{a}/s{b}/f{c}.txt" for a in range(3) for b in range(4) for c in range(9)],
    *[f"flat/{n:04d}.bin" for n in range(120)],
    *[f"tiny/{n:03d}/{m}" for n in range(40) for m in range(2)],
]


@pytest.fixture(scope="module")
def seeded(seaweed: SeaweedFS) -> Iterator[tuple[S3Gateway, list[str]]]:
    client = seaweedfs_client(seaweed)
    bucket = f"bd-sw-walk-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    for key in KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    profile = BucketProfile(
        name="sw-walk",
        bucket=bucket,
        endpoint_url=seaweed.endpoint_url,
        region=seaweed.region,
        access_key_id=seaweed.access_key,
        secret_access_key=seaweed.secret_key,
        addressing_style="path",
    )
    yield S3Gateway(profile), KEYS
    for key in KEYS:
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    ("split", "page_size", "concurrency"), [("never", 1000, 1), ("always", 2, 4), ("always", 7, 8), ("auto", 5, 4)]
)
def test_the_walk_sees_every_key_once_on_seaweedfs(seeded, split, page_size, concurrency):
    gateway, keys = seeded
    seen: Counter = Counter()
    for batch in walk(gateway, split=split, page_size=page_size, concurrency=concurrency):
        seen.update(batch.column("key").to_pylist())
    assert [key for key, times in seen.items() if times > 1] == []
    assert sorted(set(keys) - set(seen)) == [] and sorted(set(seen) - set(keys)) == []


def _at_its_level(prefix: str, start_after: str | None) -> bool:
    level = prefix[: prefix.rfind("/") + 1]
    return start_after is None or (start_after.startswith(level) and "/" not in start_after[len(level) :])


STARTS = [None, "o/a", "o/a/", "o/a-", "o/a/b", "o/a.d", "o/a/c", "o/ab", "tree/d1"]
REQUESTS = [
    (prefix, start_after, delimiter)
    for prefix in ["", "o/", "o/a", "o/a/", "tree/", "tiny/0"]
    for start_after in STARTS
    for delimiter in [None, "/"]
    # A delimiter listing starting inside a folder names that folder's sub-folders: never asked.
    if delimiter is None or _at_its_level(prefix, start_after)
]


@pytest.mark.parametrize(("prefix", "start_after", "delimiter"), REQUESTS)
def test_the_seaweedfs_model_answers_as_seaweedfs_does(seeded, prefix, start_after, delimiter):
    """One page of each size, for the requests the walk makes. Left out, as the walk never meets
    them: SeaweedFS's own continuation tokens (after a folder's own "a/" key they skip the folder),
    a page of one key that is a folder's "a/" (it says not truncated), and delimiter listings that
    start inside a folder."""
    gateway, keys = seeded
    model = ListingStore(keys, "seaweedfs")
    for size in (2, 3, 1000):
        params = {"Prefix": prefix, "MaxKeys": size}
        if start_after is not None:
            params["StartAfter"] = start_after
        if delimiter is not None:
            params["Delimiter"] = delimiter
        real = gateway.client.list_objects_v2(Bucket=gateway.bucket, **params)
        modelled = model.list_objects_v2(**params)
        assert [c["Key"] for c in real.get("Contents", [])] == [c["Key"] for c in modelled.get("Contents", [])]
        assert [p["Prefix"] for p in real.get("CommonPrefixes", [])] == [
            p["Prefix"] for p in modelled.get("CommonPrefixes", [])
        ]
        assert real["IsTruncated"] == modelled["IsTruncated"], params
