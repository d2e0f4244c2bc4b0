"""Upload with a grant exactly as a browser does, and read what the bucket answered and stored.

Shared by the enforce modules (LocalStack, SeaweedFS): a multipart/form-data POST with every grant
field in order and the file part last, named `file`.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from urllib.parse import quote

import requests

from lib.names import decode_metadata, encode_metadata
from lib.upload.grants import DeclaredFile, Grant, sign_upload

ALICE = "alice@example.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # 1032 bytes, every byte value present


def sign(gateway, *, name="cat.png", data=PNG, type="image/png", uploader=ALICE, sha256=None) -> Grant:
    grant = sign_upload(gateway, uploader, DeclaredFile(id="f1", name=name, size=len(data), type=type, sha256=sha256))
    assert isinstance(grant, Grant), f"expected a grant, got {grant!r}"
    return grant


APP_ORIGIN = "http://localhost:8501"  # the app's origin in these tests; bucket CORS rules admit it


def browser_post(grant: Grant, body: bytes, *, fields=None, url=None, origin=APP_ORIGIN, filename=None, file_type=None):
    """POST like a browser's FormData (from the app's page): the fields in order, then the file last."""
    fields = grant.fields if fields is None else fields
    parts = [(name, (None, value)) for name, value in fields.items()]
    parts.append(("file", (filename or grant.original_name, body, file_type or grant.content_type)))
    headers = {"Origin": origin} if origin else {}
    return requests.post(url or grant.url, files=parts, headers=headers, timeout=30, allow_redirects=False)


def xml_fields(response: requests.Response) -> dict[str, str | None]:
    """Top-level elements of an S3 XML answer by local name (with or without the S3 namespace)."""
    return {child.tag.rsplit("}", 1)[-1]: child.text for child in ET.fromstring(response.content)}


def stored_keys(s3, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def policy_of(fields: dict) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def encode_policy(policy: dict, **dumps) -> str:
    return base64.b64encode(json.dumps(policy, **dumps).encode()).decode()


def with_policy(fields: dict, policy: dict) -> dict:
    return {**fields, "policy": encode_policy(policy)}


def assert_rejected(response, status: int, code: str, s3, bucket: str, *, stored=()) -> str:
    """Status and Code as given, and the bucket holds exactly `stored`; returns the error message."""
    assert response.status_code == status, response.text
    answer = xml_fields(response)
    assert answer.get("Code") == code, response.text
    assert stored_keys(s3, bucket) == sorted(stored)
    return answer.get("Message") or ""


def assert_stored_exactly(s3, bucket: str, grant: Grant, body: bytes, name: str, uploader: str) -> None:
    """The object under the grant's key is `body`, with the type, metadata and disposition signed."""
    assert stored_keys(s3, bucket) == [grant.key]
    stored = s3.get_object(Bucket=bucket, Key=grant.key)
    assert stored["Body"].read() == body
    assert stored["ContentLength"] == len(body)
    assert stored["ContentType"] == grant.content_type
    assert stored["Metadata"] == {"uploaded-by": encode_metadata(uploader), "filename": encode_metadata(name)}
    assert decode_metadata(stored["Metadata"]["uploaded-by"]) == uploader
    assert decode_metadata(stored["Metadata"]["filename"]) == name
    assert stored["ContentDisposition"] == grant.fields["Content-Disposition"]
    assert stored["ContentDisposition"].startswith('attachment; filename="')
    assert stored["ContentDisposition"].endswith("filename*=UTF-8''" + quote(name, safe=""))
