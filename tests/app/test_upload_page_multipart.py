"""The upload page with large files on the embedded sandbox: sign, parts and done events, as the
browser sends them, drive a real multipart upload into the sandbox's moto server."""

from __future__ import annotations

import pytest
import requests

from lib.s3 import S3Gateway
from lib.sandbox import start_sandbox
from tests.app.conftest import recorded
from tests.support.checksums import sha256_b64
from tests.support.components import component_data, trigger

pytestmark = pytest.mark.app
UPLOADER = "bucketdesk.uploader"
MiB = 1024 * 1024
FILE_ID = "a1" * 8
BODY = bytes(range(256)) * (11 * MiB // 256)  # 11 MiB: parts of 5, 5 and 1 MiB


def part(n: int) -> bytes:
    return BODY[(n - 1) * 5 * MiB : n * 5 * MiB]


@pytest.fixture
def app(app_test, monkeypatch):
    """The upload page on the sandbox, with files above 5 MiB going up in parts."""
    monkeypatch.setenv("BUCKETDESK_MULTIPART_THRESHOLD_BYTES", str(5 * MiB))
    return app_test("pages/upload.py")


def sign_large(app, **fields) -> dict:
    file = {
        "id": FILE_ID,
        "name": "clip.mp4",
        "size": len(BODY),
        "type": "video/mp4",
        "lastModified": 1,
        "signSeq": 0,
        **fields,
    }
    trigger(app, UPLOADER, "sign", {"files": [file]})
    assert not app.exception
    return component_data(app, UPLOADER)["grants"][FILE_ID]


def put_parts(app, numbers=(1, 2, 3)) -> list[dict]:
    """Ask for the parts' URLs and PUT them as uploader.js does; the reported parts for `done`."""
    wanted = [{"n": n, "sha256": sha256_b64(part(n)), "held": 0} for n in numbers]
    trigger(app, UPLOADER, "parts", {"requests": [{"id": FILE_ID, "signSeq": 1, "parts": wanted}]})
    urls = component_data(app, UPLOADER)["partUrls"][FILE_ID]
    reported = []
    for n in numbers:
        answer = urls[str(n)]
        response = requests.put(
            answer["url"], data=part(n), headers={"x-amz-checksum-sha256": answer["sha256"]}, timeout=30
        )
        assert response.status_code == 200, response.text
        reported.append({"n": n, "etag": response.headers["ETag"], "sha256": answer["sha256"]})
    return reported


def open_uploads() -> list[dict]:
    sandbox = start_sandbox()
    return S3Gateway(sandbox.profile).list_multipart_uploads()


def test_page_tells_the_component_how_large_files_go(app):
    app.run()
    data = component_data(app, UPLOADER)
    assert data["checksums"] == "required"
    assert data["multipart"] == {"threshold": 5 * MiB, "concurrency": 8, "scope": "sandbox:bucketdesk-demo"}
    assert data["partUrls"] == {}


def test_a_large_file_goes_from_sign_through_parts_to_verified(app, tmp_path):
    app.run()
    grant = sign_large(app)
    assert (grant["kind"], grant["partSize"], grant["partCount"], grant["checksums"]) == ("multipart", 5 * MiB, 3, True)
    reported = put_parts(app)

    trigger(
        app,
        UPLOADER,
        "done",
        {"results": [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 200, "parts": reported}]},
    )

    assert not app.exception
    data = component_data(app, UPLOADER)
    assert data["verified"][FILE_ID] == {"ok": True, "message": "Verified: 11.0 MB video/mp4.", "signSeq": 1}
    assert FILE_ID not in data["grants"] and data["partUrls"] == {}
    assert requests.get(app.code[0].value, timeout=30).content == BODY
    assert [u for u in open_uploads() if u["Key"] == grant["key"]] == []
    [event] = recorded(tmp_path, action="upload")
    assert (event["outcome"], event["key"], event["details"]["parts"]) == ("ok", grant["key"], 3)
    assert event["details"]["upload_id"] == grant["uploadId"]


