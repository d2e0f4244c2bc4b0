"""The audit page in Chromium against LocalStack: a versioned bucket with folders, an overwritten
object, a deleted one and an unfinished multipart upload. The page builds a snapshot and shows the
right totals and hidden storage, lists the unfinished upload and aborts it (nothing is left), and
the configuration review reports the CORS rule that does not expose ETag."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from lib.events import EventFilter, EventStore
from tests.browser.conftest import Deployment, _deploy
from tests.support.localstack import app_env, localstack_client

pytestmark = pytest.mark.browser
TIMEOUT_MS = 90_000
UNFINISHED_KEY = "uploads/half done.bin"
PART = b"p" * 4096


@pytest.fixture(scope="module")
def audited(localstack) -> Iterator[Deployment]:
    """current: photos/2026/a.jpg (1500), photos/b.png (2000), docs/report.pdf (3000), readme.txt (10)
    = 4 objects, 6510 bytes; hidden: a.jpg's first version (1000) and docs/old.txt (50) under a
    delete marker = 2 noncurrent versions, 1050 bytes, 1 delete marker; 6 stored versions."""
    s3 = localstack_client(localstack.endpoint_url)
    bucket = f"bd-audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key, size in (("photos/2026/a.jpg", 1000), ("photos/2026/a.jpg", 1500), ("photos/b.png", 2000)):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
    for key, size in (("docs/report.pdf", 3000), ("docs/old.txt", 50), ("readme.txt", 10)):
        s3.put_object(Bucket=bucket, Key=key, Body=b"y" * size)
    s3.delete_object(Bucket=bucket, Key="docs/old.txt")
    started = s3.create_multipart_upload(Bucket=bucket, Key=UNFINISHED_KEY)
    s3.upload_part(Bucket=bucket, Key=UNFINISHED_KEY, UploadId=started["UploadId"], PartNumber=1, Body=PART)

    def cors_without_etag(origin: str) -> None:
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [origin],
                        "AllowedMethods": ["GET", "POST", "PUT"],
                        "AllowedHeaders": ["*"],
                    }
                ]
            },
        )

    env = app_env(localstack.endpoint_url, bucket)
    yield from _deploy("localstack", env, bucket, s3, before_start=cors_without_etag)


def metric(page: Page, label: str):
    return page.locator("[data-testid=stMetric]").filter(has_text=label).locator("[data-testid=stMetricValue]")


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_the_page_shows_totals_hidden_storage_and_aborts_the_unfinished_upload(audited: Deployment, page: Page):
    page.goto(f"{audited.url}/audit")
    page.get_by_role("button", name="Build a snapshot now").click(timeout=TIMEOUT_MS)

    expect(metric(page, "Objects")).to_have_text("4", timeout=TIMEOUT_MS)
    expect(metric(page, "Bytes (current)")).to_have_text("6.4 KB")  # 6510 bytes
    expect(metric(page, "Stored versions")).to_have_text("6")
    expect(page.get_by_text("From snapshot").first).to_be_visible()

    open_tab(page, "Hidden storage")
    expect(metric(page, "Noncurrent versions")).to_have_text("2", timeout=TIMEOUT_MS)
    expect(metric(page, "Their bytes")).to_have_text("1.0 KB")  # 1050 bytes
    expect(metric(page, "Delete markers")).to_have_text("1")
    expect(page.get_by_text("1 unfinished uploads hold 4.0 KB in parts")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Upload to abort")).to_have_value(re.compile(re.escape(UNFINISHED_KEY)))

    page.get_by_role("button", name="Abort…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(UNFINISHED_KEY)).to_be_visible()
    dialog.get_by_role("button", name="Abort the upload").click()
    expect(page.get_by_text(f"Aborted the upload of {UNFINISHED_KEY}: 1 parts")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("No unfinished uploads")).to_be_visible()

    assert audited.s3.list_multipart_uploads(Bucket=audited.bucket).get("Uploads", []) == []

    aborted = EventStore(audited.app.log_path.parent / ".bucketdesk" / "bucketdesk.db").page(
        EventFilter(action="abort-unfinished")
    )
    assert [(e.key, e.outcome) for e in aborted.events] == [(UNFINISHED_KEY, "ok")]


def test_the_cors_check_reports_the_rule_that_does_not_expose_etag(audited: Deployment, page: Page):
    page.goto(f"{audited.url}/audit")
    open_tab(page, "Configuration review")
    title = page.get_by_text("CORS for this app · fail")
    expect(title).to_be_visible(timeout=TIMEOUT_MS)
    card = page.locator("[data-testid=stVerticalBlock]").filter(has=title).last  # the innermost: its card
    expect(card).to_contain_text("ETag")
    expect(card.locator("code").filter(has_text="put-bucket-cors")).to_contain_text('"ExposeHeaders":["ETag"]')
