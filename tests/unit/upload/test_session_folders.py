"""Folders and many files through lib.upload.session: one {uuid} per dropped folder, paths kept, verified in parallel."""

from __future__ import annotations

import threading

import pytest

import lib.upload.session
from lib.components.uploader import parse_done, parse_sign
from lib.upload.grants import Grant
from lib.upload.session import UploadSession
from tests.unit.helpers import BUCKET, UPLOADER, png_bytes, sha256_b64

pytestmark = pytest.mark.unit

BODY = png_bytes(3, 3)
BATCH = "b" * 24


def file_id(n: int) -> str:
    return f"{n:016x}"


def folder_file(n: int, folder: str, name: str, batch: str | None = BATCH) -> dict:
    entry = {"id": file_id(n), "name": name, "size": len(BODY), "type": "image/png", "signSeq": 0}
    entry["sha256"] = sha256_b64(BODY)
    if batch:
        entry |= {"batch": batch, "folder": folder}
    return entry


def keys(session: UploadSession) -> dict[str, str]:
    return {fid: g.key for fid, g in session.grants.items() if isinstance(g, Grant)}


def test_a_dropped_folder_keeps_its_structure_under_one_unique_prefix(gateway):
    session = UploadSession(bucket=BUCKET)
    files = [
        folder_file(1, "shoot/raw", "img-001.png"),
        folder_file(2, "shoot/raw", "img-002.png"),
        folder_file(3, "shoot", "cover.png"),
        folder_file(4, "shoot/../../etc/<b>", "..evil.png"),
    ]
    session.sign(gateway, UPLOADER, parse_sign({"files": files}))

    got = keys(session)
    prefixes = {key.split("/shoot/")[0] for key in got.values()}
    assert len(prefixes) == 1, "one {uuid} for the whole folder"
    prefix = prefixes.pop()
    assert got[file_id(1)] == f"{prefix}/shoot/raw/img-001.png"
    assert got[file_id(2)] == f"{prefix}/shoot/raw/img-002.png"
    assert got[file_id(3)] == f"{prefix}/shoot/cover.png"
    assert got[file_id(4)] == f"{prefix}/shoot/etc/b/evil.png", "no traversal; each segment sanitised"


def test_two_folders_dropped_apart_get_different_prefixes_and_single_files_their_own(gateway):
    session = UploadSession(bucket=BUCKET)
    files = [
        folder_file(1, "a", "x.png"),
        folder_file(2, "a", "x.png", batch="c" * 24),
        folder_file(3, "", "y.png", None),
    ]
    session.sign(gateway, UPLOADER, parse_sign({"files": files}))
    got = keys(session)
    assert got[file_id(1)].rsplit("/", 2)[0] != got[file_id(2)].rsplit("/", 2)[0]
    assert len(set(got.values())) == 3


def test_names_that_sanitise_alike_in_one_folder_never_overwrite_each_other(gateway):
    session = UploadSession(bucket=BUCKET)
    files = [folder_file(1, "f", "a b.png"), folder_file(2, "f", "a_b.png"), folder_file(3, "f", "a?b.png")]
    session.sign(gateway, UPLOADER, parse_sign({"files": files}))
    got = keys(session)
    assert sorted(k.rsplit("/", 1)[1] for k in got.values()) == ["a_b-2.png", "a_b-3.png", "a_b.png"]


def test_a_folder_file_signed_again_keeps_its_key(gateway):
    session = UploadSession(bucket=BUCKET)
    session.sign(gateway, UPLOADER, parse_sign({"files": [folder_file(1, "f", "a.png")]}))
    first = keys(session)[file_id(1)]
    session.sign(gateway, UPLOADER, parse_sign({"files": [{**folder_file(1, "f", "a.png"), "signSeq": 1}]}))
    assert session.grants[file_id(1)].sign_seq == 2 and keys(session)[file_id(1)] == first


def test_a_template_without_relative_path_stores_folder_files_flat_each_under_its_own_uuid(make_gateway):
    gateway = make_gateway(upload_prefix="in/{uuid}/{safe_name}")
    session = UploadSession(bucket=BUCKET)
    session.sign(gateway, UPLOADER, parse_sign({"files": [folder_file(1, "a", "x.png"), folder_file(2, "b", "x.png")]}))
    got = keys(session)
    assert all(k.startswith("in/") and k.endswith("/x.png") and k.count("/") == 2 for k in got.values())
    assert got[file_id(1)] != got[file_id(2)]


def test_many_reported_uploads_are_verified_in_parallel_each_once(gateway, s3, monkeypatch):
    session = UploadSession(bucket=BUCKET)
    files = [folder_file(n, "many", f"f{n}.png") for n in range(1, 41)]
    session.sign(gateway, UPLOADER, parse_sign({"files": files}))
    for g in session.grants.values():
        s3.put_object(Bucket=BUCKET, Key=g.key, Body=BODY, ContentType="image/png", Metadata={"uploaded-by": UPLOADER})
    threads: set[str] = set()
    real = lib.upload.session.verify_upload

    def watched(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(lib.upload.session, "verify_upload", watched)
    results = [{"id": file_id(n), "signSeq": 1, "ok": True, "status": 200} for n in range(1, 41)]
    done = session.finish(gateway, parse_done({"results": results}))

    assert len(done) == 40 and all(o.ok for o in done), [o.message for o in done if not o.ok][:3]
    assert [o.file_id for o in done] == [file_id(n) for n in range(1, 41)], "outcomes in the order reported"
    assert len(threads) > 1, "checked on several threads"
    assert session.finish(gateway, parse_done({"results": results})) == [], "each judged once"


def test_a_folder_path_counts_only_with_a_well_formed_batch_id():
    parsed = parse_sign(
        {
            "files": [
                folder_file(1, "a/b", "x.png"),
                {**folder_file(2, "a/b", "x.png"), "batch": "../../etc"},
                {**folder_file(3, "a/b", "x.png"), "batch": None},
            ]
        }
    )
    assert [(r.file.batch, r.file.folder) for r in parsed] == [(BATCH, "a/b"), (None, ""), (None, "")]
