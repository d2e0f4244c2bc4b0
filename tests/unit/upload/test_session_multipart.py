"""lib.upload.session.UploadSession with large files: sign -> parts -> done, as uploader.js sends the events.

Each event is cumulative and may arrive twice (Streamlit keeps the last value per run and reruns
overlap), so every step is checked for idempotence as well as for its effect on the bucket.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lib.components.uploader import parse_done, parse_parts, parse_sign
from lib.config import MiB
from lib.upload.grants import Grant
from lib.upload.multipart import MultipartGrant
from lib.upload.resume import OpenUploadStore
from lib.upload.session import UploadSession
from tests.unit.helpers import BUCKET, FILE_ID, OTHER_ID, UPLOADER, local_desk, recorded, sha256_b64

pytestmark = pytest.mark.unit

SIZE = 11 * MiB
BODY = bytes(range(256)) * (SIZE // 256)
PART = 5 * MiB


def part(n: int) -> bytes:
    return BODY[(n - 1) * PART : n * PART]


@pytest.fixture
def large(make_gateway):
    return make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)


@pytest.fixture
def store(tmp_path) -> OpenUploadStore:
    return OpenUploadStore(tmp_path / "multipart")


@pytest.fixture
def session(store) -> UploadSession:
    return UploadSession(bucket=BUCKET, open_uploads=store)


@pytest.fixture
def audit(tmp_path, large):
    """The desk every action goes through (it records the events), for the local user."""
    return local_desk(large, tmp_path)


@pytest.fixture(autouse=True)
def no_open_uploads_left(s3):
    yield
    for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def sign_large(session, gateway, **fields):
    file = {
        "id": FILE_ID,
        "name": "clip.mp4",
        "size": SIZE,
        "type": "video/mp4",
        "lastModified": 7,
        "signSeq": 0,
        **fields,
    }
    session.sign(gateway, UPLOADER, parse_sign({"files": [file]}))
    answer = session.grants[FILE_ID]
    assert isinstance(answer, MultipartGrant), answer
    return answer


def ask_parts(session, gateway, *parts, sign_seq=1, file_id=FILE_ID):
    wanted = [{"n": n, "sha256": sha256_b64(part(n)), "held": held} for n, held in parts]
    session.sign_parts(gateway, parse_parts({"requests": [{"id": file_id, "signSeq": sign_seq, "parts": wanted}]}))
    return session.component_data()["partUrls"].get(file_id, {})


def send_parts(s3, grant, numbers=(1, 2, 3)) -> list[dict]:
    reported = []
    for n in numbers:
        etag = s3.upload_part(Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id, PartNumber=n, Body=part(n))[
            "ETag"
        ]
        reported.append({"n": n, "etag": etag, "sha256": sha256_b64(part(n))})
    return reported


def done(session, gateway, desk=None, **result):
    event = {"results": [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 200, **result}]}
    if desk is not None:
        return desk.finish_uploads(session, parse_done(event))
    return session.finish(gateway, parse_done(event))


def open_ids(s3) -> list[str]:
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


# --- sign --------------------------------------------------------------------------------------------


def test_a_file_above_the_threshold_gets_a_multipart_grant_and_a_small_one_a_post(session, large, s3):
    small = {
        "id": OTHER_ID,
        "name": "a.txt",
        "size": 5 * MiB,
        "type": "text/plain",
        "signSeq": 0,
        "sha256": sha256_b64(b"a"),
    }
    session.sign(large, UPLOADER, parse_sign({"files": [small]}))
    grant = sign_large(session, large)

    assert isinstance(session.grants[OTHER_ID], Grant)  # exactly at the threshold: one POST
    sent = session.component_data()["grants"][FILE_ID]
    assert sent == {
        "kind": "multipart", "key": grant.key, "uploadId": grant.upload_id, "partSize": PART, "partCount": 3,
        "checksums": True, "signSeq": 1, "parts": {},
    }  # fmt: skip
    assert open_ids(s3) == [grant.upload_id]


def test_the_same_sign_event_twice_starts_one_upload(session, large, s3):
    first = sign_large(session, large)
    again = sign_large(session, large)
    assert again is first and open_ids(s3) == [first.upload_id]


def test_a_retry_naming_its_upload_resumes_it_with_the_parts_already_there(session, large, s3):
    first = sign_large(session, large)
    ask_parts(session, large, (1, 0))
    send_parts(s3, first, [1])

    again = sign_large(session, large, signSeq=1, uploadId=first.upload_id)

    assert again.sign_seq == 2 and again.upload_id == first.upload_id
    assert [(p.number, p.sha256) for p in again.in_bucket] == [(1, sha256_b64(part(1)))]  # recorded when signed
    assert session.component_data()["partUrls"] == {}  # URLs of the old grant are gone
    assert open_ids(s3) == [first.upload_id]


def test_after_a_reload_a_new_session_resumes_from_the_servers_record(store, large, s3):
    first = sign_large(UploadSession(bucket=BUCKET, open_uploads=store), large)
    send_parts(s3, first, [2])
    later = UploadSession(bucket=BUCKET, open_uploads=OpenUploadStore(store.directory))  # a new browser session

    resumed = sign_large(later, large, uploadId=first.upload_id)

    assert (resumed.upload_id, resumed.key, resumed.sign_seq) == (first.upload_id, first.key, 1)
    assert [p.number for p in resumed.in_bucket] == [2]


# --- part URLs -----------------------------------------------------------------------------------------


def test_part_urls_are_signed_once_per_request_and_again_when_the_browser_holds_the_current_one(session, large):
    sign_large(session, large)
    first = ask_parts(session, large, (1, 0), (2, 0))
    repeated = ask_parts(session, large, (1, 0), (2, 0))
    renewed = ask_parts(session, large, (1, 1))

    assert set(first) == {"1", "2"} and first == repeated
    assert first["1"]["sha256"] == sha256_b64(part(1)) and first["1"]["seq"] == 1
    assert renewed["1"]["seq"] == 2 and renewed["1"]["expiresAt"] >= first["1"]["expiresAt"]  # signed anew
    assert "2" not in renewed  # no longer asked for: the browser has it
    assert parse_qs(urlsplit(first["2"]["url"]).query)["partNumber"] == ["2"]


def test_part_requests_for_other_grants_or_parts_beyond_the_plan_are_ignored(session, large):
    sign_large(session, large)
    assert ask_parts(session, large, (1, 0), sign_seq=2) == {}
    assert ask_parts(session, large, (1, 0), file_id=OTHER_ID) == {}
    assert set(ask_parts(session, large, (3, 0), (4, 0))) == {"3"}


def test_a_part_without_its_checksum_is_refused_when_the_upload_carries_them(session, large):
    sign_large(session, large)
    session.sign_parts(
        large, parse_parts({"requests": [{"id": FILE_ID, "signSeq": 1, "parts": [{"n": 1, "held": 0}]}]})
    )
    answer = session.component_data()["partUrls"][FILE_ID]["1"]
    assert "url" not in answer and "SHA-256" in answer["refused"]


def test_signed_part_checksums_are_kept_in_the_servers_record(session, large, store):
    grant = sign_large(session, large)
    ask_parts(session, large, (1, 0), (3, 0))
    assert store.get(grant.upload_id).part_sha256 == {1: sha256_b64(part(1)), 3: sha256_b64(part(3))}


# --- done: complete, abort, or keep for a resume ------------------------------------------------------


def test_a_complete_report_completes_verifies_and_audits_the_upload(session, large, s3, audit, store):
    grant = sign_large(session, large)
    ask_parts(session, large, (1, 0), (2, 0), (3, 0))
    reported = send_parts(s3, grant)

    [outcome] = done(session, large, audit, parts=reported)
    again = done(session, large, audit, parts=reported)  # the same event, repeated

    assert outcome.ok, outcome.message
    assert outcome.key == grant.key and outcome.size == SIZE
    assert again == []
    assert s3.get_object(Bucket=BUCKET, Key=grant.key)["Body"].read() == BODY
    assert open_ids(s3) == [] and store.records() == []
    data = session.component_data()
    assert FILE_ID not in data["grants"] and data["partUrls"] == {} and data["verified"][FILE_ID]["ok"]
    [record] = recorded(audit.events, action="upload")
    assert (record["action"], record["outcome"], record["key"]) == ("upload", "ok", grant.key)
    assert record["details"]["upload_id"] == grant.upload_id and record["details"]["parts"] == 3


def test_a_report_whose_etag_differs_from_the_bucket_fails_and_keeps_the_parts(session, large, s3):
    grant = sign_large(session, large)
    reported = send_parts(s3, grant)
    reported[1]["etag"] = '"00000000000000000000000000000000"'

    [outcome] = done(session, large, parts=reported)

    assert not outcome.ok and "part 2 is not what the browser sent" in outcome.message
    assert "Choose the same file again to resume" in outcome.message
    assert open_ids(s3) == [grant.upload_id]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=grant.key).get("KeyCount") == 0


def test_cancel_aborts_the_upload(session, large, s3, audit, store):
    grant = sign_large(session, large)
    send_parts(s3, grant, [1])

    [outcome] = done(session, large, audit, ok=False, status=0, code="Cancelled", message="You cancelled this upload.")

    assert not outcome.ok and outcome.message == "You cancelled this upload; its parts were removed from the bucket."
    assert open_ids(s3) == [] and store.records() == []
    assert [(r["action"], r["outcome"]) for r in recorded(audit.events)] == [("cancel", "ok")]


def test_a_browser_side_failure_keeps_the_parts_for_a_resume(session, large, s3, store):
    grant = sign_large(session, large)
    send_parts(s3, grant, [1])

    [outcome] = done(session, large, ok=False, status=0, code="NetworkError", message="Could not reach the bucket.")

    assert not outcome.ok
    assert outcome.message.startswith(
        "Could not reach the bucket. (NetworkError) The parts already sent stay in the bucket"
    )
    assert open_ids(s3) == [grant.upload_id] and [r.upload_id for r in store.records()] == [grant.upload_id]


# --- parsing the browser's events ---------------------------------------------------------------------


def test_sign_event_keeps_a_well_formed_upload_id_and_known_checksum_reasons_only():
    base = {"id": FILE_ID, "name": "a.mp4", "size": 1, "type": "video/mp4", "signSeq": 0, "lastModified": 99}
    [kept] = parse_sign({"files": [{**base, "uploadId": "abc-DEF_123.~+/=", "noChecksum": "insecure-context"}]})
    [dropped] = parse_sign({"files": [{**base, "uploadId": "bad id\n", "noChecksum": "because"}]})
    [not_text] = parse_sign({"files": [{**base, "uploadId": {"$ne": 1}}]})
    assert (kept.resume_upload_id, kept.file.no_checksum, kept.last_modified) == (
        "abc-DEF_123.~+/=",
        "insecure-context",
        99,
    )
    assert (dropped.resume_upload_id, dropped.file.no_checksum) == (None, None)
    assert not_text.resume_upload_id is None


def test_parts_event_drops_what_is_not_a_part_request():
    digest = sha256_b64(b"x")
    event = {
        "requests": [
            {
                "id": FILE_ID,
                "signSeq": 1,
                "parts": [{"n": 1, "sha256": digest, "held": 2}, {"n": 0}, {"n": 10_001}, "x", {"n": True}],
            },
            {"id": "not-an-id", "signSeq": 1, "parts": [{"n": 1}]},
            "junk",
        ]
    }
    [request] = parse_parts(event)
    assert (request.id, request.sign_seq) == (FILE_ID, 1)
    assert [(p.number, p.sha256, p.held_seq) for p in request.parts] == [(1, digest, 2)]
    assert parse_parts(None) == [] and parse_parts({"requests": "x"}) == []


def test_done_event_parts_are_ordered_and_cleaned():
    event = {
        "results": [
            {
                "id": FILE_ID,
                "signSeq": 1,
                "ok": True,
                "parts": [{"n": 2, "etag": '"b"'}, {"n": 1, "etag": '"a"', "sha256": "bad"}, {"n": -1}],
            }
        ]
    }
    [report] = parse_done(event)
    assert [(p.number, p.etag, p.sha256) for p in report.parts] == [(1, '"a"', None), (2, '"b"', None)]


# --- limits per event and per session ----------------------------------------------------------------


def test_the_same_file_twice_in_one_sign_event_starts_one_upload(session, large, s3):
    file = {"id": FILE_ID, "name": "clip.mp4", "size": SIZE, "type": "video/mp4", "signSeq": 0}
    session.sign(large, UPLOADER, parse_sign({"files": [file, dict(file, name="other.mp4")]}))
    grant = session.grants[FILE_ID]
    assert isinstance(grant, MultipartGrant) and grant.original_name == "clip.mp4"
    assert open_ids(s3) == [grant.upload_id]


def test_re_signing_a_multipart_file_aborts_the_upload_it_supersedes(session, large, s3, store):
    first = sign_large(session, large)
    second = sign_large(session, large, signSeq=1)  # the browser holds the current grant, names no upload
    assert second.upload_id != first.upload_id and second.sign_seq == 2
    assert open_ids(s3) == [second.upload_id] and store.get(first.upload_id) is None


def test_re_signing_that_resumes_the_same_upload_keeps_it(session, large, s3):
    first = sign_large(session, large)
    again = sign_large(session, large, signSeq=1, uploadId=first.upload_id)
    assert again.upload_id == first.upload_id and open_ids(s3) == [first.upload_id]


def test_files_past_the_session_limit_are_refused_and_not_kept(session, large, monkeypatch):
    monkeypatch.setattr("lib.upload.session.MAX_FILES_PER_SESSION", 1)
    sign_large(session, large)
    small = {
        "id": OTHER_ID,
        "name": "a.txt",
        "size": 10,
        "type": "text/plain",
        "signSeq": 0,
        "sha256": sha256_b64(b"a"),
    }
    session.sign(large, UPLOADER, parse_sign({"files": [small]}))
    assert OTHER_ID not in session.grants
    assert session.component_data()["grants"][OTHER_ID]["code"] == "too_many"


def test_part_urls_signed_in_one_event_are_capped(session, large, monkeypatch):
    monkeypatch.setattr("lib.upload.session.MAX_PARTS_PER_EVENT", 2)
    sign_large(session, large)
    urls = ask_parts(session, large, (1, 0), (2, 0), (3, 0))
    assert sorted(urls) == ["1", "2"]  # part 3 is signed when the browser asks again


def test_the_same_file_twice_in_one_parts_event_is_answered_once(session, large):
    sign_large(session, large)
    request = {"id": FILE_ID, "signSeq": 1, "parts": [{"n": 1, "sha256": sha256_b64(part(1)), "held": 0}]}
    other = {"id": FILE_ID, "signSeq": 1, "parts": [{"n": 2, "sha256": sha256_b64(part(2)), "held": 0}]}
    session.sign_parts(large, parse_parts({"requests": [request, other]}))
    assert list(session.component_data()["partUrls"][FILE_ID]) == ["1"]
