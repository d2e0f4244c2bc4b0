"""lib.audit.hidden: unfinished multipart uploads (listed with their parts, who started them,
aborted leaving nothing) and duplicates (same SHA-256, or same ETag among single-part uploads)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lib.audit.hidden import abort_upload, duplicates_by_checksum, duplicates_by_etag, unfinished_uploads
from tests.unit.helpers import BUCKET
from tests.unit.snapshots import row, snapshot

pytestmark = pytest.mark.unit


@dataclass
class Record:
    """The fields of lib.upload.resume.OpenUpload the audit reads."""

    upload_id: str
    user: str
    name: str
    size: int
    created: float = 0.0


@pytest.fixture
def uploads(s3):
    """Start multipart uploads with some parts stored; abort whatever is left at the end."""

    def start(key: str, *part_sizes: int) -> str:
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        for number, size in enumerate(part_sizes, start=1):
            s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=b"x" * size)
        return upload_id

    yield start
    for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def test_unfinished_uploads_show_parts_bytes_and_who_started_them_in_bucketdesk(gateway, uploads):
    ours = uploads("uploads/big.mov", 300, 200)
    theirs = uploads("elsewhere/dump.bin", 50)
    found, more = unfinished_uploads(gateway, [Record(ours, "alice@example.com", "big.mov", 10_000)])
    assert more is False
    by_id = {upload.upload_id: upload for upload in found}
    mine = by_id[ours]
    assert (mine.key, mine.parts, mine.bytes_stored) == ("uploads/big.mov", 2, 500)
    assert (mine.started_by, mine.file_name, mine.declared_size) == ("alice@example.com", "big.mov", 10_000)
    assert mine.started is not None
    other = by_id[theirs]
    assert (other.parts, other.bytes_stored, other.started_by, other.file_name) == (1, 50, None, None)


def test_unfinished_uploads_are_bounded_and_filtered_by_prefix(gateway, uploads):
    for index in range(3):
        uploads(f"uploads/{index}.bin", 10)
    uploads("other/x.bin", 10)
    found, more = unfinished_uploads(gateway, prefix="uploads/", limit=2)
    assert len(found) == 2 and more is True
    assert all(upload.key.startswith("uploads/") for upload in found)


def test_aborting_an_unfinished_upload_deletes_its_parts_and_leaves_nothing(s3, gateway, uploads):
    upload_id = uploads("uploads/big.mov", 300, 200)
    aborted = abort_upload(gateway, "uploads/big.mov", upload_id)
    assert (aborted.parts, aborted.bytes_freed, aborted.already_gone) == (2, 500, False)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert unfinished_uploads(gateway)[0] == []


def test_aborting_an_upload_already_gone_says_so_instead_of_failing(gateway, uploads):
    upload_id = uploads("uploads/big.mov", 10)
    abort_upload(gateway, "uploads/big.mov", upload_id)
    again = abort_upload(gateway, "uploads/big.mov", upload_id)
    assert again.already_gone is True and again.bytes_freed == 0


# --- Duplicates ---------------------------------------------------------------------------------

SINGLE = "9e107d9d372bb6826bd81d3542a419d6"


def test_same_etag_among_single_part_uploads_is_a_duplicate_with_the_bytes_it_wastes(tmp_path):
    con = snapshot(
        tmp_path / "s",
        [
            row("a/cat.png", 1000, e_tag=SINGLE),
            row("b/cat-copy.png", 1000, e_tag=SINGLE),
            row("c/cat-again.png", 1000, e_tag=SINGLE),
            row("unique.png", 1000, e_tag="0" * 32),
            row("old/cat.png", 1000, e_tag=SINGLE, is_latest=False, version_id="v1"),  # a version, not a copy
        ],
    )
    found = duplicates_by_etag(con)
    assert (found.total_groups, found.total_wasted_bytes) == (1, 2000)
    group = found.groups.iloc[0]
    assert (group["digest"], group["copies"], group["size"], group["wasted_bytes"]) == (SINGLE, 3, 1000, 2000)
    assert list(group["keys"]) == ["a/cat.png", "b/cat-copy.png", "c/cat-again.png"]


def test_same_multipart_etag_is_not_a_duplicate(tmp_path):
    multipart = "d41d8cd98f00b204e9800998ecf8427e-3"
    con = snapshot(
        tmp_path / "m",
        [
            row("a.mov", 9000, e_tag=multipart, is_multipart_uploaded=True),
            row("b.mov", 9000, e_tag=multipart, is_multipart_uploaded=True),
            # A listing that does not say how it was uploaded: the "-<parts>" suffix still tells.
            row("c.mov", 9000, e_tag=multipart, is_multipart_uploaded=None),
            row("d.mov", 9000, e_tag=multipart, is_multipart_uploaded=None),
        ],
    )
    found = duplicates_by_etag(con)
    assert (found.total_groups, found.total_wasted_bytes, len(found.groups)) == (0, 0, 0)


def test_same_sha256_from_upload_records_is_a_duplicate_even_across_multipart_uploads(tmp_path):
    con = snapshot(
        tmp_path / "c",
        [
            row("a.mov", 9000, e_tag="aaa-3", is_multipart_uploaded=True),
            row("b.mov", 9000, e_tag="bbb-2", is_multipart_uploaded=True),
            row("c.txt", 10),
            row("d.txt", 10),
        ],
    )
    records = [("a.mov", "SHA-MOVIE"), ("b.mov", "SHA-MOVIE"), ("c.txt", "SHA-C"), ("d.txt", "SHA-D")]
    records.append(("deleted.mov", "SHA-MOVIE"))  # no longer in the bucket: not counted
    found = duplicates_by_checksum(con, iter(records))
    assert (found.total_groups, found.total_wasted_bytes) == (1, 9000)
    assert list(found.groups["keys"][0]) == ["a.mov", "b.mov"]


def test_duplicate_groups_are_bounded_by_top_but_totals_count_every_group(tmp_path):
    rows = [row(f"{group}/{copy}", 100 * (group + 1), e_tag=f"{group:032x}") for group in range(5) for copy in range(2)]
    found = duplicates_by_etag(snapshot(tmp_path / "t", rows), top=2)
    assert len(found.groups) == 2 and found.total_groups == 5
    assert list(found.groups["wasted_bytes"]) == [500, 400]
    assert found.total_wasted_bytes == 100 + 200 + 300 + 400 + 500


def test_open_upload_records_on_disk_name_who_started_an_upload(tmp_path, gateway, uploads):
    # The real records (lib.upload.resume, as kept in multipart_state_dir), not a stand-in.
    from lib.upload.resume import OpenUpload, OpenUploadStore

    upload_id = uploads("uploads/film.mp4", 64)
    store = OpenUploadStore(tmp_path / "multipart")
    store.put(
        OpenUpload(upload_id, BUCKET, "uploads/film.mp4", "bob@example.com", "film.mp4", 999, "video/mp4", 64, True)
    )
    (found,), _ = unfinished_uploads(gateway, store.records())
    assert (found.started_by, found.file_name, found.declared_size, found.bytes_stored) == (
        "bob@example.com",
        "film.mp4",
        999,
        64,
    )
