"""The upload page on the embedded sandbox, driven through Streamlit's real event path."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from lib.sandbox import start_sandbox
from tests.app.conftest import AUTH, recorded
from tests.support.checksums import sha256_b64
from tests.support.components import component_data, trigger
from tests.support.markdown import as_read

pytestmark = pytest.mark.app
UPLOADER = "bucketdesk.uploader"


def png_bytes(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def declared(file_id: str, name: str, data: bytes, content_type: str, sign_seq: int = 0) -> dict:
    """A file as uploader.js declares it: with its SHA-256 (the sandbox requires checksums)."""
    sha256 = sha256_b64(data)
    return {
        "id": file_id,
        "name": name,
        "size": len(data),
        "type": content_type,
        "lastModified": 0,
        "signSeq": sign_seq,
        "sha256": sha256,
    }


def post_as_browser(grant: dict, name: str, data: bytes, content_type: str) -> requests.Response:
    """What uploader.js does: every grant field in order, the file last."""
    return requests.post(grant["url"], data=grant["fields"], files={"file": (name, data, content_type)}, timeout=30)


def markdown_of(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_upload_page_renders_on_sandbox_with_banner_and_component(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Upload"
    assert "does **not** enforce upload policies" in app.warning[0].value
    data = component_data(app, UPLOADER)
    assert data["maxBytes"] == 100 * 1024 * 1024
    assert data["grants"] == {} and data["verified"] == {}
    assert "image/*" in data["accept"].split(",")


def test_sign_event_yields_grants_and_refusals(app):
    app.run()
    good, big, exe = "a" * 16, "b" * 16, "c" * 16
    image = png_bytes()
    trigger(
        app,
        UPLOADER,
        "sign",
        {
            "files": [
                declared(good, "../../etc/cat photo.png", image, "image/png"),
                {"id": big, "name": "huge.mp4", "size": 200 * 1024 * 1024, "type": "video/mp4", "signSeq": 0},
                declared(exe, "invoice.exe", b"MZ", "image/png"),
            ]
        },
    )
    assert not app.exception
    grants = component_data(app, UPLOADER)["grants"]
    assert grants[good]["kind"] == "post"
    assert grants[good]["key"].startswith("uploads/") and grants[good]["key"].endswith("/etc_cat_photo.png")
    assert grants[good]["fields"]["x-amz-meta-uploaded-by"].startswith("local:")
    assert grants[good]["signSeq"] == 1
    assert "limit" in grants[big]["refused"] and "200.0 MB" in grants[big]["refused"]
    assert "extension .exe" in grants[exe]["refused"]


def test_repeated_sign_event_is_idempotent_and_retry_re_signs(app):
    app.run()
    image = png_bytes()
    trigger(app, UPLOADER, "sign", {"files": [declared("d" * 16, "a.png", image, "image/png")]})
    first = component_data(app, UPLOADER)["grants"]["d" * 16]
    trigger(app, UPLOADER, "sign", {"files": [declared("d" * 16, "a.png", image, "image/png")]})
    assert component_data(app, UPLOADER)["grants"]["d" * 16] == first
    trigger(app, UPLOADER, "sign", {"files": [declared("d" * 16, "a.png", image, "image/png", sign_seq=1)]})
    again = component_data(app, UPLOADER)["grants"]["d" * 16]
    assert again["signSeq"] == 2 and again["key"] != first["key"]


def test_result_event_yields_verified_results_with_link_and_preview(app):
    app.run()
    image = png_bytes((40, 30))
    file_id = "e" * 16
    trigger(app, UPLOADER, "sign", {"files": [declared(file_id, "<b>logo</b>.png", image, "image/png")]})
    grant = component_data(app, UPLOADER)["grants"][file_id]
    assert post_as_browser(grant, "<b>logo</b>.png", image, "image/png").status_code == 201

    trigger(
        app,
        UPLOADER,
        "done",
        {"results": [{"id": file_id, "signSeq": 1, "ok": True, "status": 201, "bytes": len(image), "ms": 40}]},
    )
    assert not app.exception
    verified = component_data(app, UPLOADER)["verified"][file_id]
    assert verified == {
        "ok": True,
        "message": "Verified: 67 bytes image/png, 40×30 px.".replace("67", str(len(image))),
        "signSeq": 1,
    }
    assert file_id not in component_data(app, UPLOADER)["grants"]  # spent grant no longer sent
    page = markdown_of(app)
    assert r"**\<b\>logo\<\_b\>\.png**" in page  # escaped Markdown, never HTML; "/" never kept
    link = app.code[0].value
    assert requests.get(link, timeout=30).content == image
    previews = app.get("image")
    assert len(previews) == 1 and previews[0].value == [link]  # the browser loads it from the bucket
    sha256 = sha256_b64(image)
    # moto keeps the checksum but never checks it: the page must not claim the bucket did.
    assert any(
        c.value == f"SHA-256 sent with the upload (the sandbox does not check it) (base64): `{sha256}`"
        for c in app.caption
    )


def test_result_event_for_a_file_that_lies_about_its_type_is_quarantined(app):
    app.run()
    fake = b"<html><script>alert(1)</script></html>"
    file_id = "f" * 16
    trigger(app, UPLOADER, "sign", {"files": [declared(file_id, "cat.png", fake, "image/png")]})
    grant = component_data(app, UPLOADER)["grants"][file_id]
    assert post_as_browser(grant, "cat.png", fake, "image/png").status_code == 201  # the sandbox does not enforce
    trigger(app, UPLOADER, "done", {"results": [{"id": file_id, "signSeq": 1, "ok": True, "status": 201}]})
    verified = component_data(app, UPLOADER)["verified"][file_id]
    assert verified["ok"] is False
    assert "text/html, not image/png" in verified["message"] and "quarantine/" in verified["message"]
    client = start_sandbox()
    from lib.s3 import S3Gateway

    gateway = S3Gateway(client.profile)
    assert gateway.head(grant["key"]) is None
    assert gateway.head("quarantine/" + grant["key"]) is not None


def test_failed_upload_reports_the_buckets_reason(app):
    app.run()
    file_id = "9" * 16
    trigger(app, UPLOADER, "sign", {"files": [declared(file_id, "a.png", png_bytes(), "image/png")]})
    trigger(
        app,
        UPLOADER,
        "done",
        {
            "results": [
                {
                    "id": file_id,
                    "signSeq": 1,
                    "ok": False,
                    "status": 400,
                    "code": "EntityTooLarge",
                    "message": "The bucket refused the file: its size is not the size that was signed.",
                }
            ]
        },
    )
    verified = component_data(app, UPLOADER)["verified"][file_id]
    assert verified["ok"] is False and "size is not the size that was signed" in verified["message"]


def test_report_for_a_file_never_granted_is_ignored(app):
    app.run()
    trigger(app, UPLOADER, "done", {"results": [{"id": "1" * 16, "signSeq": 1, "ok": True, "status": 201}]})
    assert not app.exception
    assert component_data(app, UPLOADER)["verified"] == {}


def test_upload_is_recorded_in_the_audit_log(app, tmp_path):
    app.run()
    image = png_bytes()
    file_id = "2" * 16
    trigger(app, UPLOADER, "sign", {"files": [declared(file_id, "a.png", image, "image/png")]})
    grant = component_data(app, UPLOADER)["grants"][file_id]
    post_as_browser(grant, "a.png", image, "image/png")
    trigger(app, UPLOADER, "done", {"results": [{"id": file_id, "signSeq": 1, "ok": True, "status": 201}]})
    events = recorded(tmp_path)
    assert [(e["action"], e["outcome"], e["key"]) for e in events] == [
        ("sign", "ok", grant["key"]),
        ("upload", "ok", grant["key"]),
    ]


def test_bad_configuration_names_every_bad_setting(app, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_BUCKET", "assets")
    monkeypatch.setenv("BUCKETDESK_MAX_UPLOAD_BYTES", "ten")
    monkeypatch.setenv("BUCKETDESK_ALLOWED_TYPES", "images")
    monkeypatch.setenv("BUCKETDESK_UPLOAD_PREFIX", "uploads/{safe_name}")
    app.run()
    assert not app.exception
    message = as_read(app.error[0].value)
    for setting in ("BUCKETDESK_MAX_UPLOAD_BYTES", "BUCKETDESK_ALLOWED_TYPES", "BUCKETDESK_UPLOAD_PREFIX"):
        assert setting in message
    assert not app.title  # no page runs on a broken configuration


def test_unreachable_bucket_is_explained_without_traceback(app, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_BUCKET", "assets")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    app.run(timeout=120)
    assert not app.exception
    assert "could not be reached" in app.error[0].value


def test_signed_in_user_is_pinned_into_grants(app, monkeypatch):
    monkeypatch.setenv("BUCKETDESK_ACCESS", '[{"who": ["alice@example.com"], "roles": ["uploader"]}]')
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, "email": "alice@example.com", "name": "Alice"}
    app.run()
    assert any("Alice" in c.value for c in app.sidebar.caption)
    image = png_bytes()
    trigger(app, UPLOADER, "sign", {"files": [declared("3" * 16, "a.png", image, "image/png")]})
    grant = component_data(app, UPLOADER)["grants"]["3" * 16]
    assert grant["fields"]["x-amz-meta-uploaded-by"] == "alice@example.com"


def test_signed_out_user_sees_sign_in_and_no_uploader(app):
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": False}
    app.run()
    assert app.button[0].label == "Sign in"
    with pytest.raises(AssertionError):
        component_data(app, UPLOADER)


def test_several_buckets_get_a_picker_and_the_choice_drives_the_page(app, app_test, tmp_path):
    """Two profiles (both on the sandbox's endpoint) in secrets.toml: the sidebar offers both."""
    sandbox = start_sandbox()
    client = __import__("lib.s3", fromlist=["make_client"]).make_client(sandbox.profile, sandbox.endpoint_url)
    client.create_bucket(Bucket="second-bucket")
    key = sandbox.profile
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        "\n".join(
            f'[bucketdesk.profiles.{name}]\nbucket = "{bucket}"\nlabel = "{label}"\nendpoint_url = "{sandbox.endpoint_url}"\n'
            f'access_key_id = "{key.access_key_id}"\nsecret_access_key = "{key.secret_access_key}"\naddressing_style = "path"\n'
            for name, bucket, label in [
                ("demo", "bucketdesk-demo", "Demo assets"),
                ("second", "second-bucket", "Second"),
            ]
        )
    )
    app.run()
    assert not app.exception
    picker = app.sidebar.selectbox[0]
    assert picker.label == "Bucket" and picker.options == ["Demo assets", "Second"]
    assert "bucketdesk-demo" in as_read(app.caption[0].value)
    assert not app.warning  # a configured bucket is not the sandbox: no banner

    # AppTest starts every run in Streamlit's legacy pages/ mode (a real server only its first), which
    # runs the page without streamlit_app.py; so the choice is made before the session's first run.
    chosen = app_test("pages/upload.py")
    chosen.session_state["profile"] = "second"
    chosen.run()
    assert chosen.sidebar.selectbox[0].value == "second"
    assert "second-bucket" in as_read(chosen.caption[0].value)


