"""Benchmark (not a test): does a page deep in a big prefix cost what the first page costs?

    python bench/browse_bench.py                      # 100,000 objects in the embedded sandbox
    python bench/browse_bench.py --objects 20000
    python bench/browse_bench.py --endpoint-url http://127.0.0.1:9000 --bucket bench \\
        --access-key minioadmin --secret-key minioadmin   # any S3-compatible store (MinIO, LocalStack, AWS)

Seeds N zero-byte objects into one prefix (concurrent PutObject; skipped when the prefix already
holds them), then measures, in the same run:

  first page      lib.browse.listing.list_page, page 1                             (median of --repeat)
  deep, StartAfter  the page after the key at 99 % of the prefix, in one request (what *Start after* does)
  deep, token     the same depth with a stored continuation token (what *Next*/*Previous* do)
  full walk       boto3's paginator reading the whole prefix serially, as "load everything" browsers do

and prints the times and the ratios to the first page. Reaching the deep page by following tokens
from page 1 costs about the full walk: that is the cost bucketdesk avoids.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.browse.listing import ListingQuery, list_page  # noqa: E402
from lib.config import BucketProfile  # noqa: E402
from lib.s3 import S3Gateway, make_client  # noqa: E402

PREFIX = "bench/"


def key_of(index: int) -> str:
    return f"{PREFIX}{index:07d}.bin"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000, help="objects in the prefix (default 100000)")
    parser.add_argument(
        "--page-size", type=int, default=1000, choices=(100, 250, 1000), help="keys per page (default 1000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats of each single-page read (default 5)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent PutObject calls while seeding (default 16)")
    parser.add_argument(
        "--seed",
        choices=("http", "direct"),
        default="http",
        help="http: PutObject requests (default); direct: straight into the embedded sandbox's moto backend (much faster)",
    )
    parser.add_argument("--endpoint-url", help="an S3-compatible endpoint instead of the embedded sandbox")
    parser.add_argument("--bucket", default="bucketdesk-bench", help="bucket with --endpoint-url (created if missing)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    return parser.parse_args()


def target(args: argparse.Namespace) -> tuple[S3Gateway, str]:
    if not args.endpoint_url:
        from lib.sandbox import start_sandbox

        box = start_sandbox()
        return S3Gateway(box.profile), f"embedded sandbox (moto server) at {box.endpoint_url}"
    profile = BucketProfile(
        name="bench",
        bucket=args.bucket,
        endpoint_url=args.endpoint_url,
        region=args.region,
        addressing_style="path",
        access_key_id=args.access_key,
        secret_access_key=args.secret_key,
    )
    gateway = S3Gateway(profile)
    try:
        gateway.check_bucket()
    except Exception:
        gateway.client.create_bucket(Bucket=args.bucket)
    return gateway, f"{args.endpoint_url} bucket {args.bucket}"


def seed(gateway: S3Gateway, count: int, workers: int, how: str) -> float:
    """Zero-byte objects key_of(0..count-1); returns seconds spent (0 when already there)."""
    last = gateway.client.list_objects_v2(Bucket=gateway.bucket, Prefix=key_of(count - 1), MaxKeys=1)
    beyond = gateway.client.list_objects_v2(Bucket=gateway.bucket, Prefix=key_of(count), MaxKeys=1)
    if last.get("KeyCount") and not beyond.get("KeyCount"):
        print(f"Prefix {PREFIX} already holds {count:,} objects: not seeding again.")
        return 0.0
    if how == "direct":
        # The embedded sandbox serves moto's in-process backend, so keys can be written into it
        # directly: what is measured afterwards (listing over HTTP) is unchanged.
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        started = time.perf_counter()
        for index in range(count):
            backend.put_object(gateway.bucket, key_of(index), b"")
        return time.perf_counter() - started
    # One client per thread: a boto3 client is thread-safe, but its connection pool (10) would queue us.
    local = threading.local()
    pool_profile = replace(gateway.profile)

    def put(index: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = make_client(pool_profile, pool_profile.endpoint_url)
        client.put_object(Bucket=gateway.bucket, Key=key_of(index), Body=b"")

    started = time.perf_counter()
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(put, range(count), chunksize=256):
            done += 1
            if done % 10_000 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  seeded {done:,}/{count:,} ({rate:,.0f} objects/s)", flush=True)
    return time.perf_counter() - started


def median_seconds(call, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def full_walk(gateway: S3Gateway, page_size: int, keep_token_at: int) -> tuple[float, int, int, str | None]:
    """boto3's paginator over the whole prefix; (seconds, keys, pages, token that opens page `keep_token_at`)."""
    paginator = gateway.client.get_paginator("list_objects_v2")
    keys = pages = 0
    token_kept = None
    started = time.perf_counter()
    for page in paginator.paginate(Bucket=gateway.bucket, Prefix=PREFIX, PaginationConfig={"PageSize": page_size}):
        pages += 1
        keys += page.get("KeyCount", 0)
        if pages == keep_token_at - 1:
            token_kept = page.get("NextContinuationToken")
    return time.perf_counter() - started, keys, pages, token_kept


