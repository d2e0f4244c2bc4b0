"""Fixtures for the enforce tier: one LocalStack per session, a fresh bucket per test.

LocalStack runs from its own venv (scripts/localstack-venv.sh). Without it these tests skip,
unless BUCKETDESK_REQUIRE_ALL_TIERS=1 (CI), where a missing LocalStack is a failure: a tier
that silently skips in CI proves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from lib.config import BucketProfile
from lib.s3 import S3Gateway
from tests.support.localstack import LocalStack, localstack_client

# The app's origin in the browser tier; the bucket's CORS rule admits it and nothing else.
from tests.support.post_form import APP_ORIGIN as ALLOWED_ORIGIN

MAX_UPLOAD_BYTES = 1024 * 1024
ALLOWED_TYPES = ("image/*", "text/plain")


@pytest.fixture(scope="session")
def s3(localstack: LocalStack):
    """A plain boto3 client, for setting buckets up and looking at what got stored."""
    return localstack_client(localstack.endpoint_url)


@pytest.fixture(scope="session")
def allowed_origin() -> str:
    return ALLOWED_ORIGIN


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    """A fresh, empty bucket whose CORS rule lets only ALLOWED_ORIGIN POST to it."""
    name = f"bd-enforce-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [ALLOWED_ORIGIN],
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Location"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def profile(localstack: LocalStack, bucket: str) -> BucketProfile:
    return BucketProfile(
        name="ls",
        bucket=bucket,
        endpoint_url=localstack.endpoint_url,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
        addressing_style="path",
        max_upload_bytes=MAX_UPLOAD_BYTES,
        allowed_types=ALLOWED_TYPES,
        policy_expiry_seconds=300,
        # These tests prove the POST policy's pins, with and without a checksum field; the checksum
        # requirement (the default, "required") has tests of its own.
        checksums="optional",
    )


@pytest.fixture
def make_gateway(profile: BucketProfile) -> Callable[..., S3Gateway]:
    """S3Gateway for the test's bucket, with profile settings overridden: make_gateway(policy_expiry_seconds=1)."""

    def make(**overrides) -> S3Gateway:
        return S3Gateway(replace(profile, **overrides))

    return make


@pytest.fixture
def gateway(profile: BucketProfile) -> S3Gateway:
    """The project's own gateway, signing grants for LocalStack exactly as the app would."""
    return S3Gateway(profile)
