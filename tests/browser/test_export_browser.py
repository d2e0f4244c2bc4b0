"""Export in Chromium against LocalStack: a small export downloads from the app exactly as the
command line writes it; a large one lands in the bucket under exports/<user>/ and its signed link
downloads the same bytes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from tests.browser.conftest import Deployment, deploy_on_localstack
from tests.support.app_server import REPO_ROOT
from tests.support.localstack import REGION

pytestmark = pytest.mark.browser
LOAD_TIMEOUT_MS = 90_000
# Small enough that the "large" folder's CSV is over it, large enough for the "small" folder's.
THRESHOLD = 2000


@pytest.fixture(scope="module")
def export_app(localstack) -> Iterator[Deployment]:
    yield from deploy_on_localstack(localstack, {"BUCKETDESK_EXPORT_DOWNLOAD_MAX_BYTES": str(THRESHOLD)})


@pytest.fixture(scope="module")
def seeded(export_app: Deployment) -> Deployment:
    s3, bucket = export_app.s3, export_app.bucket
    for key in ["small/a.txt", "small/=SUM(1,2).csv", 'small/naïve, "quoted".txt']:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * len(key))
    for n in range(40):
        s3.put_object(Bucket=bucket, Key=f"large/file-{n:03d}.bin", Body=b"y" * n)
    return export_app


def command_line_csv(deployment: Deployment, endpoint_url: str, prefix: str, tmp_path) -> bytes:
    """What `python -m lib.export` writes for the same bucket and filter (the page's defaults)."""
    out = tmp_path / f"{prefix.strip('/')}.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETDESK_", "AWS_"))}
    env.update(
        BUCKETDESK_BUCKET=deployment.bucket,
        BUCKETDESK_ENDPOINT_URL=endpoint_url,
        BUCKETDESK_ADDRESSING_STYLE="path",
        BUCKETDESK_REGION=REGION,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    argv = ["--format", "csv", "--spreadsheet-safe", "--prefix", prefix, "--output", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "lib.export", *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def export_from_the_page(page, deployment: Deployment, prefix: str) -> None:
    page.goto(f"{deployment.url}/export")
    prefixes = page.get_by_label("Prefixes (one per line; empty: the whole bucket)")
    prefixes.wait_for(timeout=LOAD_TIMEOUT_MS)
    prefixes.fill(prefix)
    prefixes.blur()
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("rows, in the export's columns").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_role("button", name="Export").click()
    page.get_by_text("Exported ").wait_for(timeout=LOAD_TIMEOUT_MS)


def test_a_small_export_downloads_the_bytes_the_command_line_writes(seeded: Deployment, localstack, page, tmp_path):
    export_from_the_page(page, seeded, "small/")
    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as started:
        page.locator("[data-testid=stDownloadButton] button").click()
    download = started.value
    assert download.suggested_filename.startswith(f"{seeded.bucket}-objects-")
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), "rb") as handle:
        got = handle.read()
    assert len(got) < THRESHOLD
    assert got == command_line_csv(seeded, localstack.endpoint_url, "small/", tmp_path)
    keys = [line[1] for line in list(csv.reader(io.StringIO(got.decode("utf-8"), newline="")))[1:]]
    assert keys == ["small/=SUM(1,2).csv", "small/a.txt", 'small/naïve, "quoted".txt']
    listed = seeded.s3.list_objects_v2(Bucket=seeded.bucket, Prefix="exports/")
    assert "Contents" not in listed  # a download is never stored in the bucket


def test_a_large_export_is_stored_in_the_bucket_and_its_signed_link_downloads_it(
    seeded: Deployment, localstack, page, tmp_path
):
    export_from_the_page(page, seeded, "large/")
    page.get_by_text("too large to download from here").wait_for(timeout=LOAD_TIMEOUT_MS)
    url = page.get_by_role("link", name="Download from the bucket").get_attribute("href")
    assert url and "X-Amz-Signature=" in url
    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200, fetched.text[:300]
    expected = command_line_csv(seeded, localstack.endpoint_url, "large/", tmp_path)
    assert len(expected) >= THRESHOLD
    assert fetched.content == expected
    [stored] = seeded.s3.list_objects_v2(Bucket=seeded.bucket, Prefix="exports/")["Contents"]
    assert stored["Key"].startswith("exports/") and stored["Key"].endswith(".csv")
    assert seeded.s3.get_object(Bucket=seeded.bucket, Key=stored["Key"])["Body"].read() == expected
