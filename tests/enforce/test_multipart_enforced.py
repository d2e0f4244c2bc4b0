"""Multipart uploads from lib.upload.multipart against an S3 that checks checksums (LocalStack 4.9.2).

Parts are PUT the way uploader.js sends them: to the presigned URL, with exactly the signed
`x-amz-checksum-sha256` header and no other `x-amz-*` header. Every refusal is checked on the
wire (status and S3 error code) and in the bucket (no object, and for aborts no open upload).
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET

import pytest
import requests

from lib.components.uploader import parse_done, parse_parts, parse_sign
from lib.config import MiB
from lib.errors import StorageError, UploadIncomplete
from lib.names import decode_metadata
from lib.upload import multipart
from lib.upload.grants import DeclaredFile, Refusal
from lib.upload.multipart import MultipartGrant
from lib.upload.resume import OpenUploadStore
from lib.upload.session import UploadSession
from tests.support.checksums import sha256_b64

pytestmark = pytest.mark.enforce

ALICE = "alice@example.com"
FILE_ID = "0123456789abcdef"
# 11 MiB of text in 5 MiB parts (the threshold here is 5 MiB): parts of 5, 5 and 1 MiB.
BODY = (b"bucketdesk multipart enforce test\n" + os.urandom(1000).hex().encode() + b"\n") * (
    11 * MiB // 2035
) + b"x" * (11 * MiB % 2035)
assert len(BODY) == 11 * MiB


@pytest.fixture
def large(make_gateway):
    """The test bucket, taking files up to 64 MiB, in parts above 5 MiB, checksums required."""
    return make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB, checksums="required")


@pytest.fixture
def store() -> OpenUploadStore:
    return OpenUploadStore(None)


def start(gateway, store, *, body=BODY, uploader=ALICE, resume_id=None) -> MultipartGrant:
    declared = DeclaredFile(id=FILE_ID, name="notes.txt", size=len(body), type="text/plain")
    grant = multipart.start_or_resume(gateway, store, uploader, declared, resume_id=resume_id)
    assert isinstance(grant, MultipartGrant), grant
    return grant


def part_of(grant: MultipartGrant, n: int, body: bytes = BODY) -> bytes:
    return body[(n - 1) * grant.part_size : n * grant.part_size]


def put_part(gateway, grant, n, data, *, sign_sha=None, send_sha="same", extra_headers=None) -> requests.Response:
    """Sign part n for `sign_sha` (default: the data's SHA-256) and PUT `data` as the browser does."""
    sign_sha = sign_sha or sha256_b64(data)
    url = multipart.sign_part(gateway, grant, n, sign_sha, seq=1)
    assert url.url and url.sha256 == sign_sha
    headers = {"Origin": "http://localhost:8501", **(extra_headers or {})}
    if send_sha:
        headers["x-amz-checksum-sha256"] = sign_sha if send_sha == "same" else send_sha
    return requests.put(url.url, data=data, headers=headers, timeout=60)


def upload_all(gateway, grant) -> dict[int, str]:
    etags = {}
    for n in range(1, grant.part_count + 1):
        response = put_part(gateway, grant, n, part_of(grant, n))
        assert response.status_code == 200, response.text
        etags[n] = response.headers["ETag"]
    return etags


def s3_code(response: requests.Response) -> str | None:
    return ET.fromstring(response.content).findtext("Code")


def nothing_stored(s3, bucket) -> bool:
    return not s3.list_objects_v2(Bucket=bucket).get("Contents")


def open_uploads(s3, bucket) -> list:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


# --- a part is checked against its signed checksum --------------------------------------------------


def test_a_part_whose_bytes_do_not_match_its_signed_checksum_is_refused(large, store, s3, bucket):
    grant = start(large, store)
    assert grant.part_count == 3 and grant.checksums
    good = part_of(grant, 1)
    corrupted = bytes([good[0] ^ 0xFF]) + good[1:]

    response = put_part(large, grant, 1, corrupted, sign_sha=sha256_b64(good))

    assert (response.status_code, s3_code(response)) == (400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key=grant.key, UploadId=grant.upload_id).get("Parts", []) == []


def test_a_part_sent_without_its_signed_checksum_header_or_with_another_is_refused(large, store, s3, bucket):
    grant = start(large, store)
    data = part_of(grant, 1)

    missing = put_part(large, grant, 1, data, send_sha=None)
    other = put_part(large, grant, 1, data, send_sha=sha256_b64(b"other bytes"))

    assert (missing.status_code, s3_code(missing)) == (403, "SignatureDoesNotMatch")
    assert (other.status_code, s3_code(other)) == (403, "SignatureDoesNotMatch")
    assert s3.list_parts(Bucket=bucket, Key=grant.key, UploadId=grant.upload_id).get("Parts", []) == []


def test_parts_cannot_be_signed_without_a_checksum_when_the_upload_carries_them(large, store):
    grant = start(large, store)
    answer = multipart.sign_part(large, grant, 1, None, seq=1)
    assert answer.url is None and "SHA-256" in answer.refused


# --- completing: only from the right ETags, and only parts that make the declared file ---------------


def test_a_report_without_etags_completes_from_list_parts(large, store, s3, bucket):
    grant = start(large, store)
    upload_all(large, grant)

    multipart.complete(large, store, grant, {})

    assert s3.get_object(Bucket=bucket, Key=grant.key)["Body"].read() == BODY
    assert open_uploads(s3, bucket) == []


def test_completing_with_a_wrong_etag_fails_and_stores_nothing(large, store, s3, bucket):
    """An ETag the browser read must match the bucket's; one it could not read is taken from ListParts
    (test_a_report_without_etags_completes_from_list_parts)."""
    grant = start(large, store)
    etags = upload_all(large, grant)

    with pytest.raises(UploadIncomplete) as wrong:
        multipart.complete(large, store, grant, {**etags, 1: '"0123456789abcdef0123456789abcdef"'})
    assert "part 1 is not what the browser sent" in wrong.value.message and wrong.value.resumable
    # The bucket itself refuses a wrong ETag, whatever the app checked first.
    parts = s3.list_parts(Bucket=bucket, Key=grant.key, UploadId=grant.upload_id)["Parts"]
    forged = [
        {
            "PartNumber": p["PartNumber"],
            "ETag": '"0123456789abcdef0123456789abcdef"',
            "ChecksumSHA256": p["ChecksumSHA256"],
        }
        for p in parts
    ]
    with pytest.raises(StorageError) as refused:
        large.complete_multipart(grant.key, grant.upload_id, forged)
    assert refused.value.code == "InvalidPart"
    assert nothing_stored(s3, bucket)
    assert [u["UploadId"] for u in open_uploads(s3, bucket)] == [grant.upload_id]  # still resumable

    multipart.complete(large, store, grant, etags)

    head = s3.head_object(Bucket=bucket, Key=grant.key, ChecksumMode="ENABLED")
    assert s3.get_object(Bucket=bucket, Key=grant.key)["Body"].read() == BODY
    digests = b"".join(hashlib.sha256(part_of(grant, n)).digest() for n in (1, 2, 3))
    assert head["ChecksumSHA256"] == sha256_b64(digests) + "-3"
    assert (head["ContentType"], decode_metadata(head["Metadata"]["uploaded-by"])) == ("text/plain", ALICE)
    assert head["ContentDisposition"].startswith('attachment; filename="notes.txt"')
    assert open_uploads(s3, bucket) == [] and store.records() == []


def test_a_part_longer_than_planned_is_refused_by_its_signed_content_length(large, store, s3, bucket):
    grant = start(large, store)
    longer_last = part_of(grant, 3) + b"and some more"
    longer_first = part_of(grant, 1) + b"x"

    for n, data in ((3, longer_last), (1, longer_first)):
        response = put_part(large, grant, n, data)
        assert (response.status_code, s3_code(response)) == (403, "SignatureDoesNotMatch"), response.text
    assert s3.list_parts(Bucket=bucket, Key=grant.key, UploadId=grant.upload_id).get("Parts", []) == []
    assert put_part(large, grant, 3, part_of(grant, 3)).status_code == 200  # the planned size goes through


def test_parts_that_do_not_add_up_to_the_declared_size_abort_the_upload(large, store, s3, bucket):
    grant = start(large, store)
    etags = {n: put_part(large, grant, n, part_of(grant, n)).headers["ETag"] for n in (1, 2)}
    longer_last = part_of(grant, 3) + b"and some more"
    # Not through a part URL (its signed Content-Length refuses this): as a client with the app's own
    # credentials could, so the server's own check at completion is what is tested here.
    etags[3] = s3.upload_part(
        Bucket=bucket,
        Key=grant.key,
        UploadId=grant.upload_id,
        PartNumber=3,
        Body=longer_last,
        ChecksumSHA256=sha256_b64(longer_last),
    )["ETag"]

    with pytest.raises(UploadIncomplete) as broken:
        multipart.complete(large, store, grant, etags)

    assert not broken.value.resumable
    assert f"but {len(BODY)} bytes were declared" in broken.value.message and "aborted" in broken.value.message
    assert nothing_stored(s3, bucket) and open_uploads(s3, bucket) == [] and store.records() == []


# --- cancel -----------------------------------------------------------------------------------------


def test_an_aborted_upload_leaves_nothing_behind(large, store, s3, bucket):
    grant = start(large, store)
    for n in (1, 2):
        assert put_part(large, grant, n, part_of(grant, n)).status_code == 200
    assert len(open_uploads(s3, bucket)) == 1 and len(store.records()) == 1

    multipart.abort(large, store, grant)

    assert open_uploads(s3, bucket) == [] and nothing_stored(s3, bucket) and store.records() == []
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=bucket, Key=grant.key, UploadId=grant.upload_id)
    late = put_part(large, grant, 3, part_of(grant, 3))  # a part still on its way when Cancel was pressed
    assert (late.status_code, s3_code(late)) == (404, "NoSuchUpload")
    multipart.abort(large, store, grant)  # aborting twice is fine