def test_cancel_aborts_the_upload_and_says_so(app):
    app.run()
    grant = sign_large(app)
    put_parts(app, [1])
    assert [u["UploadId"] for u in open_uploads() if u["Key"] == grant["key"]] == [grant["uploadId"]]

    trigger(
        app,
        UPLOADER,
        "done",
        {
            "results": [
                {"id": FILE_ID, "signSeq": 1, "ok": False, "code": "Cancelled", "message": "You cancelled this upload."}
            ]
        },
    )

    verified = component_data(app, UPLOADER)["verified"][FILE_ID]
    assert verified["ok"] is False and "its parts were removed from the bucket" in verified["message"]
    assert [u for u in open_uploads() if u["Key"] == grant["key"]] == []


def test_a_cors_rule_hiding_etag_is_explained_at_the_top_of_the_page(app):
    app.run()
    sign_large(app)
    message = "The bucket stored part 1, but its CORS rule does not let this page read the part's ETag."
    trigger(
        app,
        UPLOADER,
        "done",
        {
            "results": [
                {"id": FILE_ID, "signSeq": 1, "ok": False, "status": 200, "code": "ETagNotExposed", "message": message}
            ]
        },
    )
    assert not app.exception
    assert "does not expose the ETag header" in app.error[0].value
    assert any("ExposeHeaders" in caption.value for caption in app.caption)
    verified = component_data(app, UPLOADER)["verified"][FILE_ID]
    assert verified["ok"] is False and "choose the same file again to resume" in verified["message"]


def test_a_page_without_webcrypto_is_refused_with_a_sentence(app):
    app.run()
    refusal = sign_large(app, noChecksum="insecure-context")
    assert refusal["code"] == "no_checksum" and "https://" in refusal["refused"]


def test_after_a_restart_an_upload_completed_before_its_verdict_is_verified_not_started_over(app, app_test, tmp_path):
    """The app completed the upload and went down before its verdict. The browser, its grant gone from
    the new page, asks again naming its upload (before re-sending its report): no new upload starts,
    the grant stands, and the re-sent report is verified."""
    app.run()
    grant = sign_large(app)
    reported = put_parts(app)
    gateway = S3Gateway(start_sandbox().profile)
    parts = [{"PartNumber": p["n"], "ETag": p["etag"], "ChecksumSHA256": p["sha256"]} for p in reported]
    gateway.complete_multipart(grant["key"], grant["uploadId"], parts)  # ...and the app went down
    uploads_before = {u["UploadId"] for u in open_uploads()}

    restarted = app_test("pages/upload.py")  # a new session; the records on disk survived
    restarted.run()
    file = {"id": FILE_ID, "name": "clip.mp4", "size": len(BODY), "type": "video/mp4", "lastModified": 1}
    trigger(restarted, UPLOADER, "sign", {"files": [{**file, "signSeq": 1, "uploadId": grant["uploadId"]}]})
    assert not restarted.exception
    assert component_data(restarted, UPLOADER)["grants"][FILE_ID] == {"signSeq": 1}, "the grant it holds stands"
    assert {u["UploadId"] for u in open_uploads()} == uploads_before - {grant["uploadId"]}

    results = [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 200, "parts": reported}]
    trigger(restarted, UPLOADER, "done", {"results": results})

    data = component_data(restarted, UPLOADER)
    assert data["verified"][FILE_ID] == {"ok": True, "message": "Verified: 11.0 MB video/mp4.", "signSeq": 1}
    assert requests.get(restarted.code[0].value, timeout=30).content == BODY
    assert [(e["outcome"], e["key"]) for e in recorded(tmp_path, action="upload")] == [("ok", grant["key"])]
    assert {e["key"] for e in recorded(tmp_path, action="sign")} == {grant["key"]}, "no other key was signed"