def main() -> None:
    args = parse_args()
    gateway, where = target(args)
    print(f"Target: {where}; {args.objects:,} objects under {PREFIX}; pages of {args.page_size}.")
    if args.seed == "direct" and args.endpoint_url:
        sys.exit("--seed direct only works with the embedded sandbox")
    seeded = seed(gateway, args.objects, args.workers, args.seed)
    if seeded:
        how = f"{args.workers} threads of PutObject" if args.seed == "http" else "straight into moto's backend"
        print(f"Seeding took {seeded:.1f} s ({args.objects / seeded:,.0f} objects/s, {how}).")

    query = ListingQuery(prefix=PREFIX, page_size=args.page_size)
    list_page(gateway, query)  # warm the connection and any server-side caches alike for every case
    deep_index = int(args.objects * 0.99)
    deep_page_number = deep_index // args.page_size + 1

    first, first_page = median_seconds(lambda: list_page(gateway, query), args.repeat)
    jump_query = replace(query, start_after=key_of(deep_index - 1)[len(PREFIX) :])
    jump, jump_page = median_seconds(lambda: list_page(gateway, jump_query), args.repeat)
    assert jump_page.frame["key"].iloc[0] == key_of(deep_index), "StartAfter landed in the wrong place"

    print("Walking the whole prefix with boto3's paginator (serial)…", flush=True)
    walk, keys, pages, token = full_walk(gateway, args.page_size, deep_page_number)
    assert keys == args.objects, f"the walk saw {keys} keys, expected {args.objects}"
    by_token, token_page = median_seconds(lambda: list_page(gateway, query, token), args.repeat)
    assert token_page.frame["key"].iloc[0] == key_of((deep_page_number - 1) * args.page_size)

    rows = [
        ("first page", first, 1),
        (f"deep page by StartAfter (key #{deep_index:,})", jump, 1),
        (f"deep page by stored token (page {deep_page_number:,})", by_token, 1),
        (f"full serial paginator ({pages:,} pages, {keys:,} keys)", walk, pages),
    ]
    print()
    print(f"{'read':<58} {'requests':>9} {'seconds':>9} {'× first page':>13}")
    for label, seconds, requests in rows:
        print(f"{label:<58} {requests:>9,} {seconds:>9.3f} {seconds / first:>13.2f}")
    print()
    print(f"Deep page / first page: StartAfter {jump / first:.2f}×, stored token {by_token / first:.2f}×.")
    print(
        f"Full walk / first page: {walk / first:.1f}×. Reaching page {deep_page_number:,} by following tokens from "
        f"page 1 costs ~{walk * deep_page_number / pages:.1f} s; bucketdesk's jump costs {jump:.3f} s."
    )
    print(f"Mean request in the walk: {walk / pages:.3f} s (the first page alone: {first:.3f} s).")
    if not args.endpoint_url:
        print(
            "Note: moto scans and sorts the whole bucket for every ListObjectsV2 (and builds its XML in Python), so "
            "each page here carries that cost wherever it starts; S3 seeks in its index instead."
        )


if __name__ == "__main__":
    main()
