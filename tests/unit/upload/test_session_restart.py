"""The app restarts mid-upload (a deploy): a new UploadSession on the same multipart_state_dir takes up
what the browser re-sends, from the server's records (lib.upload.journal), as uploader.js re-sends it."""

from __future__ import annotations

import pytest

from lib.components.uploader import parse_done, parse_parts, parse_sign
from lib.config import MiB
from lib.upload.grants import Grant
from lib.upload.journal import GrantJournal
from lib.upload.multipart import MultipartGrant
from lib.upload.resume import OpenUploadStore
from lib.upload.session import UploadSession
from tests.unit.helpers import BUCKET, FILE_ID, UPLOADER, local_desk, png_bytes, recorded, sha256_b64, store

pytestmark = pytest.mark.unit

BODY = png_bytes(9, 4)
LARGE = 11 * MiB
LARGE_BODY = bytes(range(256)) * (LARGE // 256)
PART = 5 * MiB


def new_session(state_dir) -> UploadSession:
    """What the page builds for a new Streamlit session: the records are on disk, session state is empty."""
    return UploadSession(bucket=BUCKET, open_uploads=OpenUploadStore(state_dir))


def small_file(**fields) -> dict:
    file = {"id": FILE_ID, "name": "cat.png", "size": len(BODY), "type": "image/png", "signSeq": 0}
    return {**file, "sha256": sha256_b64(BODY), **fields}


def sign(session, gateway, *files, user=UPLOADER):
    session.sign(gateway, user, parse_sign({"files": list(files)}))


def report(session, gateway, sign_seq=1, user=UPLOADER, **fields):
    event = {"results": [{"id": FILE_ID, "signSeq": sign_seq, "ok": True, "status": 201, **fields}]}
    return session.finish(gateway, user, parse_done(event))


def objects(s3) -> list[str]:
    """What was uploaded (thumbnails live elsewhere)."""
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents", [])]


def test_a_small_file_stored_before_the_restart_is_verified_from_its_re_sent_report_not_stored_again(
    gateway, s3, tmp_path
):
    before = new_session(tmp_path)
    sign(before, gateway, small_file())
    grant = before.grants[FILE_ID]
    assert isinstance(grant, Grant)
    store(s3, grant, BODY)  # the POST succeeded; then the app went down before the report arrived

    after = new_session(tmp_path)
    [outcome] = report(after, gateway)

    assert outcome.ok and outcome.key == grant.key
    assert objects(s3) == [grant.key]
    assert after.component_data()["verified"][FILE_ID]["ok"] is True


def test_a_verdict_reached_just_before_the_restart_is_given_again_without_checking_twice(gateway, s3, tmp_path):
    before = new_session(tmp_path)
    sign(before, gateway, small_file())
    store(s3, before.grants[FILE_ID], BODY)
    [first] = report(before, gateway)

    after = new_session(tmp_path)
    assert report(after, gateway) == []  # already judged: nothing new to check
    assert after.component_data()["verified"][FILE_ID] == {"ok": True, "message": first.message, "signSeq": 1}


def test_a_grant_asked_for_again_after_the_restart_is_the_same_grant(gateway, tmp_path):
    before = new_session(tmp_path)
    sign(before, gateway, small_file())
    after = new_session(tmp_path)
    sign(after, gateway, small_file())  # the browser still waits: the same request again
    assert after.component_data()["grants"][FILE_ID] == before.component_data()["grants"][FILE_ID]


def test_another_users_report_finds_nothing(gateway, s3, tmp_path):
    before = new_session(tmp_path)
    sign(before, gateway, small_file())
    store(s3, before.grants[FILE_ID], BODY)
    after = new_session(tmp_path)
    assert report(after, gateway, user="mallory@example.com") == []
    assert after.component_data()["verified"] == {}


def test_a_browser_holding_a_grant_the_server_no_longer_knows_gets_a_newer_one(gateway, tmp_path):
    after = UploadSession(bucket=BUCKET)  # no records survived (another machine, another disk)
    sign(after, gateway, small_file(signSeq=3))
    assert after.grants[FILE_ID].sign_seq == 4


def test_a_folder_keeps_its_one_prefix_across_the_restart(make_gateway, tmp_path):
    gateway = make_gateway(upload_prefix="uploads/{uuid}/{relative_path}")
    batch = "b" * 24

    def in_folder(n: int, name: str) -> dict:
        return small_file(id=f"{n:016x}", name=name, batch=batch, folder="shoot")

    before = new_session(tmp_path)
    sign(before, gateway, in_folder(1, "a.png"))
    after = new_session(tmp_path)
    sign(after, gateway, in_folder(1, "a.png"), in_folder(2, "b.png"))
    keys = {fid: g.key for fid, g in after.grants.items()}
    assert keys[f"{1:016x}"] == before.grants[f"{1:016x}"].key
    assert keys[f"{2:016x}"].rsplit("/", 2)[0] == keys[f"{1:016x}"].rsplit("/", 2)[0]


def test_a_large_upload_continues_after_the_restart_under_the_same_key_and_upload(make_gateway, s3, tmp_path):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)
    large = {"id": FILE_ID, "name": "clip.mp4", "size": LARGE, "type": "video/mp4", "lastModified": 7, "signSeq": 0}
    before = new_session(tmp_path)
    sign(before, gateway, large)
    first = before.grants[FILE_ID]
    assert isinstance(first, MultipartGrant)
    s3.upload_part(Bucket=BUCKET, Key=first.key, UploadId=first.upload_id, PartNumber=1, Body=LARGE_BODY[:PART])

    # uploader.js, its grant gone from the new page, asks again holding it and naming its upload.
    after = new_session(tmp_path)
    sign(after, gateway, {**large, "signSeq": 1, "uploadId": first.upload_id})
    again = after.grants[FILE_ID]
    assert isinstance(again, MultipartGrant)
    assert (again.upload_id, again.key, again.sign_seq) == (first.upload_id, first.key, 2)
    assert [p.number for p in again.in_bucket] == [1]

    for n in (2, 3):
        body = LARGE_BODY[(n - 1) * PART : n * PART]
        s3.upload_part(Bucket=BUCKET, Key=first.key, UploadId=first.upload_id, PartNumber=n, Body=body)
        after.sign_parts(
            gateway, parse_parts({"requests": [{"id": FILE_ID, "signSeq": 2, "parts": [{"n": n, "held": 0}]}]})
        )
    [outcome] = report(after, gateway, sign_seq=2, status=200)
    assert outcome.ok, outcome.message
    assert objects(s3) == [first.key]


