"""The real app in Chromium: PUT grants, dropped folders, and many small files.

PUT mode runs on the embedded sandbox (moto checks no signatures) and on LocalStack, which checks every
signed header (the enforce tier proves what it refuses). LocalStack 4.9.2 counts a header as signed when
its name occurs inside a signed one, so the Origin every browser sends would break a PUT whose signed
names contained "origin" (lib.metadata says why the file name is `x-amz-meta-filename`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import expect

from lib.names import content_disposition
from tests.browser.conftest import UPLOAD_LIMIT, Deployment, _deploy, deploy_on_localstack
from tests.browser.test_upload_browser import HOSTILE, bucket_client, write_png, write_text
from tests.support.checksums import sha256_b64

pytestmark = pytest.mark.browser
TIMEOUT_MS = 180_000
FILES_INPUT = ".bd-uploader input[type=file]:not([webkitdirectory])"
FOLDER_INPUT = ".bd-uploader input[type=file][webkitdirectory]"


@pytest.fixture(scope="module")
def put_app() -> Iterator[Deployment]:
    yield from _deploy(
        "sandbox-put", {"BUCKETDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "BUCKETDESK_UPLOAD_METHOD": "put"}
    )


@pytest.fixture(scope="module")
def localstack_put_app(localstack) -> Iterator[Deployment]:
    yield from deploy_on_localstack(localstack, {"BUCKETDESK_UPLOAD_METHOD": "put"})


@pytest.fixture(params=["sandbox", "localstack"])
def put_deployment(request) -> Deployment:
    return request.getfixturevalue("put_app" if request.param == "sandbox" else "localstack_put_app")


def stored_under(deployment: Deployment, page) -> tuple[object, str, dict[str, dict]]:
    link = page.locator("[data-testid=stCode] code").first.inner_text().strip()
    s3, bucket = bucket_client(deployment, link)
    keys = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])}
    return s3, bucket, keys


def test_put_mode_sends_each_file_with_one_put_of_signed_headers_only_and_it_is_verified(
    put_deployment: Deployment, page, tmp_path
):
    files = [
        write_png(tmp_path / "photo.png", (64, 48), 1),
        write_text(tmp_path / "notes.txt", 5_000, 2),
        write_png(tmp_path / "Été 2026 — plage.png", (8, 8), 3),
    ]
    sent = []  # every request carrying a signature, as Chromium sent it
    page.on("request", lambda r: sent.append(r) if "X-Amz-Signature" in r.url else None)
    page.goto(f"{put_deployment.url}/upload")
    page.locator(FILES_INPUT).wait_for(state="attached", timeout=60_000)
    page.locator(FILES_INPUT).set_input_files([str(p) for p in files])

    for path in files:
        row = page.locator(".bd-row", has=page.locator(".bd-name", has_text=path.name))
        expect(row.locator(".bd-status")).to_have_text("Verified", timeout=TIMEOUT_MS)
    puts = [r for r in sent if r.method == "PUT"]
    assert [r.method for r in sent if r.method in {"PUT", "POST"}] == ["PUT"] * len(files)

    # Nothing unsigned: every header the page chose is signed; what Chromium adds by itself (Origin,
    # Referer, Sec-Fetch-*, …) is neither an x-amz-* header nor part of a signed header's name.
    for request in puts:
        signed = parse_qs(urlsplit(request.url).query)["X-Amz-SignedHeaders"][0]
        headers = request.all_headers()
        chosen = {name for name in headers if name.startswith(("x-amz-", "content-"))}
        assert chosen <= set(signed.split(";")), (chosen, signed)
        assert {"x-amz-meta-uploaded-by", "x-amz-meta-filename", "x-amz-checksum-sha256"} <= chosen
        browser_added = set(headers) - set(signed.split(";"))
        assert "origin" in browser_added, "a browser's PUT carries its Origin"
        assert [name for name in browser_added if name in signed] == [], browser_added
    checksums_sent = sorted(request.all_headers()["x-amz-checksum-sha256"] for request in puts)
    assert checksums_sent == sorted(sha256_b64(path.read_bytes()) for path in files)

    s3, bucket, keys = stored_under(put_deployment, page)
    user = os.environ.get("USER") or __import__("getpass").getuser()
    for path in files:
        (key,) = [k for k in keys if unquote(s3.head_object(Bucket=bucket, Key=k)["Metadata"]["filename"]) == path.name]
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        body = path.read_bytes()
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        assert head["ContentType"] == ("text/plain" if path.suffix == ".txt" else "image/png")
        assert head["ContentDisposition"] == content_disposition(path.name)
        assert unquote(head["Metadata"]["uploaded-by"]) == f"local:{user}"
        if put_deployment.s3 is not None:  # LocalStack checks and keeps it; moto keeps none from a presigned PUT
            assert head["ChecksumSHA256"] == sha256_b64(body)
    assert len(keys) == len(files)


def test_a_chosen_folder_keeps_its_structure_under_one_prefix(sandbox_app: Deployment, page, tmp_path):
    top = tmp_path / "shoot"
    (top / "raw").mkdir(parents=True)
    (top / "empty").mkdir()
    write_png(top / "raw" / "img-001.png", (8, 8), 1)
    write_png(top / "raw" / "img-002.png", (8, 8), 2)
    write_png(top / HOSTILE, (8, 8), 3)
    write_text(top / "notes.txt", 2_000, 4)
    (top / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (top / "raw" / "Thumbs.db").write_bytes(b"\0" * 64)

    page.goto(f"{sandbox_app.url}/upload")
    page.locator(FOLDER_INPUT).wait_for(state="attached", timeout=60_000)
    page.locator(FOLDER_INPUT).set_input_files(str(top))

    folder_row = page.locator(".bd-folder")
    expect(folder_row.locator(".bd-status")).to_have_text("Verified", timeout=TIMEOUT_MS)
    expect(folder_row).to_contain_text("4 files")
    expect(page.locator(".bd-notice").first).to_contain_text("Skipped 2 system files")
    assert page.locator(".bd-row:not(.bd-folder)").count() == 0, "one line for the folder, no row per file"
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stCode] code').length >= 4", timeout=TIMEOUT_MS
    )

    _, _, keys = stored_under(sandbox_app, page)
    prefixes = {re.sub(r"/shoot/.*$", "", key) for key in keys}
    assert len(prefixes) == 1 and re.fullmatch(r"uploads/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}", prefixes.pop())
    assert sorted(key.split("/shoot/", 1)[1] for key in keys) == [
        "img_src_x_onerror_alert(1).png",
        "notes.txt",
        "raw/img-001.png",
        "raw/img-002.png",
    ]
    assert page.locator("img[src='x']").count() == 0


def test_300_small_files_all_arrive_and_the_app_server_gets_a_tiny_fraction_of_their_bytes(
    sandbox_app: Deployment, page, tmp_path
):
    paths = [write_text(tmp_path / f"small-{n:03d}.txt", 20_000, n) for n in range(300)]
    page.goto(f"{sandbox_app.url}/upload")
    page.locator(FILES_INPUT).wait_for(state="attached", timeout=60_000)
    sandbox_app.proxy.reset()
    page.locator(FILES_INPUT).set_input_files([str(p) for p in paths])

    expect(page.locator(".bd-total")).to_contain_text("300 done", timeout=TIMEOUT_MS * 2)
    verified = page.locator(".bd-row .bd-status", has_text="Verified")
    expect(verified).to_have_count(300, timeout=TIMEOUT_MS)
    uploaded = sum(p.stat().st_size for p in paths)
    ratio = sandbox_app.proxy.bytes_to_server / uploaded
    print(f"\n[300 files] app server received {sandbox_app.proxy.bytes_to_server} bytes for {uploaded}: {ratio:.4f}")
    assert ratio < 0.05