def test_a_large_batch_on_its_way_shows_its_count_and_the_cards_once_it_is_through(app):
    # Each rerun redraws the results; with a batch on its way, cards the next rerun replaces would cost the
    # browser more than anything else it does per file, so the page counts until the batch is through.
    app.run()
    files = {f"{n:016x}": (f"note-{n:02d}.txt", f"note {n}\n".encode()) for n in range(12)}
    trigger(
        app, UPLOADER, "sign", {"files": [declared(i, name, data, "text/plain") for i, (name, data) in files.items()]}
    )
    grants = component_data(app, UPLOADER)["grants"]

    def report(ids: list[str]) -> None:
        for file_id in ids:
            name, data = files[file_id]
            assert post_as_browser(grants[file_id], name, data, "text/plain").status_code == 201
        results = [
            {"id": file_id, "signSeq": 1, "ok": True, "status": 201, "bytes": len(files[file_id][1]), "ms": 5}
            for file_id in ids
        ]
        trigger(app, UPLOADER, "done", {"results": results})
        assert not app.exception

    ids = list(files)
    report(ids[:1])
    assert component_data(app, UPLOADER)["verified"][ids[0]]["ok"] is True  # the component has its verdict
    assert len(app.code) == 0 and len(app.dataframe) == 0  # no cards, no table yet
    assert any("1 of 1 files verified" in c.value and "still on their way" in c.value for c in app.caption)

    report(ids[1:])
    assert len(app.code) == 10  # the latest ten: a card each with its signed link
    assert len(app.dataframe) == 1  # and the rest in a table
    assert not any("on their way" in c.value for c in app.caption)
