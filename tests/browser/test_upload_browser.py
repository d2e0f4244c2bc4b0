"""The real app in Chromium: files go browser -> bucket, and the app server never sees the bytes.

Runs once on the embedded sandbox and once against LocalStack (an S3 that enforces the policy).
"""

from __future__ import annotations

import os
import random
import re
import string
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import pytest
import requests
from PIL import Image

from tests.browser.conftest import UPLOAD_LIMIT, Deployment

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)>.png"
VERIFY_TIMEOUT_MS = 120_000


def write_png(path: Path, size: tuple[int, int], seed: int) -> Path:
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(size[0] * size[1])])
    image.save(path, "PNG")
    return path


def write_text(path: Path, size: int, seed: int) -> Path:
    rng = random.Random(seed)
    line = "".join(rng.choice(string.ascii_letters) for _ in range(1023)) + "\n"
    path.write_text((line * (size // len(line) + 1))[:size])
    return path


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    return {
        "photo.png": write_png(tmp_path / "photo.png", (300, 200), 1),
        "notes.txt": write_text(tmp_path / "notes.txt", 5_000, 2),
        HOSTILE: write_png(tmp_path / HOSTILE, (16, 16), 3),
        "large.txt": write_text(tmp_path / "large.txt", 11 * 1024 * 1024, 4),  # the ≥ 10 MB upload
        "too-big.txt": write_text(tmp_path / "too-big.txt", UPLOAD_LIMIT + 1, 5),
    }


def bucket_client(deployment: Deployment, link: str):
    """The bucket the links point at: LocalStack's, or the sandbox's (its port is only in the links)."""
    if deployment.s3 is not None:
        return deployment.s3, deployment.bucket
    parts = urlsplit(link)
    endpoint = f"{parts.scheme}://{parts.netloc}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, parts.path.split("/")[1]


def test_chosen_files_reach_the_bucket_directly(deployment: Deployment, page, files):
    bucket_requests: list[tuple[str, str]] = []
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda r: (
            bucket_requests.append((r.method, r.url))
            if r.method in {"POST", "PUT"} and "/_stcore/" not in r.url
            else None
        ),
    )

    page.goto(f"{deployment.url}/upload")
    file_input = page.locator(".bd-uploader input[type=file]:not([webkitdirectory])")
    file_input.wait_for(state="attached", timeout=60_000)

    deployment.proxy.reset()
    file_input.set_input_files([str(p) for p in files.values()])

    allowed = {name: path for name, path in files.items() if name != "too-big.txt"}
    verified = page.locator('[data-testid="stMarkdownContainer"]', has_text="Verified:")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=stCode] code').length >= {len(allowed)}",
        timeout=VERIFY_TIMEOUT_MS,
    )
    assert verified.count() == len(allowed)

    # The app server received only events and page traffic: a tiny fraction of the file bytes.
    uploaded = sum(p.stat().st_size for p in allowed.values())
    ratio = deployment.proxy.bytes_to_server / uploaded
    print(
        f"\n[{deployment.name}] app server received {deployment.proxy.bytes_to_server} bytes "
        f"for {uploaded} file bytes: {ratio:.6f} per file byte"
    )
    assert ratio < 0.01

    # The refused file: shown as refused in the component, never sent.
    too_big_row = page.locator(".bd-row", has=page.locator(".bd-name", has_text="too-big.txt"))
    assert too_big_row.locator(".bd-status").inner_text() == "Refused"
    assert "limit" in too_big_row.inner_text()
    bucket_posts = [url for method, url in bucket_requests if urlsplit(url).port != urlsplit(deployment.url).port]
    assert len(bucket_posts) == len(allowed)

    # Every allowed file: progress 100 %, verified in the component too.
    for name in allowed:
        row = page.locator(".bd-row", has=page.locator(".bd-name", has_text=name))
        assert row.locator(".bd-name").inner_text() == name  # the hostile name is text
        assert row.locator(".bd-bar").get_attribute("aria-valuenow") == "100"
        assert row.locator(".bd-status").inner_text() == "Verified"

    # The hostile name never became markup, anywhere.
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []

    # The bucket holds the exact bytes with the right metadata; the signed links download them.
    links = [code.inner_text().strip() for code in page.locator("[data-testid=stCode] code").all()]
    s3, bucket = bucket_client(deployment, links[0])
    stored = {obj["Key"]: obj for obj in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])}
    assert len(stored) == len(allowed)
    by_name = {}
    for key in stored:
        head = s3.head_object(Bucket=bucket, Key=key)
        by_name[unquote(head["Metadata"]["filename"])] = (key, head)
    assert set(by_name) == {name.replace("/", "_") for name in allowed}
    user = os.environ.get("USER") or __import__("getpass").getuser()
    for name, path in allowed.items():
        key, head = by_name[name]
        assert re.fullmatch(r"uploads/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}/[\w.()\-]+", key), key
        assert head["ContentLength"] == path.stat().st_size
        assert head["ContentType"] == ("image/png" if name.endswith(".png") else "text/plain")
        assert unquote(head["Metadata"]["uploaded-by"]) == f"local:{user}"
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes()
    assert by_name[HOSTILE][0].endswith("/img_src_x_onerror_alert(1).png")

    downloads = {requests.get(link, timeout=60).content for link in links}
    assert downloads == {path.read_bytes() for path in allowed.values()}
