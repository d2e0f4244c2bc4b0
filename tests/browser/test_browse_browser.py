"""Browse in Chromium against LocalStack: thumbnails load from the bucket, a signed link downloads the
stored bytes under the original name, and an expired link is refused by the bucket itself."""

from __future__ import annotations

import io
import random
import time
from urllib.parse import unquote

import pytest
from PIL import Image

from lib.browse.thumbnails import THUMB_PREFIX
from lib.config import BucketProfile
from lib.names import encode_metadata
from lib.s3 import S3Gateway
from tests.browser.conftest import Deployment
from tests.support.localstack import REGION

pytestmark = pytest.mark.browser
FOLDER = "browse/gallery/"
ORIGINAL_NAME = "Notes été 2026.txt"
LOAD_TIMEOUT_MS = 90_000


def jpeg_shot_sideways() -> bytes:
    """1200×800 as stored, EXIF Orientation 6: people see it 800×1200 (portrait)."""
    image = Image.new("RGB", (1200, 800), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 600, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def png(size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 160, 90)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(localstack_app: Deployment) -> dict:
    s3, bucket = localstack_app.s3, localstack_app.bucket
    notes = ("café, naïve, 東京\n" * 200).encode("utf-8") + bytes(random.Random(7).randrange(256) for _ in range(512))
    objects = {
        "a-photo.jpg": (jpeg_shot_sideways(), "image/jpeg", {}),
        "b-chart.png": (png((600, 400)), "image/png", {}),
        "c-broken.png": (b"\x89PNG\r\n\x1a\n this is not really a png", "image/png", {}),
        "d-notes.txt": (
            notes,
            "text/plain",
            # As bucketdesk stored the file name before lib.metadata renamed it: still read.
            {"original-name": encode_metadata(ORIGINAL_NAME), "uploaded-by": "alice@example.com"},
        ),
    }
    for name, (body, content_type, metadata) in objects.items():
        s3.put_object(Bucket=bucket, Key=FOLDER + name, Body=body, ContentType=content_type, Metadata=metadata)
    return {name: body for name, (body, _, _) in objects.items()}


def open_folder(page, deployment: Deployment) -> None:
    page.goto(f"{deployment.url}/browse?prefix={FOLDER}")
    page.get_by_text("Page 1").wait_for(timeout=LOAD_TIMEOUT_MS)


def loaded_images(page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=stImage] img",
        "els => els.map(e => ({src: e.src, width: e.naturalWidth, height: e.naturalHeight, done: e.complete}))",
    )


def test_thumbnails_load_from_the_bucket(localstack_app: Deployment, seeded, page, localstack):
    thumb_responses = []
    page.on("response", lambda r: thumb_responses.append(r) if THUMB_PREFIX in unquote(r.url) else None)
    open_folder(page, localstack_app)  # mostly images: it opens as a gallery
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImage] img')].filter(i => i.complete && i.naturalWidth > 0).length >= 4",
        timeout=LOAD_TIMEOUT_MS,
    )
    images = loaded_images(page)
    thumbs = [image for image in images if THUMB_PREFIX in unquote(image["src"])]
    assert len(thumbs) == 2, images  # the photo and the chart; the broken PNG gets the placeholder
    assert all(image["src"].startswith(localstack.endpoint_url) for image in thumbs)  # bucket -> browser
    assert sorted((image["width"], image["height"]) for image in thumbs) == [(171, 256), (256, 171)]  # EXIF turned
    assert any(image["src"].startswith("data:image/png") and image["width"] == 128 for image in images)  # placeholder
    assert thumb_responses and all(
        r.status == 200 and r.headers["content-type"] == "image/webp" for r in thumb_responses
    )
    stored = localstack_app.s3.list_objects_v2(Bucket=localstack_app.bucket, Prefix=THUMB_PREFIX).get("Contents", [])
    assert len(stored) == 2 and all(item["Size"] < 20_000 for item in stored)


