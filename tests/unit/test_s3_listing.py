"""The lean ListObjectsV2 path returns exactly what boto3 returns, retries like it, and steps aside
for a store it cannot read."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse
from botocore.handlers import decode_list_object_v2
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.parsers import RestXMLParser

from lib import s3_listing
from lib.config import BucketProfile
from lib.errors import BucketNotFound, StorageError, Throttled
from lib.s3 import list_objects_v2, make_client
from tests.unit.helpers import BUCKET, REGION
from tests.unit.inventory_helpers import AWKWARD_KEYS

pytestmark = pytest.mark.unit

KEYS = [
    *AWKWARD_KEYS,
    "control\x01char.txt",
    "tab\tand\nnewline.txt",
    "space at end /",
    "q?uery&amp=1#frag.txt",
    "slash//double/",
    "folder+plus/ends with space ",
]
ACTION = "listing the unit bucket"


@pytest.fixture
def client(s3):
    """A fresh client (the lean path's choice is remembered per client) over a seeded bucket."""
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * (len(key) % 7))
    yield make_client(BucketProfile(name="lean", bucket=BUCKET, region=REGION))
    for key in KEYS:  # one by one: DeleteObjects' XML body cannot carry a control character
        s3.delete_object(Bucket=BUCKET, Key=key)


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def boto3_pages(client, params: dict) -> list[dict]:
    return [without_metadata(p) for p in client.get_paginator("list_objects_v2").paginate(**params)]


def lean_pages(client, params: dict, follow: str) -> list[dict]:
    """Every page through the lean path, continued by StartAfter (as the walk does) or by token."""
    pages, extra = [], {}
    while True:
        page = without_metadata(list_objects_v2(client, {**params, **extra}, ACTION))
        pages.append(page)
        if not page["IsTruncated"]:
            return pages
        if follow == "token":
            extra = {"ContinuationToken": page["NextContinuationToken"]}
        else:
            names = [e["Key"] for e in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            extra = {"StartAfter": max(names)}


@pytest.mark.parametrize(
    "params",
    [
        {"MaxKeys": 1000},
        {"MaxKeys": 3},
        {"MaxKeys": 4, "Delimiter": "/"},
        {"MaxKeys": 2, "Prefix": "percent%"},
        {"MaxKeys": 2, "Prefix": "a b/", "Delimiter": "/"},
        {"MaxKeys": 5, "Prefix": "ünïcödé/"},
        {"MaxKeys": 1, "StartAfter": "plus+sign/1+1=2.txt"},
    ],
)
def test_lean_pages_equal_boto3s_for_awkward_keys_followed_by_token(client, params):
    params = {"Bucket": BUCKET, **params}
    assert lean_pages(client, params, "token") == boto3_pages(client, params)
    assert client._bucketdesk_lean is True  # the lean path answered, not the fallback


def test_lean_pages_followed_by_start_after_see_every_key_once(client, s3):
    # moto echoes StartAfter unencoded, so a control character there breaks its XML for boto3 too
    # (S3 encodes it); the enforce tier continues after one on LocalStack.
    s3.delete_object(Bucket=BUCKET, Key="control\x01char.txt")
    pages = lean_pages(client, {"Bucket": BUCKET, "MaxKeys": 2}, "start_after")
    keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
    assert keys == sorted(set(KEYS) - {"control\x01char.txt"})
    assert keys == [e["Key"] for p in boto3_pages(client, {"Bucket": BUCKET}) for e in p["Contents"]]


def test_lean_entries_carry_size_time_etag_class_and_checksum_like_boto3(client, s3):
    s3.put_object(Bucket=BUCKET, Key="summed.bin", Body=b"abc", ChecksumAlgorithm="SHA256")
    lean = list_objects_v2(client, {"Bucket": BUCKET, "Prefix": "summed"}, ACTION)["Contents"][0]
    assert lean == s3.list_objects_v2(Bucket=BUCKET, Prefix="summed")["Contents"][0]
    assert lean["Size"] == 3 and lean["ETag"].startswith('"') and lean["LastModified"].tzinfo is not None
    assert lean["ChecksumAlgorithm"] == ["SHA256"]


RICH_BODY = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>a%20b%2B/</Prefix><StartAfter>a%20b%2B/0%25</StartAfter><KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>a%20b%2B/%E6%97%A5%01.txt</Key><LastModified>2024-05-01T10:11:12.345Z</LastModified>
    <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType><Size>434234</Size>
    <StorageClass>GLACIER</StorageClass><Owner><ID>abc</ID><DisplayName>me</DisplayName></Owner>
    <RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress>
    <RestoreExpiryDate>2024-06-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus></Contents>
  <Contents><Key>a%20b%2B/x%2By</Key><LastModified>2024-05-01T10:11:12.000Z</LastModified>
    <ETag>"e"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
  <CommonPrefixes><Prefix>a%20b%2B/sub%25/</Prefix></CommonPrefixes>
</ListBucketResult>"""


def botocore_parse(body: bytes) -> dict:
    model = ServiceModel(Loader().load_service_model("s3", "service-2"), "s3")
    shape = model.operation_model("ListObjectsV2").output_shape
    parsed = RestXMLParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)
    decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
    return without_metadata(parsed)


def test_a_rich_page_parses_exactly_as_botocore_parses_it():
    lean = without_metadata(s3_listing.parse_page(RICH_BODY))
    assert lean == botocore_parse(RICH_BODY)
    assert lean["Contents"][0]["Key"] == "a b+/日\x01.txt"
    assert lean["CommonPrefixes"] == [{"Prefix": "a b+/sub%/"}]


def answer_lean_requests(client, *responses: tuple[int, bytes]):
    """Answer the lean path's (query-signed) requests with `responses` in turn, then let moto answer."""
    queue = list(responses)
    seen = []

    def handler(request, **kwargs):
        if "X-Amz-Signature=" not in request.url:
            return None  # boto3's own (header-signed) request: moto answers
        seen.append(request.url)
        if not queue:
            return None
        status, body = queue.pop(0)
        return AWSResponse(request.url, status, {}, _Raw(body))

    client.meta.events.register_first("before-send.s3.ListObjectsV2", handler)
    return seen


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


SLOW_DOWN = (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")


def test_slow_down_is_retried_with_backoff_then_the_page_comes(client, monkeypatch):
    pauses = []
    monkeypatch.setattr(s3_listing.time, "sleep", pauses.append)
    seen = answer_lean_requests(client, SLOW_DOWN, SLOW_DOWN)
    page = list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1000}, ACTION)
    assert len(page["Contents"]) == len(KEYS)
    assert len(seen) == 3 and len(pauses) == 2
    assert client._bucketdesk_lean is True


