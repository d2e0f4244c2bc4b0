"""Against LocalStack, the lean ListObjectsV2 path returns exactly what boto3 returns, including
keys with control characters (which only URL-encoded listings can carry) and pages continued after
them, and the parallel walk built on it sees every key once."""

from __future__ import annotations

from collections import Counter

import pytest

from lib.inventory.walk import walk
from lib.s3 import list_objects_v2, make_client
from tests.unit.inventory_helpers import AWKWARD_KEYS

pytestmark = pytest.mark.enforce

KEYS = [
    *AWKWARD_KEYS,
    "control\x01char.txt",
    "tab\tand\nnewline.txt",
    "q?uery&amp=1#frag.txt",
    "folder+plus/ends with space ",
    *[f"many/{n:04d}.bin" for n in range(30)],
]


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


@pytest.fixture
def seeded(s3, bucket):
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (len(key) % 5))
    return bucket


@pytest.mark.parametrize(
    "params", [{"MaxKeys": 1000}, {"MaxKeys": 3}, {"MaxKeys": 4, "Delimiter": "/"}, {"MaxKeys": 2, "Prefix": "a b/"}]
)
def test_lean_pages_equal_boto3s_on_localstack(profile, seeded, params):
    client = make_client(profile, profile.endpoint_url)
    params = {"Bucket": seeded, **params}
    boto3_pages = [without_metadata(p) for p in client.get_paginator("list_objects_v2").paginate(**params)]
    lean, extra = [], {}
    while True:
        page = without_metadata(list_objects_v2(client, {**params, **extra}, "listing"))
        lean.append(page)
        if not page["IsTruncated"]:
            break
        extra = {"ContinuationToken": page["NextContinuationToken"]}
    assert lean == boto3_pages
    assert client._bucketdesk_lean is True


# LocalStack 4.9 mishandles StartAfter (the walk's cursor; S3 does not): it URL-decodes it once more
# ("percent%2F" skips "percent%2F/...", "+" becomes a space), never returns a non-ASCII key after one, and fails on a
# control character. Keys like those stay out of walks that continue after keys.
def starts_after_well_on_localstack(key: str) -> bool:
    return key.isascii() and not {"%", "+"} & set(key) and key.isprintable()


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize(("split", "page_size"), [("never", 1000), ("always", 2), ("always", 7)])
def test_the_walk_on_the_lean_path_sees_every_key_once(s3, gateway, seeded, split, page_size, lean):
    for key in KEYS:
        if page_size < len(KEYS) and not starts_after_well_on_localstack(key):
            s3.delete_object(Bucket=seeded, Key=key)
    expected = {key for key in KEYS if page_size >= len(KEYS) or starts_after_well_on_localstack(key)}
    if not lean:
        gateway.client._bucketdesk_lean = False
    seen: Counter = Counter()
    for batch in walk(gateway, split=split, page_size=page_size, concurrency=4):
        seen.update(batch.column("key").to_pylist())
    assert set(seen) == expected and max(seen.values()) == 1
    assert gateway.client._bucketdesk_lean is lean


@pytest.mark.xfail(strict=True, reason="LocalStack 4.9 drops non-ASCII keys from listings that use StartAfter")
def test_localstack_lists_a_non_ascii_key_after_a_start_after(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ünïcödé.txt", Body=b"")
    listed = s3.list_objects_v2(Bucket=bucket, StartAfter="a").get("Contents", [])
    assert [o["Key"] for o in listed] == ["ünïcödé.txt"]
