"""The parallel walk lists every key exactly once on stores of either order (S3's byte order and
SeaweedFS's directory tree), and splits without costing many more requests than the paginator.

The stores are tests/unit/listing_store.py's in-memory models; tests/enforce holds their checks
against a real SeaweedFS.
"""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest

from lib.config import BucketProfile
from lib.inventory.walk import _density_cuts, walk
from tests.unit.inventory_helpers import AWKWARD_KEYS
from tests.unit.listing_store import ListingStore

pytestmark = pytest.mark.unit

ORDERS = ["s3", "seaweedfs"]
# Names that sort differently in the two orders ("a/b" before "a b" on SeaweedFS, after it on S3).
SIBLINGS = ["o/a/", "o/a/b", "o/a/c/d", "o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/ü/z", "o/z", "o/a+b/%41"]
FLAT = [f"flat/{n:05d}.bin" for n in range(5000)]
TREE = [f"tree/d{a}/s{b}/f{c}.txt" for a in range(6) for b in range(5) for c in range(12)]
TINY = [f"tiny/{n:04d}/{m}.txt" for n in range(1500) for m in range(2)]
KEYS = [*AWKWARD_KEYS, *SIBLINGS, *FLAT, *TREE, *TINY]


def storable(keys: list[str], order: str) -> list[str]:
    """SeaweedFS cannot hold a file and a directory of one name ("a" and "a/b")."""
    if order == "s3":
        return keys
    directories = {key[:i] for key in keys for i, char in enumerate(key) if char == "/"}
    return [k for k in keys if k.endswith("/") or k not in directories]


def walked(store: ListingStore, prefix: str = "", **options) -> Counter:
    gateway = SimpleNamespace(client=store, bucket="b", profile=BucketProfile(name="f", bucket="b"))
    seen: Counter = Counter()
    for batch in walk(gateway, prefix, **options):  # type: ignore[arg-type]
        seen.update(batch.column("key").to_pylist())
    return seen


def assert_once(seen: Counter, expected) -> None:
    assert [key for key, times in seen.items() if times > 1] == []
    assert sorted(set(expected) - set(seen)) == []  # nothing missed
    assert sorted(set(seen) - set(expected)) == []  # nothing from outside


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("split", "page_size", "concurrency"),
    [("always", 1000, 8), ("always", 97, 8), ("always", 13, 3), ("never", 1000, 1), ("auto", 200, 4)],
)
def test_every_key_is_listed_once_in_either_stores_order(order, split, page_size, concurrency):
    store = ListingStore(storable(KEYS, order), order)
    assert_once(walked(store, split=split, page_size=page_size, concurrency=concurrency), store.keys)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("prefix", ["o/", "o/a", "o/a/", "tree/d3/", "tree/", "flat/0001", "tiny/", "deep/", "a/"])
def test_a_prefix_is_listed_once_with_tiny_pages(order, prefix):
    store = ListingStore(storable(KEYS, order), order)
    seen = walked(store, prefix, split="always", page_size=3, concurrency=4)
    assert_once(seen, [k for k in store.keys if k.startswith(prefix)])


@pytest.mark.parametrize("seed", range(40))
def test_random_trees_are_listed_once(seed):
    """Short names from a few awkward characters, at random depths, so that names of one level are
    often prefixes of each other and of folders ("a", "a b/", "a-", "a/")."""
    rng = random.Random(seed)
    alphabet = ["a", "b", "0", "-", ".", " ", "ü", "+", "%"]
    keys = set()
    for _ in range(rng.randint(1, 600)):
        parts = ["".join(rng.choices(alphabet, k=rng.randint(1, 3))) for _ in range(rng.choice([1, 2, 2, 3, 4]))]
        keys.add("/".join(parts) + ("/" if rng.random() < 0.1 else ""))
    order = ORDERS[seed % 2]
    store = ListingStore(storable(sorted(keys), order), order)
    prefix = rng.choice(["", "", "a", "a/", "b/"])
    options = {"page_size": rng.choice([1, 2, 5, 17, 1000]), "concurrency": rng.choice([2, 3, 8])}
    assert_once(walked(store, prefix, split="always", **options), [k for k in store.keys if k.startswith(prefix)])


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("keys", "most"),
    [
        ([f"f/p{n % 20:02d}/{n:06d}" for n in range(20_000)], 1.25),  # folders of a page each
        ([f"f/{n:06d}" for n in range(20_000)], 1.5),  # one flat folder, cut by key density
        ([f"f/{n:05d}/{m}" for n in range(5_000) for m in range(4)], 2.0),  # many tiny folders, grouped
    ],
    ids=["folders", "flat", "tiny-folders"],
)
def test_splitting_costs_few_requests_more_than_the_paginator(order, keys, most):
    """The paginator needs 20 requests here; one request per folder would be 20 to 5,000."""
    store = ListingStore(keys, order)
    assert_once(walked(store, "f/", split="always", concurrency=8), keys)
    assert len(store.requests) <= 20 * most


def test_a_folder_that_is_a_piece_alone_is_listed_by_its_own_prefix():
    """It ends without a page read past it: each folder of a page costs one request."""
    keys = [f"f/p{n % 20:02d}/{n:06d}" for n in range(20_000)]
    store = ListingStore(keys, "s3")
    walked(store, "f/", split="always", concurrency=8)
    assert store.count(Prefix="f/p07/") == 1


def test_density_cuts_are_safe_start_afters_for_every_store():
    """Cuts never carry "/" (they would step into a folder), "%" or "+" (LocalStack decodes those
    once more) or non-ASCII (LocalStack skips such keys after one)."""
    sample = [f"x/{n:03d}+%ü-{n}" for n in range(500)]
    cuts = _density_cuts(sample, sample[-1], None, "x/", 16)
    assert cuts and cuts == sorted(cuts)
    assert all(c.startswith("x/") and c[2:].isascii() and not {"/", "%", "+"} & set(c[2:]) for c in cuts)


def test_the_seaweedfs_model_answers_as_seaweedfs_did():
    """Answers recorded from SeaweedFS 4.48 (tests/enforce checks the model against a live one)."""
    store = ListingStore(
        ["o/a/b", "o/a-c", "o/a.d", "o/a0", "o/a/", "o/ab/x", "o/a b/y", "o/ü/z", "o/z", "o/a/c/d"], "seaweedfs"
    )

    def keys(**params):
        return [c["Key"] for c in store.list_objects_v2(Prefix="o/", **params).get("Contents", [])]

    assert keys() == ["o/a/", "o/a/b", "o/a/c/d", "o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/z", "o/ü/z"]
    assert keys(StartAfter="o/a") == ["o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/z", "o/ü/z"]
    assert keys(StartAfter="o/a/c") == ["o/a b/y", "o/a-c", "o/a.d", "o/a0", "o/ab/x", "o/z", "o/ü/z"]
    assert keys(StartAfter="o/a.d") == ["o/a0", "o/ab/x", "o/z", "o/ü/z"]
