"""lib.upload.multipart (plan, start, resume, sign parts, complete, abort) and lib.upload.resume, on moto.

moto stores multipart uploads but reports no part checksums (and checks none): these tests prove
the app's own logic; tests/enforce/test_multipart_enforced.py proves what a checking bucket does.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.config import POST_UPLOAD_LIMIT, GiB, MiB
from lib.errors import UploadIncomplete
from lib.names import decode_metadata
from lib.upload import multipart
from lib.upload.grants import Refusal
from lib.upload.multipart import (
    MAX_PARTS,
    MIN_PART_BYTES,
    MultipartGrant,
    part_bytes,
    part_count,
    part_size_for,
)
from lib.upload.resume import OpenUpload, OpenUploadStore
from tests.unit.helpers import BUCKET, UPLOADER, declared, sha256_b64

pytestmark = pytest.mark.unit

SIZE = 11 * MiB  # 5 MiB parts (threshold 5 MiB): 5 + 5 + 1
BODY = bytes(range(256)) * (SIZE // 256)


@pytest.fixture
def large(make_gateway):
    return make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)


@pytest.fixture
def store() -> OpenUploadStore:
    return OpenUploadStore(None)


def big(name="clip.mp4", size=SIZE, type="video/mp4", **more):
    return declared(name=name, size=size, type=type, sha256=None, **more)


def start(gateway, store, file=None, uploader=UPLOADER, **kwargs) -> MultipartGrant:
    answer = multipart.start_or_resume(gateway, store, uploader, file or big(), **kwargs)
    assert isinstance(answer, MultipartGrant), answer
    return answer


def upload(s3, grant: MultipartGrant, numbers=None, body=BODY) -> dict[int, str]:
    """Send parts with boto3 (the browser's PUTs, minus the presigning moto's in-process mock skips)."""
    etags = {}
    for n in numbers or range(1, grant.part_count + 1):
        data = body[(n - 1) * grant.part_size : n * grant.part_size]
        etags[n] = s3.upload_part(Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id, PartNumber=n, Body=data)[
            "ETag"
        ]
    return etags


def open_ids(s3) -> list[str]:
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]


@pytest.fixture(autouse=True)
def no_open_uploads_left(s3):
    yield
    for upload_ in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload_["Key"], UploadId=upload_["UploadId"])


# --- the plan ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, threshold, expected",
    [
        (100 * MiB, 64 * MiB, 16 * MiB),  # the default: 16 MiB parts
        (20 * MiB, 8 * MiB, 8 * MiB),  # a lower threshold: parts no larger, so a file just above goes in several
        (6 * MiB, 5 * MiB, 5 * MiB),  # never below S3's 5 MiB minimum
        (512 * MiB, 64 * MiB, 16 * MiB),  # up to 32 parts of 16 MiB: the default
        (512 * MiB + 1, 64 * MiB, 17 * MiB),  # beyond, parts grow by whole MiB to stay at 32
        (1 * GiB, 64 * MiB, 32 * MiB),  # 1 GiB: 32 parts of 32 MiB, not 64 of 16 (each part costs CPU)
        (1 * GiB, 5 * MiB, 32 * MiB),  # a low threshold shrinks parts of files just above it, not of large ones
        (2 * GiB, 64 * MiB, 64 * MiB),
        (5 * GiB, 64 * MiB, 64 * MiB),  # past 2 GiB parts stay at 64 MiB (80 parts here)
        (625 * GiB, 64 * MiB, 64 * MiB),  # 10,000 parts of 64 MiB still cover it
        (626 * GiB, 64 * MiB, 65 * MiB),  # beyond, parts grow by whole MiB to stay within 10,000
        (5 * 1024 * GiB, 64 * MiB, 525 * MiB),  # 5 TiB, S3's largest object
    ],
)
def test_part_size_grows_for_large_files_and_to_stay_within_ten_thousand_parts(size, threshold, expected):
    assert part_size_for(size, threshold) == expected
    assert part_count(size, expected) <= MAX_PARTS


@pytest.mark.parametrize("size", [5 * MiB + 1, SIZE, 64 * MiB, 1000 * MiB + 12345])
def test_parts_cover_the_file_exactly_and_only_the_last_is_short(size):
    part_size = part_size_for(size, 5 * MiB)
    sizes = [part_bytes(n, size, part_size) for n in range(1, part_count(size, part_size) + 1)]
    assert sum(sizes) == size
    assert all(s == part_size for s in sizes[:-1]) and 0 < sizes[-1] <= part_size
    assert all(s >= MIN_PART_BYTES for s in sizes[:-1])


# --- starting: the same pins as a single upload -------------------------------------------------------


def test_start_creates_one_upload_pinned_like_a_post_grant_and_records_it(large, store, s3):
    grant = start(large, store, big(name="../Holiday clip.mp4"), last_modified=1234)

    assert grant.key.startswith("uploads/") and grant.key.endswith("/Holiday_clip.mp4")
    assert (grant.part_size, grant.part_count, grant.checksums, grant.in_bucket) == (5 * MiB, 3, True, ())
    assert open_ids(s3) == [grant.upload_id]
    [record] = store.records()
    assert (record.user, record.key, record.size, record.name, record.content_type, record.part_size, record.last_modified) == (
        UPLOADER, grant.key, SIZE, ".._Holiday clip.mp4", "video/mp4", 5 * MiB, 1234,
    )  # fmt: skip
    multipart.complete(large, store, grant, upload(s3, grant))
    head = s3.head_object(Bucket=BUCKET, Key=grant.key)
    assert head["ContentType"] == "video/mp4"
    assert decode_metadata(head["Metadata"]["uploaded-by"]) == UPLOADER
    assert decode_metadata(head["Metadata"]["filename"]) == ".._Holiday clip.mp4"
    assert head["ContentDisposition"].startswith('attachment; filename="')


def test_a_file_above_the_profiles_limit_is_refused_before_anything_starts(large, store, s3):
    answer = multipart.start_or_resume(large, store, UPLOADER, big(size=64 * MiB + 1))
    assert isinstance(answer, Refusal) and answer.code == "too_large" and "64.0 MB" in answer.reason
    assert open_ids(s3) == [] and store.records() == []


def test_parts_lift_the_single_upload_limit_up_to_what_the_profile_allows(make_gateway, store):
    gateway = make_gateway(max_upload_bytes=100 * GiB)
    grant = start(gateway, store, big(size=POST_UPLOAD_LIMIT + 1))
    assert grant.part_count <= MAX_PARTS and grant.size == POST_UPLOAD_LIMIT + 1
    multipart.abort(gateway, store, grant)


def test_type_rules_apply_to_large_files_too(large, store):
    answer = multipart.start_or_resume(large, store, UPLOADER, big(name="setup.exe", type="application/x-msdownload"))
    assert isinstance(answer, Refusal)


@pytest.mark.parametrize(
    "mode, no_checksum, expected",
    [("required", None, True), ("optional", None, True), ("optional", "insecure-context", False), ("off", None, False)],
)
def test_checksum_setting_decides_whether_parts_carry_checksums(make_gateway, store, mode, no_checksum, expected):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB, checksums=mode)
    grant = start(gateway, store, big(no_checksum=no_checksum))
    assert grant.checksums is expected
    multipart.abort(gateway, store, grant)


def test_a_browser_without_webcrypto_is_refused_with_a_sentence_when_checksums_are_required(large, store, s3):
    answer = multipart.start_or_resume(large, store, UPLOADER, big(no_checksum="insecure-context"))
    assert isinstance(answer, Refusal) and answer.code == "no_checksum"
    assert "https://" in answer.reason and "requires a checksum" in answer.reason
    assert open_ids(s3) == []


# --- part URLs ----------------------------------------------------------------------------------------


def test_a_part_url_signs_its_checksum_header_and_expires_with_the_profiles_expiry(make_gateway, store):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB, policy_expiry_seconds=120)
    grant = start(gateway, store)
    digest = sha256_b64(b"part one")

    url = multipart.sign_part(gateway, grant, 1, digest, seq=3)

    query = parse_qs(urlsplit(url.url).query)
    assert query["partNumber"] == ["1"] and query["uploadId"] == [grant.upload_id]
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["120"]
    assert (url.sha256, url.seq) == (digest, 3)
    assert url.for_browser() == {"seq": 3, "url": url.url, "expiresAt": int(url.expires_at * 1000), "sha256": digest}
    multipart.abort(gateway, store, grant)


def test_without_checksums_a_part_url_signs_no_checksum(make_gateway, store):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB, checksums="off")
    grant = start(gateway, store)
    url = multipart.sign_part(gateway, grant, 2, sha256_b64(b"recorded, not signed"), seq=1)
    assert (
        url.sha256 is None
        and "x-amz-checksum-sha256" not in parse_qs(urlsplit(url.url).query)["X-Amz-SignedHeaders"][0]
    )
    multipart.abort(gateway, store, grant)


# --- resuming ----------------------------------------------------------------------------------------


def test_resume_continues_the_same_upload_with_the_parts_already_there(large, store, s3):
    first = start(large, store)
    upload(s3, first, [1, 3])
    store.remember_parts(first.upload_id, {1: "one=", 2: "two=", 3: "three="})  # signed earlier

    again = start(large, store, resume_id=first.upload_id)

    assert (again.upload_id, again.key, again.part_size) == (first.upload_id, first.key, first.part_size)
    # moto's ListParts has no checksums: the ones the server signed stand in.
    assert [(p.number, p.size, p.sha256) for p in again.in_bucket] == [(1, 5 * MiB, "one="), (3, 1 * MiB, "three=")]
    assert again.for_browser()["parts"]["3"] == {"size": 1 * MiB, "etag": again.in_bucket[1].etag, "sha256": "three="}
    assert open_ids(s3) == [first.upload_id]


@pytest.mark.parametrize(
    "change",
    [
        {"uploader": "mallory@example.com"},
        {"file": big(name="other.mp4")},
        {"file": big(size=SIZE + 1)},
        {"file": big(name="clip.mkv", type="video/x-matroska")},
    ],
)
def test_resume_is_refused_for_another_person_or_another_file(large, store, s3, change):
    first = start(large, store)
    other = start(large, store, resume_id=first.upload_id, **change)
    assert other.upload_id != first.upload_id and other.key != first.key and other.in_bucket == ()


def test_a_part_of_the_wrong_size_is_not_offered_for_resume(large, store, s3):
    first = start(large, store)
    s3.upload_part(Bucket=BUCKET, Key=first.key, UploadId=first.upload_id, PartNumber=2, Body=b"short")
    assert start(large, store, resume_id=first.upload_id).in_bucket == ()


def test_resuming_an_upload_that_is_gone_starts_afresh_and_forgets_it(large, store, s3):
    first = start(large, store)
    s3.abort_multipart_upload(Bucket=BUCKET, Key=first.key, UploadId=first.upload_id)  # e.g. a lifecycle rule
    fresh = start(large, store, resume_id=first.upload_id)
    assert fresh.upload_id != first.upload_id
    assert [r.upload_id for r in store.records()] == [fresh.upload_id]


def test_an_unknown_upload_id_starts_afresh(large, store, s3):
    assert start(large, store, resume_id="not-an-upload-of-ours").upload_id in open_ids(s3)


# --- completing and aborting -----------------------------------------------------------------------


def test_complete_checks_every_etag_the_browser_read_against_the_bucket(large, store, s3):
    grant = start(large, store)
    etags = upload(s3, grant)

    with pytest.raises(UploadIncomplete) as differs:
        multipart.complete(large, store, grant, {**etags, 2: '"ffffffffffffffffffffffffffffffff"'})

    assert "part 2 is not what the browser sent" in differs.value.message and differs.value.resumable
    assert open_ids(s3) == [grant.upload_id] and store.records()  # left for a resume
    multipart.complete(large, store, grant, {n: etag.strip('"') for n, etag in etags.items()})  # quotes or not
    assert s3.get_object(Bucket=BUCKET, Key=grant.key)["Body"].read() == BODY
    assert open_ids(s3) == [] and store.records() == []


@pytest.mark.parametrize("reported", [{}, {1: "first"}], ids=["none", "some"])
def test_complete_takes_the_etags_the_browser_did_not_read_from_list_parts(large, store, s3, reported):
    grant = start(large, store)
    etags = upload(s3, grant)

    multipart.complete(large, store, grant, {n: etags[n] for n in reported})

    assert s3.get_object(Bucket=BUCKET, Key=grant.key)["Body"].read() == BODY
    assert open_ids(s3) == [] and store.records() == []


def test_a_part_missing_from_the_bucket_leaves_the_upload_open_for_a_resume(large, store, s3):
    grant = start(large, store)
    etags = upload(s3, grant, [1, 2])
    with pytest.raises(UploadIncomplete) as absent:
        multipart.complete(large, store, grant, {**etags, 3: '"abc"'})
    assert "does not have part 3 of 3" in absent.value.message and absent.value.resumable
    assert open_ids(s3) == [grant.upload_id]


def test_parts_that_cannot_make_the_declared_size_abort_the_upload(large, store, s3):
    grant = start(large, store)
    etags = upload(s3, grant, [1, 2])
    etags[3] = s3.upload_part(
        Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id, PartNumber=3, Body=b"x" * (MiB + 1)
    )["ETag"]
    with pytest.raises(UploadIncomplete) as broken:
        multipart.complete(large, store, grant, etags)
    assert not broken.value.resumable and "aborted" in broken.value.message
    assert f"{SIZE + 1} bytes" in broken.value.message
    assert open_ids(s3) == [] and store.records() == []


def test_completing_again_after_it_succeeded_is_fine(large, store, s3):
    grant = start(large, store)
    etags = upload(s3, grant)
    multipart.complete(large, store, grant, etags)
    multipart.complete(large, store, grant, etags)  # a repeated report: NoSuchUpload, but the object is there
    assert s3.head_object(Bucket=BUCKET, Key=grant.key)["ContentLength"] == SIZE


def test_completing_an_upload_that_vanished_says_so(large, store, s3):
    grant = start(large, store)
    etags = upload(s3, grant)
    s3.abort_multipart_upload(Bucket=BUCKET, Key=grant.key, UploadId=grant.upload_id)
    with pytest.raises(UploadIncomplete) as gone:
        multipart.complete(large, store, grant, etags)
    assert "no longer exists" in gone.value.message and not gone.value.resumable


def test_abort_removes_the_parts_and_the_record_and_tolerates_repeats(large, store, s3):
    grant = start(large, store)
    upload(s3, grant, [1])
    multipart.abort(large, store, grant)
    multipart.abort(large, store, grant)
    assert open_ids(s3) == [] and store.records() == []


def test_unfinished_uploads_are_listed_with_who_started_them_and_stale_records_forgotten(large, store, s3):
    ours = start(large, store)
    foreign = s3.create_multipart_upload(Bucket=BUCKET, Key="elsewhere/by-hand.bin")["UploadId"]
    store.put(
        OpenUpload(
            upload_id="gone",
            bucket=BUCKET,
            key="k",
            user=UPLOADER,
            name="x",
            size=1,
            content_type="t",
            part_size=MIN_PART_BYTES,
            checksums=True,
        )
    )

    listed = {u.upload_id: u for u in multipart.unfinished_uploads(large, store)}

    assert set(listed) == {ours.upload_id, foreign}
    assert (listed[ours.upload_id].user, listed[ours.upload_id].name, listed[ours.upload_id].size) == (
        UPLOADER,
        "clip.mp4",
        SIZE,
    )
    assert (listed[foreign].key, listed[foreign].user) == ("elsewhere/by-hand.bin", None)
    assert [r.upload_id for r in store.records()] == [ours.upload_id]  # the bucket no longer has "gone"


def test_composite_checksums_name_their_part_count():
    assert multipart.composite_parts("abc=-13") == 13
    assert multipart.composite_parts("abc=") is None and multipart.composite_parts(None) is None


# --- the record of open uploads ------------------------------------------------------------------------


def record(upload_id="u-1", **more) -> OpenUpload:
    values = {
        "bucket": BUCKET,
        "key": "uploads/k",
        "user": UPLOADER,
        "name": "a.mp4",
        "size": SIZE,
        "content_type": "video/mp4",
    }
    return OpenUpload(**{"upload_id": upload_id, **values, "part_size": 5 * MiB, "checksums": True, **more})


def test_open_uploads_survive_a_new_store_on_the_same_directory(tmp_path):
    OpenUploadStore(tmp_path).put(record())
    OpenUploadStore(tmp_path).remember_parts("u-1", {2: "two="})
    reopened = OpenUploadStore(tmp_path).get("u-1")
    assert reopened == record(created=reopened.created, part_sha256={2: "two="})
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.glob("*.json")).name]  # no temp files left


def test_open_uploads_are_listed_oldest_first_and_removed_by_id(tmp_path):
    store = OpenUploadStore(tmp_path)
    store.put(record("u-2", created=2.0))
    store.put(record("u-1", created=1.0))
    assert [r.upload_id for r in store.records()] == ["u-1", "u-2"]
    store.remove("u-1")
    store.remove("u-1")
    assert [r.upload_id for r in store.records()] == ["u-2"] and store.get("u-1") is None


def test_a_damaged_record_is_skipped_not_fatal(tmp_path):
    store = OpenUploadStore(tmp_path)
    store.put(record())
    next(tmp_path.glob("*.json")).write_text("{torn")
    (tmp_path / "other.json").write_text(json.dumps(["not", "a", "record"]))
    assert store.get("u-1") is None and store.records() == []


def test_upload_ids_never_become_paths(tmp_path):
    store = OpenUploadStore(tmp_path / "state")
    store.put(record("../../escape"))
    assert [p.parent for p in (tmp_path / "state").iterdir()] == [tmp_path / "state"]
    assert store.get("../../escape").upload_id == "../../escape"


def test_part_urls_sign_the_planned_content_length_of_each_part(make_gateway, store):
    gateway = make_gateway(max_upload_bytes=64 * MiB, multipart_threshold_bytes=5 * MiB)
    grant = start(gateway, store)
    signed_lengths = []
    gateway.signer.meta.events.register(
        "before-sign.s3.UploadPart", lambda request, **_: signed_lengths.append(request.headers["Content-Length"])
    )
    urls = [multipart.sign_part(gateway, grant, n, sha256_b64(b"x"), seq=1) for n in (1, grant.part_count)]
    for url in urls:
        assert "content-length" in parse_qs(urlsplit(url.url).query)["X-Amz-SignedHeaders"][0].split(";")
    last = grant.size - (grant.part_count - 1) * grant.part_size
    assert signed_lengths == [str(grant.part_size), str(last)]
    beyond = multipart.sign_part(gateway, grant, grant.part_count + 1, sha256_b64(b"x"), seq=1)
    assert beyond.url is None and "not one of the" in beyond.refused
    multipart.abort(gateway, store, grant)