# --- resume -----------------------------------------------------------------------------------------


def test_resume_lists_the_parts_in_the_bucket_with_the_checksums_the_bucket_verified(large, store, s3, bucket):
    first = start(large, store)
    for n in (1, 3):
        assert put_part(large, first, n, part_of(first, n)).status_code == 200

    resumed = start(large, store, resume_id=first.upload_id)
    other_user = start(large, store, uploader="mallory@example.com", resume_id=first.upload_id)
    other_file = start(large, store, body=BODY[:-1], resume_id=first.upload_id)

    assert (resumed.upload_id, resumed.key) == (first.upload_id, first.key)
    assert {p.number: p.sha256 for p in resumed.in_bucket} == {n: sha256_b64(part_of(first, n)) for n in (1, 3)}
    assert other_user.upload_id != first.upload_id and other_user.in_bucket == ()
    assert other_file.upload_id != first.upload_id and other_file.key != first.key
    multipart.abort(large, store, first)
    resumed_after_abort = start(large, store, resume_id=first.upload_id)
    assert resumed_after_abort.upload_id != first.upload_id  # gone: a fresh upload instead


def test_the_upload_session_carries_a_large_file_from_sign_to_verified(large, s3, bucket, tmp_path):
    """The page's path: sign -> parts -> PUTs -> done, with the events as uploader.js sends them."""
    session = UploadSession(bucket=bucket, open_uploads=OpenUploadStore(tmp_path / "multipart"))
    declared = {
        "id": FILE_ID,
        "name": "notes.txt",
        "size": len(BODY),
        "type": "text/plain",
        "signSeq": 0,
        "lastModified": 1,
    }
    session.sign(large, ALICE, parse_sign({"files": [declared]}))
    grant = session.grants[FILE_ID]
    assert isinstance(grant, MultipartGrant) and len(list((tmp_path / "multipart").glob("*.json"))) == 1
    wanted = [{"n": n, "sha256": sha256_b64(part_of(grant, n)), "held": 0} for n in (1, 2, 3)]
    session.sign_parts(large, parse_parts({"requests": [{"id": FILE_ID, "signSeq": 1, "parts": wanted}]}))
    urls = session.component_data()["partUrls"][FILE_ID]
    etags = []
    for n in (1, 2, 3):
        headers = {"x-amz-checksum-sha256": urls[str(n)]["sha256"]}
        response = requests.put(urls[str(n)]["url"], data=part_of(grant, n), headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        etags.append({"n": n, "etag": response.headers["ETag"], "sha256": urls[str(n)]["sha256"]})

    [outcome] = session.finish(
        large,
        parse_done({"results": [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 200, "parts": etags}]}),
    )

    assert outcome.ok, outcome.message
    assert outcome.checksum_sha256.endswith("-3")
    assert s3.get_object(Bucket=bucket, Key=grant.key)["Body"].read() == BODY
    assert list((tmp_path / "multipart").glob("*.json")) == []


def test_a_browser_that_cannot_hash_is_refused_when_checksums_are_required(large, store):
    declared = DeclaredFile(
        id=FILE_ID, name="notes.txt", size=len(BODY), type="text/plain", no_checksum="insecure-context"
    )
    answer = multipart.start_or_resume(large, store, ALICE, declared)
    assert isinstance(answer, Refusal) and "https://" in answer.reason and store.records() == []
