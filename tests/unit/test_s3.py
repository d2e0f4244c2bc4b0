"""lib.s3: botocore failures become StorageErrors with a sentence and a hint; the gateway's calls."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from lib.config import BucketProfile
from lib.errors import AccessDenied, BadCredentials, BucketNotFound, EndpointUnreachable, StorageError, Throttled
from lib.s3 import S3Gateway, storage_error, storage_errors
from tests.unit.helpers import BUCKET, REGION

pytestmark = pytest.mark.unit

ACTION = "reading uploads/a.png"


def client_error(
    code: str, message: str = "S3 said no", status: int = 400, operation: str = "HeadObject"
) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


CASES = [
    (client_error("NoSuchBucket", status=404), BucketNotFound, "NoSuchBucket"),
    (client_error("AccessDenied", status=403), AccessDenied, "AccessDenied"),
    (client_error("InvalidAccessKeyId", status=403), BadCredentials, "InvalidAccessKeyId"),
    (client_error("SignatureDoesNotMatch", status=403), BadCredentials, "SignatureDoesNotMatch"),
    (client_error("ExpiredToken", status=400), BadCredentials, "ExpiredToken"),
    (client_error("SlowDown", status=503), Throttled, "SlowDown"),
    (client_error("ServiceUnavailable", status=503), Throttled, "ServiceUnavailable"),
    (EndpointConnectionError(endpoint_url="http://localhost:4566"), EndpointUnreachable, "EndpointUnreachable"),
    (ConnectTimeoutError(endpoint_url="http://10.0.0.1"), EndpointUnreachable, "EndpointUnreachable"),
    (ReadTimeoutError(endpoint_url="http://10.0.0.1"), EndpointUnreachable, "EndpointUnreachable"),
    (NoCredentialsError(), BadCredentials, "NoCredentials"),
    (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), BadCredentials, "NoCredentials"),
]


@pytest.mark.parametrize("exc, kind, code", CASES, ids=[c[2] + "-" + type(c[0]).__name__ for c in CASES])
def test_botocore_failure_becomes_the_right_storage_error(exc, kind, code):
    error = storage_error(exc, ACTION)
    assert type(error) is kind
    assert isinstance(error, StorageError)
    assert error.code == code
    assert error.message.endswith(".") and error.message[0].isupper()
    assert ACTION in error.message
    assert error.hint and error.hint.endswith(".")
    assert "Traceback" not in error.message and "botocore" not in error.message


def test_head_404_on_a_bucket_is_bucket_not_found(gateway, monkeypatch):
    def missing(**_):
        raise client_error("404", status=404, operation="HeadBucket")

    monkeypatch.setattr(gateway.client, "head_bucket", missing)
    with pytest.raises(BucketNotFound) as raised:
        gateway.check_bucket()
    assert raised.value.code == "NoSuchBucket" and BUCKET in raised.value.message


def test_unknown_client_error_keeps_s3s_own_words():
    error = storage_error(client_error("InvalidObjectState", "The object is archived"), ACTION)
    assert type(error) is StorageError
    assert error.code == "InvalidObjectState"
    assert "The object is archived" in error.message


def test_no_region_is_explained():
    error = storage_error(NoRegionError(), ACTION)
    assert "region" in error.message.lower() and "AWS_REGION" in error.hint


def test_storage_errors_translates_and_keeps_the_cause():
    cause = client_error("AccessDenied", status=403)
    with pytest.raises(AccessDenied) as caught:
        with storage_errors(ACTION):
            raise cause
    assert caught.value.__cause__ is cause


def test_storage_errors_lets_other_exceptions_through():
    with pytest.raises(KeyError):
        with storage_errors(ACTION):
            raise KeyError("not botocore")


def test_storage_errors_does_not_rewrap_a_storage_error():
    original = Throttled("Slow down.", "Wait.", "SlowDown")
    with pytest.raises(Throttled) as caught:
        with storage_errors(ACTION):
            raise original
    assert caught.value is original


# --- the gateway against moto ----------------------------------------------------------------------


def test_head_returns_none_for_a_missing_key(s3, gateway):
    assert gateway.head("uploads/nothing-here.png") is None


def test_head_returns_the_objects_headers(s3, gateway):
    s3.put_object(Bucket=BUCKET, Key="a/b.txt", Body=b"hello", ContentType="text/plain", Metadata={"uploaded-by": "x"})
    head = gateway.head("a/b.txt")
    assert head["ContentLength"] == 5 and head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"uploaded-by": "x"}


def test_read_returns_a_byte_range(s3, gateway):
    s3.put_object(Bucket=BUCKET, Key="r.bin", Body=b"0123456789")
    assert gateway.read("r.bin", 2, 4) == b"234"
    assert gateway.read("r.bin") == b"0123456789"


def test_read_of_a_missing_key_is_a_storage_error(s3, gateway):
    with pytest.raises(StorageError) as caught:
        gateway.read("missing.bin")
    assert caught.value.code == "NoSuchKey"


def test_move_leaves_only_the_new_key(s3, gateway):
    s3.put_object(Bucket=BUCKET, Key="from.txt", Body=b"x")
    gateway.move("from.txt", "to/here.txt")
    assert gateway.head("from.txt") is None
    assert gateway.read("to/here.txt") == b"x"


def test_delete_removes_the_object(s3, gateway):
    s3.put_object(Bucket=BUCKET, Key="gone.txt", Body=b"x")
    gateway.delete("gone.txt")
    assert gateway.head("gone.txt") is None


def test_check_bucket_passes_for_an_existing_bucket(s3, gateway):
    gateway.check_bucket()


def test_check_bucket_on_a_missing_bucket_is_bucket_not_found(s3):
    gateway = S3Gateway(BucketProfile(name="x", bucket="no-such-bucket-here", region=REGION))
    with pytest.raises(BucketNotFound) as caught:
        gateway.check_bucket()
    assert "no-such-bucket-here" in caught.value.message


def test_presign_get_signs_for_the_public_endpoint(s3, make_gateway):
    gateway = make_gateway(
        endpoint_url="http://s3.internal:9000", public_endpoint_url="https://files.example.com", addressing_style="path"
    )
    url = urlsplit(gateway.presign_get("uploads/a b.png", expires_in=600))
    assert url.scheme == "https" and url.netloc == "files.example.com"
    assert url.path == f"/{BUCKET}/uploads/a%20b.png"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-SignedHeaders"] == ["host"], "the host is signed, so it must be the browser's"
    assert gateway.signer is not gateway.client
    assert urlsplit(gateway.client.meta.endpoint_url).netloc == "s3.internal:9000"


def test_presign_get_without_public_endpoint_uses_the_servers_client(s3, gateway):
    assert gateway.signer is gateway.client
    assert urlsplit(gateway.presign_get("a.png")).netloc.endswith("amazonaws.com")


def test_presign_get_can_ask_for_a_download_name(s3, gateway):
    url = gateway.presign_get("a.png", disposition='attachment; filename="a.png"')
    assert parse_qs(urlsplit(url).query)["response-content-disposition"] == ['attachment; filename="a.png"']


def test_explicit_profile_keys_are_used_for_signing(s3, make_gateway):
    gateway = make_gateway(access_key_id="AKIDPROFILEKEY", secret_access_key="profile-secret")
    query = parse_qs(urlsplit(gateway.presign_get("a.png")).query)
    assert query["X-Amz-Credential"][0].startswith("AKIDPROFILEKEY/")
