"""PUT grants (upload_method = "put") against stores that check signed headers: LocalStack 4.9.2 and SeaweedFS.

A PUT grant is a presigned PutObject URL whose signed headers pin the exact Content-Length,
Content-Type, Content-Disposition, uploader and file-name metadata and the SHA-256. Each test
sends the request a browser would (the grant's headers, and the Origin a browser adds) with one
thing changed, and checks three things: the status, S3's error Code, and that the bucket holds nothing.

What each store enforced when this was written (the parametrised ids say which store):
- LocalStack 4.9.2 and SeaweedFS: every pin. Another length, type, disposition, uploader or checksum
  header: 403 SignatureDoesNotMatch; other bytes than the signed checksum: 400 BadDigest; an unsigned
  x-amz-meta-* header: 403 AccessDenied (LocalStack) or SignatureDoesNotMatch (SeaweedFS); an
  expired URL: 403 AccessDenied.
- LocalStack 4.9.2 counts a request header as signed when its name occurs anywhere in
  X-Amz-SignedHeaders (SUBSTRING_HEADERS). The file name was once pinned as `x-amz-meta-original-name`,
  which contains "origin", so every browser PUT (browsers always send Origin) was refused; it is
  `x-amz-meta-filename` now (lib.metadata), and a browser's PUT is stored (the browser tier proves it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import requests

from lib.config import BucketProfile
from lib.s3 import S3Gateway
from lib.upload.grants import DeclaredFile, Grant, sign_upload
from tests.support.checksums import sha256_b64
from tests.support.post_form import ALICE, APP_ORIGIN, PNG, stored_keys
from tests.support.seaweedfs import seaweedfs_client

pytestmark = pytest.mark.enforce

OTHER = b"\x89PNG\r\n\x1a\n" + bytes(reversed(range(256))) * 4  # same length as PNG, other bytes
CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": [APP_ORIGIN],
            "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 60,
        }
    ]
}


@dataclass
class Store:
    name: str
    s3: object  # a plain boto3 client, for looking at what got stored
    bucket: str
    profile: BucketProfile

    def gateway(self, **overrides) -> S3Gateway:
        return S3Gateway(replace(self.profile, **overrides))


def _profile(name: str, bucket: str, endpoint: str, key: str, secret: str) -> BucketProfile:
    return BucketProfile(
        name=name,
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=key,
        secret_access_key=secret,
        addressing_style="path",
        max_upload_bytes=1024 * 1024,
        allowed_types=("image/*", "text/plain"),
        policy_expiry_seconds=300,
        checksums="optional",
        upload_method="put",
    )


@pytest.fixture(params=["localstack", "seaweedfs"])
def store(request) -> Iterator[Store]:
    bucket = f"bd-put-{uuid.uuid4().hex[:16]}"
    if request.param == "localstack":
        server = request.getfixturevalue("localstack")
        s3 = request.getfixturevalue("s3")
        profile = _profile("ls", bucket, server.endpoint_url, "test", "test")
    else:
        server = request.getfixturevalue("seaweed")
        s3 = seaweedfs_client(server)
        profile = _profile("sw", bucket, server.endpoint_url, server.access_key, server.secret_key)
    s3.create_bucket(Bucket=bucket)
    if request.param == "localstack":
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    yield Store(request.param, s3, bucket, profile)
    for key in stored_keys(s3, bucket):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def grant_for(store: Store, *, body: bytes = PNG, checksum: bool = True, **overrides) -> Grant:
    declared = DeclaredFile(
        id="f" * 16,
        name="Straße café.png",
        size=len(body),
        type="image/png",
        sha256=sha256_b64(body) if checksum else None,
    )
    grant = sign_upload(store.gateway(**overrides), ALICE, declared)
    assert isinstance(grant, Grant) and grant.method == "put", grant
    return grant


def browser_put(grant: Grant, body: bytes, headers: dict | None = None) -> requests.Response:
    """PUT as the component does: exactly the grant's headers (or those given), plus the Origin every
    browser adds by itself (no signature covers it)."""
    sent = grant.headers if headers is None else headers
    return requests.put(grant.url, data=body, headers={"Origin": APP_ORIGIN, **sent}, timeout=30)


def code_of(response: requests.Response) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        return None
    for child in root:
        if child.tag.rsplit("}", 1)[-1] == "Code":
            return child.text
    return None


def refused(store: Store, case: str, response: requests.Response, codes: set[str]) -> None:
    assert 400 <= response.status_code < 500, f"{store.name} accepted {case}: {response.status_code} {response.text}"
    assert code_of(response) in codes, response.text
    assert stored_keys(store.s3, store.bucket) == [], f"{store.name} stored something for {case}"


# --- the grant as signed works ------------------------------------------------------------------------


@pytest.mark.parametrize("checksum", [True, False], ids=["with-sha256", "without"])
def test_matching_put_stores_exactly_what_was_signed(store, checksum):
    grant = grant_for(store, checksum=checksum)

    response = browser_put(grant, PNG)

    assert response.status_code == 200, response.text
    assert stored_keys(store.s3, store.bucket) == [grant.key]
    stored = store.s3.get_object(Bucket=store.bucket, Key=grant.key)
    assert stored["Body"].read() == PNG
    assert stored["ContentType"] == "image/png"
    assert stored["ContentDisposition"] == grant.headers["Content-Disposition"]
    assert stored["Metadata"]["uploaded-by"] == grant.headers["x-amz-meta-uploaded-by"]
    assert stored["Metadata"]["filename"] == grant.headers["x-amz-meta-filename"]
    if checksum:
        assert store.s3.head_object(Bucket=store.bucket, Key=grant.key, ChecksumMode="ENABLED").get(
            "ChecksumSHA256"
        ) == sha256_b64(PNG)


SUBSTRING_HEADERS = (
    "LocalStack 4.9.2 matches request header names against X-Amz-SignedHeaders as substrings "
    "(presigned_url.py: `if header_low in signed_headers`), so an unsigned Origin header counts as signed "
    "when a signed name contains 'origin', and the PUT gets 403 SignatureDoesNotMatch. Real S3 and SeaweedFS "
    "accept it. bucketdesk's metadata names contain no header a browser sends (lib.metadata)."
)


def test_matching_put_from_the_apps_origin_is_stored(store):
    """What a browser sends: the grant's headers plus its Origin, Referer and the rest no signature covers."""
    grant = grant_for(store)
    browser_adds = {
        "Referer": APP_ORIGIN + "/upload",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0.0.0",
        "Accept": "*/*",
        "Accept-Language": "en-US,en;q=0.9",
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
        "Priority": "u=1, i",
    }
    response = browser_put(grant, PNG, {**grant.headers, **browser_adds})
    assert response.status_code == 200, response.text
    assert stored_keys(store.s3, store.bucket) == [grant.key]