def large_file(**fields) -> dict:
    file = {"id": FILE_ID, "name": "clip.mp4", "size": LARGE, "type": "video/mp4", "lastModified": 7, "signSeq": 0}
    return {**file, **fields}


def fill(s3, grant: MultipartGrant) -> list[dict]:
    """Every part PUT as uploader.js sends them; the parts as CompleteMultipartUpload takes them."""
    parts = []
    for n in range(1, grant.part_count + 1):
        body = LARGE_BODY[(n - 1) * PART : n * PART]
        digest = sha256_b64(body)
        answer = s3.upload_part(
            Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id, PartNumber=n, Body=body, ChecksumSHA256=digest
        )
        parts.append({"PartNumber": n, "ETag": answer["ETag"], "ChecksumSHA256": digest})
    return parts


def started_uploads(s3) -> list[str]:
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


@pytest.mark.parametrize("record", ["removed", "left"], ids=["record-removed", "died-before-removing-record"])
@pytest.mark.parametrize("order", ["sign-first", "done-first"])
def test_a_large_upload_completed_just_before_the_restart_is_verified_not_started_over(
    make_gateway, s3, tmp_path, order, record
):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)
    before = new_session(tmp_path)
    sign(before, gateway, large_file())
    grant = before.grants[FILE_ID]
    assert isinstance(grant, MultipartGrant)
    parts = fill(s3, grant)
    # The report arrived and CompleteMultipartUpload returned; the app went down before its verdict.
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id, MultipartUpload={"Parts": parts}
    )
    if record == "removed":
        before.open_uploads.remove(grant.upload_id)  # as lib.upload.multipart.complete does next

    # uploader.js re-sends its report and, its grant gone from the new page, asks again naming its upload.
    after = new_session(tmp_path)
    asked_again = large_file(signSeq=1, uploadId=grant.upload_id)
    if order == "sign-first":
        sign(after, gateway, asked_again)
        assert after.grants[FILE_ID] == grant, "the grant stands: no new upload, no new key"
    [outcome] = report(after, gateway, sign_seq=1, status=200)
    sign(after, gateway, asked_again)

    assert outcome.ok and outcome.key == grant.key, outcome.message
    assert after.grants[FILE_ID] == grant
    assert started_uploads(s3) == []
    assert objects(s3) == [grant.key]
    assert after.component_data()["verified"][FILE_ID]["ok"] is True
    assert after.open_uploads.get(grant.upload_id) is None


