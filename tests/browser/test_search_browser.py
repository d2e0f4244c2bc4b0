"""Browse's "Search everywhere" in Chromium against LocalStack: the index is built from the page with
a progress bar, a deeply nested object is found by part of its name, and its details open."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser.conftest import Deployment, deploy_on_localstack

pytestmark = pytest.mark.browser
LOAD_TIMEOUT_MS = 90_000
DEEP = "projects/2025/spring/campaign/final/print/Quarterly-Report-Final.pdf"
# Enough folders that a walk with two requests in flight takes a few seconds: long enough to see its progress.
FILLER = [f"archive/{i % 40:02d}/{i // 40 % 10}/file-{i:04d}.txt" for i in range(2_400)]


@pytest.fixture(scope="module")
def search_app(localstack) -> Iterator[Deployment]:
    yield from deploy_on_localstack(localstack, {"BUCKETDESK_LISTING_CONCURRENCY": "2"})


@pytest.fixture(scope="module")
def seeded(search_app: Deployment) -> None:
    s3, bucket = search_app.s3, search_app.bucket

    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", ContentType="text/plain")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, FILLER))
    s3.put_object(Bucket=bucket, Key=DEEP, Body=b"%PDF-1.4 quarterly", ContentType="application/pdf")


def test_build_the_index_then_find_a_deeply_nested_object_and_open_it(search_app: Deployment, seeded, page):
    page.goto(f"{search_app.url}/browse")
    page.get_by_text("Page 1").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Search everywhere", exact=True).first.click()
    page.get_by_text("There is no index of this bucket yet").wait_for(timeout=LOAD_TIMEOUT_MS)

    page.get_by_role("button", name="Build the index").click()
    progress = page.locator("[data-testid=stProgress]")
    progress.wait_for(timeout=LOAD_TIMEOUT_MS)
    assert "Building the index" in progress.inner_text()
    page.get_by_text(f"Index of {len(FILLER) + 1:,} objects").wait_for(timeout=LOAD_TIMEOUT_MS)
    assert progress.count() == 0  # the bar goes when the build is done
    assert page.get_by_role("button", name="Update index").is_visible()

    page.get_by_placeholder("Any part of a name, in every folder…").fill("report-fin")
    page.get_by_text("1 matches").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Gallery").click()
    page.get_by_role("button", name=DEEP, exact=True).click()
    page.get_by_role("heading", name="Quarterly-Report-Final.pdf").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator("[data-testid=stCode]", has_text=DEEP).first.wait_for(timeout=LOAD_TIMEOUT_MS)  # its whole key