def test_a_signed_link_downloads_exactly_the_stored_bytes(localstack_app: Deployment, seeded, page):
    open_folder(page, localstack_app)
    page.get_by_role("button", name="d-notes.txt").click()
    page.get_by_role("heading", name=ORIGINAL_NAME).wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text(f"As “{ORIGINAL_NAME}”").click()
    page.get_by_role("button", name="Create link").click()
    link_block = page.locator("[data-testid=stCode] code", has_text="X-Amz-Signature")
    link_block.wait_for(timeout=LOAD_TIMEOUT_MS)
    link = link_block.inner_text().strip()
    assert "X-Amz-Expires=86400" in link  # the default: one day

    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as started:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; document.body.append(a); a.click(); }", link
        )
    download = started.value
    assert download.suggested_filename == ORIGINAL_NAME  # ResponseContentDisposition, honoured by the bucket
    with open(download.path(), "rb") as handle:
        assert handle.read() == seeded["d-notes.txt"]


def test_an_expired_link_is_refused_by_the_bucket(localstack_app: Deployment, seeded, page, localstack):
    open_folder(page, localstack_app)  # fetch from the app's own origin, as a shared link would be used
    gateway = S3Gateway(
        BucketProfile(
            name="ls",
            bucket=localstack_app.bucket,
            endpoint_url=localstack.endpoint_url,
            region=REGION,
            addressing_style="path",
            access_key_id="test",
            secret_access_key="test",
        )
    )
    link = gateway.presign_get(FOLDER + "b-chart.png", expires_in=2)  # the app's signing path, a short expiry
    fetch = "async url => { const r = await fetch(url); return {status: r.status, body: await r.text()}; }"
    assert page.evaluate(fetch, link)["status"] == 200
    time.sleep(3.5)
    refused = page.evaluate(fetch, link)
    assert refused["status"] == 403
    assert "expired" in refused["body"].lower()


HOSTILE_FOLDER = "browse/hostile/"
HOSTILE_HTML = b"<html><head><title>pwned</title></head><body><script>document.title='ran'</script>x</body></html>"
# Stored straight into the bucket by another tool: bucketdesk never granted these types.
HOSTILE_TYPES = {"page": "text/html", "clip": "video/mp4,text/html"}


def gateway_for(deployment: Deployment, localstack) -> S3Gateway:
    return S3Gateway(
        BucketProfile(
            name="ls",
            bucket=deployment.bucket,
            endpoint_url=localstack.endpoint_url,
            region=REGION,
            addressing_style="path",
            access_key_id="test",
            secret_access_key="test",
        )
    )


def downloads_instead_of_rendering(page, link: str) -> bytes:
    """Follow `link` as a person clicking it would; it must arrive as a download, never as a page."""
    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as started:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; document.body.append(a); a.click(); }", link
        )
    with open(started.value.path(), "rb") as handle:
        body = handle.read()
    assert page.title() not in {"pwned", "ran"}
    return body


@pytest.fixture(scope="module")
def hostile(localstack_app: Deployment) -> None:
    """Both objects before the folder is first listed (the page caches a listing for a few seconds)."""
    s3, bucket = localstack_app.s3, localstack_app.bucket
    for name, content_type in HOSTILE_TYPES.items():
        s3.put_object(Bucket=bucket, Key=HOSTILE_FOLDER + name, Body=HOSTILE_HTML, ContentType=content_type)
        assert s3.head_object(Bucket=bucket, Key=HOSTILE_FOLDER + name)["ContentType"] == content_type


@pytest.mark.parametrize("name", list(HOSTILE_TYPES))
def test_share_and_table_links_to_html_stored_by_another_tool_download(
    localstack_app: Deployment, hostile, page, localstack, name
):
    from lib.browse.listing import guess_type
    from lib.browse.sharing import RowLinks

    key = HOSTILE_FOLDER + name

    page.goto(f"{localstack_app.url}/browse?prefix={HOSTILE_FOLDER}")
    page.get_by_text("Page 1").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Gallery").click()
    page.get_by_role("button", name=name, exact=True).click()
    page.get_by_role("button", name="Create link").click()  # "In the browser" is the default
    link_block = page.locator("[data-testid=stCode] code", has_text="X-Amz-Signature")
    link_block.wait_for(timeout=LOAD_TIMEOUT_MS)
    share = link_block.inner_text().strip()
    assert "response-content-disposition=attachment" in share
    page.get_by_text("always downloads").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert downloads_instead_of_rendering(page, share) == HOSTILE_HTML

    # The table's link for the row, signed the way the page signs it (from the name's type).
    row_link = RowLinks(gateway_for(localstack_app, localstack)).get(key, guess_type(key))
    assert downloads_instead_of_rendering(page, row_link) == HOSTILE_HTML
