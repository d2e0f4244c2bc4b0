"""lib.sandbox: the embedded moto server, started once per process, with a seeded demo bucket.

Note: moto's in-process mocks and the sandbox's moto server share one global store, and every
`mock_aws()` start resets it. So this module starts its own sandbox (and stops it afterwards)
instead of trusting one an earlier test or tier may have started.
"""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

import lib.sandbox
from lib.config import SANDBOX_PROFILE
from lib.s3 import S3Gateway, make_client
from lib.sandbox import DEMO_BUCKET, start_sandbox
from tests.unit.conftest import _scrub

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    saved = lib.sandbox._sandbox
    lib.sandbox._sandbox = None
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            _scrub(monkeypatch, tmp_path_factory.getbasetemp() / "no-aws-config")  # e.g. no stray AWS_PROFILE
            started = start_sandbox()
        yield started
        started.stop()
    finally:
        lib.sandbox._sandbox = saved


@pytest.fixture(scope="module")
def client(sandbox):
    return make_client(sandbox.profile, sandbox.endpoint_url)


@pytest.fixture(scope="module")
def seeded(sandbox, client):
    """Every seeded object, fetched once: key -> (content type, bytes)."""
    objects = {}
    for item in client.list_objects_v2(Bucket=DEMO_BUCKET).get("Contents", []):
        response = client.get_object(Bucket=DEMO_BUCKET, Key=item["Key"])
        objects[item["Key"]] = (response["ContentType"], response["Body"].read())
    return objects


def test_sandbox_starts_once_per_process(sandbox):
    assert start_sandbox() is sandbox
    results = []
    threads = [threading.Thread(target=lambda: results.append(start_sandbox())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is sandbox for result in results)


def test_sandbox_listens_on_loopback_only(sandbox):
    assert sandbox.endpoint_url.startswith("http://127.0.0.1:")


def test_sandbox_profile_is_marked_and_uses_path_addressing(sandbox):
    profile = sandbox.profile
    assert profile.sandbox and profile.name == SANDBOX_PROFILE and profile.bucket == DEMO_BUCKET
    assert profile.endpoint_url == sandbox.endpoint_url and profile.addressing_style == "path"


def test_demo_bucket_is_reachable_through_the_gateway(sandbox):
    S3Gateway(sandbox.profile).check_bucket()


def test_seeded_images_decode(seeded):
    images = {key: value for key, value in seeded.items() if value[0].startswith("image/")}
    assert len(images) >= 2
    for key, (content_type, body) in images.items():
        with Image.open(io.BytesIO(body)) as image:
            image.load()
            assert image.size[0] > 0 and image.size[1] > 0
            assert Image.MIME[image.format] == content_type, key


def test_seeded_text_and_csv_are_present(seeded):
    types = {content_type for content_type, _ in seeded.values()}
    assert {"text/plain", "text/csv"} <= types
    csv_body = next(body for content_type, body in seeded.values() if content_type == "text/csv")
    header, *rows = csv_body.decode("utf-8").splitlines()
    assert header.count(",") >= 1 and rows and all(row.count(",") == header.count(",") for row in rows)


def test_seeded_objects_carry_uploader_metadata(sandbox, client, seeded):
    for key in seeded:
        assert client.head_object(Bucket=DEMO_BUCKET, Key=key)["Metadata"]["uploaded-by"] == "sandbox"


def test_allow_origin_sets_a_cors_rule_for_that_origin(sandbox, client):
    sandbox.allow_origin("http://localhost:8501/")
    sandbox.allow_origin("http://localhost:8501")  # the same origin again changes nothing
    sandbox.allow_origin("http://127.0.0.1:8502")
    [rule] = client.get_bucket_cors(Bucket=DEMO_BUCKET)["CORSRules"]
    assert sorted(rule["AllowedOrigins"]) == ["http://127.0.0.1:8502", "http://localhost:8501"]
    assert "POST" in rule["AllowedMethods"]
    assert "ETag" in rule["ExposeHeaders"]
