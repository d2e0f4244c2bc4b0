"""lib.upload.grants with upload_method = "put": a presigned PutObject whose signed headers pin what a POST policy pins."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from lib.names import content_disposition, decode_metadata
from lib.upload.grants import Grant, Refusal, sign_upload
from tests.unit.helpers import SHA256_B64, UPLOADER, declared

pytestmark = pytest.mark.unit


@pytest.fixture
def put_gateway(make_gateway):
    return make_gateway(upload_method="put", checksums="optional")


def put_grant(gateway, file=None, uploader=UPLOADER) -> Grant:
    answer = sign_upload(gateway, uploader, file or declared())
    assert isinstance(answer, Grant) and answer.method == "put", answer
    return answer


def signed_headers(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


def test_a_put_grant_signs_length_type_disposition_uploader_name_and_checksum(put_gateway):
    grant = put_grant(put_gateway, declared(name="Straße café.png", size=4321))

    assert signed_headers(grant.url) == {
        "host",
        "content-length",
        "content-type",
        "content-disposition",
        "x-amz-meta-uploaded-by",
        "x-amz-meta-filename",
        "x-amz-checksum-sha256",
    }
    assert grant.headers == {
        "Content-Type": "image/png",
        "Content-Disposition": content_disposition("Straße café.png"),
        "x-amz-meta-uploaded-by": grant.headers["x-amz-meta-uploaded-by"],
        "x-amz-meta-filename": grant.headers["x-amz-meta-filename"],
        "x-amz-checksum-sha256": SHA256_B64,
    }
    assert decode_metadata(grant.headers["x-amz-meta-uploaded-by"]) == UPLOADER
    assert decode_metadata(grant.headers["x-amz-meta-filename"]) == "Straße café.png"
    assert all(value.isascii() for value in grant.headers.values()), "headers must be ASCII"
    assert unquote(urlsplit(grant.url).path).endswith("/" + grant.key)
    assert grant.fields == {}


def test_without_a_checksum_the_put_grant_signs_none(put_gateway):
    grant = put_grant(put_gateway, declared(sha256=None))
    assert "x-amz-checksum-sha256" not in signed_headers(grant.url)
    assert "x-amz-checksum-sha256" not in grant.headers


def test_the_browser_gets_the_url_and_exactly_the_headers_to_send(put_gateway):
    grant = put_grant(put_gateway)
    shown = grant.for_browser()
    assert shown["kind"] == "put" and shown["url"] == grant.url and shown["headers"] == grant.headers
    assert "fields" not in shown


def test_put_refuses_what_post_refuses_before_anything_is_signed(put_gateway, make_gateway):
    for file in (declared(name="virus.exe", type="application/x-msdownload"), declared(size=-1)):
        put, post = sign_upload(put_gateway, UPLOADER, file), sign_upload(make_gateway(), UPLOADER, file)
        assert isinstance(put, Refusal) and isinstance(post, Refusal)
        assert (put.reason, put.code) == (post.reason, post.code)


def test_a_put_grant_stores_the_file_with_its_pins(put_gateway, s3):
    """moto does not check the pins (the enforce tier does); this proves the URL and headers fit together."""
    body = b"\x89PNG\r\n\x1a\n" + b"x" * 92
    grant = put_grant(put_gateway, declared(size=len(body), sha256=None))
    response = requests.put(grant.url, data=body, headers=grant.headers, timeout=10)
    assert response.status_code == 200, response.text
    head = s3.head_object(Bucket=grant.bucket, Key=grant.key)
    assert (head["ContentLength"], head["ContentType"]) == (len(body), "image/png")
    assert head["ContentDisposition"] == grant.headers["Content-Disposition"]
    assert decode_metadata(head["Metadata"]["uploaded-by"]) == UPLOADER
