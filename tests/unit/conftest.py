"""Unit tier: lib/ on its own, S3 mocked in-process by moto, never real AWS credentials.

One moto mock serves the whole tier (package scope) (starting moto and building boto3 clients costs ~0.1 s each,
which would dominate a tier of small tests); every test that asks for `s3` gets the unit bucket
emptied first, so tests stay independent.
"""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from lib.config import BucketProfile
from lib.s3 import S3Gateway
from tests.unit.helpers import BUCKET, REGION

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _scrub(monkeypatch: pytest.MonkeyPatch, no_config) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "BUCKETDESK_")) and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(no_config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_config))


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch, tmp_path_factory, tmp_path):
    """Fake credentials, no endpoint overrides, no shared config: nothing can reach a real account.
    The working directory is a fresh temporary one, so nothing (e.g. a disk thumbnail cache or a
    default audit log) lands in the checkout."""
    _scrub(monkeypatch, tmp_path_factory.getbasetemp() / "no-aws-config")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="package")
def _moto(tmp_path_factory):
    """Started at the first test that needs S3, stopped when the unit tier is done."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _scrub(monkeypatch, tmp_path_factory.getbasetemp() / "no-aws-config")
        with mock_aws():
            client = boto3.client("s3", region_name=REGION)
            client.create_bucket(Bucket=BUCKET)
            yield client


@pytest.fixture
def s3(_moto):
    """The mocked S3 with an empty unit bucket (no objects, no open uploads); a plain boto3 client for arranging and inspecting."""
    _empty(_moto)
    yield _moto
    _empty(_moto)


def _empty(client) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


_gateways: dict[tuple, S3Gateway] = {}


@pytest.fixture
def make_gateway(s3):
    """A gateway on the mocked bucket with profile settings overridden (cached per profile)."""

    def build(**overrides) -> S3Gateway:
        profile = BucketProfile(**{"name": "unit", "bucket": BUCKET, "region": REGION, **overrides})
        cache_key = tuple(sorted((k, repr(v)) for k, v in overrides.items()))
        if cache_key not in _gateways:
            _gateways[cache_key] = S3Gateway(profile)
        assert _gateways[cache_key].profile == profile
        return _gateways[cache_key]

    return build


@pytest.fixture
def gateway(make_gateway) -> S3Gateway:
    return make_gateway()