def test_a_signed_name_containing_origin_makes_the_store_refuse_a_browsers_put(store):
    """Why the file name is `x-amz-meta-filename`: signed under the name used before, a browser's PUT
    (with its Origin) is refused by LocalStack 4.9.2 though every signed header matches."""
    gateway = store.gateway()
    url, headers = gateway.presign_put(
        "uploads/legacy.png",
        size=len(PNG),
        content_type="image/png",
        content_disposition='attachment; filename="cat.png"',
        metadata={"uploaded-by": "alice%40example.com", "original-name": "cat.png"},
        sha256=None,
        expires_in=300,
    )
    without_origin = requests.put(url, data=PNG, headers=headers, timeout=30)
    assert without_origin.status_code == 200, without_origin.text
    store.s3.delete_object(Bucket=store.bucket, Key="uploads/legacy.png")
    with_origin = requests.put(url, data=PNG, headers={**headers, "Origin": APP_ORIGIN}, timeout=30)
    if store.name == "localstack":
        assert (with_origin.status_code, code_of(with_origin)) == (403, "SignatureDoesNotMatch"), SUBSTRING_HEADERS
        assert stored_keys(store.s3, store.bucket) == []
    else:
        assert with_origin.status_code == 200, with_origin.text


# --- each pin, broken once ----------------------------------------------------------------------------

SIGNATURE = {"SignatureDoesNotMatch"}


@pytest.mark.parametrize("body", [PNG + b"!", PNG[:-1]], ids=["one-byte-more", "one-byte-less"])
def test_another_length_is_refused(store, body):
    grant = grant_for(store, checksum=False)
    refused(store, f"length-{len(body)}", browser_put(grant, body), SIGNATURE)


@pytest.mark.parametrize(
    ("case", "header", "value"),
    [
        ("content-type", "Content-Type", "text/plain"),
        ("uploader", "x-amz-meta-uploaded-by", "mallory@example.com"),
        ("disposition", "Content-Disposition", "inline"),
        ("checksum-header", "x-amz-checksum-sha256", sha256_b64(OTHER)),
    ],
)
def test_another_signed_header_value_is_refused(store, case, header, value):
    grant = grant_for(store)
    body = OTHER if case == "checksum-header" else PNG  # the other checksum is honest about its body
    refused(store, case, browser_put(grant, body, {**grant.headers, header: value}), SIGNATURE)


def test_an_extra_unsigned_metadata_header_is_refused(store):
    grant = grant_for(store)
    extra = {**grant.headers, "x-amz-meta-evil": "1"}
    # LocalStack: 403 AccessDenied (headers not signed); SeaweedFS: 403 SignatureDoesNotMatch.
    refused(store, "extra-meta", browser_put(grant, PNG, extra), {"AccessDenied", "SignatureDoesNotMatch"})


def test_other_bytes_than_the_signed_checksum_are_refused(store):
    grant = grant_for(store)
    refused(store, "bad-digest", browser_put(grant, OTHER), {"BadDigest"})


def test_an_expired_url_is_refused(store):
    grant = grant_for(store, policy_expiry_seconds=1)
    time.sleep(2.2)
    refused(store, "expired", browser_put(grant, PNG), {"AccessDenied"})