def test_throttling_that_never_ends_is_a_throttled_error_after_five_attempts(client, monkeypatch):
    monkeypatch.setattr(s3_listing.time, "sleep", lambda seconds: None)
    list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)  # the lean path is established
    seen = answer_lean_requests(client, *[SLOW_DOWN] * 6)
    with pytest.raises(Throttled) as raised:
        list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    assert len(seen) == s3_listing.MAX_ATTEMPTS
    assert raised.value.code == "SlowDown" and ACTION in raised.value.message


def test_an_s3_refusal_on_an_established_lean_path_maps_through_the_error_table(client, s3):
    list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    s3.create_bucket(Bucket="bucketdesk-unit-gone")
    s3.delete_bucket(Bucket="bucketdesk-unit-gone")
    with pytest.raises(BucketNotFound) as raised:
        list_objects_v2(client, {"Bucket": "bucketdesk-unit-gone"}, ACTION)
    assert raised.value.code == "NoSuchBucket"


def test_a_store_answering_something_else_falls_back_to_boto3_for_good(client):
    seen = answer_lean_requests(client, (200, b"<html>a login page</html>"))
    page = list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1000}, ACTION)
    assert [e["Key"] for e in page["Contents"]] == sorted(KEYS)  # boto3 answered instead
    assert client._bucketdesk_lean is False
    list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    assert len(seen) == 1  # the lean path was not tried again


def test_a_real_error_on_the_first_request_does_not_turn_the_lean_path_off(client):
    with pytest.raises(BucketNotFound):
        list_objects_v2(client, {"Bucket": "bucketdesk-unit-never-made"}, ACTION)
    assert getattr(client, "_bucketdesk_lean", None) is None
    list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    assert client._bucketdesk_lean is True


def test_garbage_after_the_lean_path_worked_is_a_storage_error_not_a_traceback(client):
    list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    answer_lean_requests(client, (200, b"not xml"))
    with pytest.raises(StorageError) as raised:
        list_objects_v2(client, {"Bucket": BUCKET, "MaxKeys": 1}, ACTION)
    assert "S3's XML" in raised.value.message