def test_an_object_at_the_key_that_is_not_the_one_signed_does_not_count_as_complete(make_gateway, s3, tmp_path):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)
    before = new_session(tmp_path)
    sign(before, gateway, large_file())
    grant = before.grants[FILE_ID]
    s3.abort_multipart_upload(Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id)
    s3.put_object(Bucket=BUCKET, Key=grant.key, Body=b"x" * LARGE, ContentType="video/mp4")  # no uploader on it

    after = new_session(tmp_path)
    sign(after, gateway, large_file(signSeq=1, uploadId=grant.upload_id))

    again = after.grants[FILE_ID]
    assert isinstance(again, MultipartGrant) and again.sign_seq == 2 and again.upload_id != grant.upload_id
    assert started_uploads(s3) == [again.upload_id]


def test_an_upload_still_open_with_every_part_in_is_resumed_not_taken_for_complete(make_gateway, s3, tmp_path):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)
    before = new_session(tmp_path)
    sign(before, gateway, large_file())
    grant = before.grants[FILE_ID]
    fill(s3, grant)

    after = new_session(tmp_path)
    sign(after, gateway, large_file(signSeq=1, uploadId=grant.upload_id))

    again = after.grants[FILE_ID]
    assert isinstance(again, MultipartGrant) and (again.upload_id, again.sign_seq) == (grant.upload_id, 2)
    assert [p.number for p in again.in_bucket] == [1, 2, 3]


def in_batch(n: int, name: str, batch: str = "b" * 24, **fields) -> dict:
    return small_file(id=f"{n:016x}", name=name, batch=batch, folder="shoot", **fields)


def test_a_name_that_sanitises_like_one_granted_before_the_restart_gets_its_own_key(make_gateway, tmp_path):
    gateway = make_gateway(upload_prefix="uploads/{uuid}/{relative_path}")
    before = new_session(tmp_path)
    sign(before, gateway, in_batch(1, "a b.png"))
    first = before.grants[f"{1:016x}"].key

    after = new_session(tmp_path)
    # The new file comes first in the event, before the one granted earlier is asked for again.
    sign(after, gateway, in_batch(2, "a_b.png"), in_batch(1, "a b.png", signSeq=1))
    sign(after, gateway, in_batch(3, "a?b.png"))

    keys = {fid: grant.key for fid, grant in after.grants.items()}
    assert keys[f"{1:016x}"] == first and first.endswith("/shoot/a_b.png")
    assert keys[f"{2:016x}"] == first.replace("/a_b.png", "/a_b-2.png")
    assert keys[f"{3:016x}"] == first.replace("/a_b.png", "/a_b-3.png")


def test_a_key_is_claimed_once_in_a_batch_and_never_changes_hands(tmp_path):
    journal = GrantJournal(tmp_path)
    assert journal.claim_key(UPLOADER, "b1", "up/x/a.png", "f1")
    assert journal.claim_key(UPLOADER, "b1", "up/x/a.png", "f1"), "the same file again: still its own"
    assert not journal.claim_key(UPLOADER, "b1", "up/x/a.png", "f2")
    assert not GrantJournal(tmp_path).claim_key(UPLOADER, "b1", "up/x/a.png", "f2"), "after a restart too"
    assert journal.claim_key(UPLOADER, "b2", "up/x/a.png", "f2"), "another batch is another set of keys"
    assert journal.claim_key("mallory@example.com", "b1", "up/x/a.png", "f3"), "another user's batch too"
    memory = GrantJournal(None)
    assert memory.claim_key(UPLOADER, "b1", "k", "f1") and not memory.claim_key(UPLOADER, "b1", "k", "f2")


def test_a_claim_torn_by_a_crash_counts_as_taken(tmp_path):
    journal = GrantJournal(tmp_path)
    assert journal.claim_key(UPLOADER, "b1", "up/x/a.png", "f1")
    [claim] = (tmp_path / "grants").glob("key-*.json")
    claim.write_text('{"user": "')  # the server died mid-write
    assert not journal.claim_key(UPLOADER, "b1", "up/x/a.png", "f1")


def test_a_grant_recalled_after_the_restart_is_not_recorded_as_signed_again(gateway, tmp_path):
    desk = local_desk(gateway, tmp_path, who=UPLOADER)
    desk.sign_uploads(new_session(tmp_path / "state"), parse_sign({"files": [small_file()]}))
    after = new_session(tmp_path / "state")
    desk.sign_uploads(after, parse_sign({"files": [small_file()]}))  # the browser re-sends its request
    assert isinstance(after.grants[FILE_ID], Grant)
    assert [(e["action"], e["outcome"]) for e in recorded(desk.events, action="sign")] == [("sign", "ok")]
