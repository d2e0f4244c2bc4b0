"""Large files in the real app in Chromium: parts, checksums the bucket verifies, resume, pause, cancel.

Against LocalStack (which checks each part's signed `x-amz-checksum-sha256`) with the default
64 MiB threshold and 16 MiB parts, a 200 MiB file goes up in 13 parts; and against the embedded
sandbox (moto, which checks no checksums) with a 5 MiB threshold, for pause and a CORS rule that
hides ETag. Part requests are counted from Chromium's own network events.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from playwright.sync_api import Page, expect

from tests.support.app_server import CountingProxy, RunningApp, start_app
from tests.support.browser import throttle_upload
from tests.support.checksums import sha256_b64
from tests.support.localstack import app_env, localstack_client

pytestmark = pytest.mark.browser

MiB = 1024 * 1024
PART = 16 * MiB  # lib.upload.multipart.DEFAULT_PART_BYTES for a file above the default 64 MiB threshold
BIG_MB = 200
BIG_PARTS = -(-BIG_MB * MiB // PART)  # 13
VERIFY_TIMEOUT_MS = 240_000


@dataclass
class App:
    app: RunningApp
    proxy: CountingProxy
    s3: object | None = None
    bucket: str | None = None

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def state_dir(self) -> Path:
        return self.app.log_path.parent / ".bucketdesk" / "multipart"


def deploy(env: dict, before_start=None) -> Iterator[App]:
    proxy = CountingProxy(target_port=0)  # its URL is the origin the bucket's CORS rule admits
    if before_start:
        before_start(proxy.url)
    app = start_app(env)
    proxy.target_port = app.port
    with proxy:
        yield App(app, proxy)
    app.stop()


@pytest.fixture(scope="module")
def big_app(localstack) -> Iterator[App]:
    """The app on a LocalStack bucket that takes files up to 1 GiB (multipart above 64 MiB)."""
    s3 = localstack_client(localstack.endpoint_url)
    bucket = f"bd-multipart-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    def allow(origin: str) -> None:
        rule = {
            "AllowedOrigins": [origin],
            "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-checksum-sha256"],
        }
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})

    env = {**app_env(localstack.endpoint_url, bucket), "BUCKETDESK_MAX_UPLOAD_BYTES": str(1024 * MiB)}
    for deployed in deploy(env, before_start=allow):
        deployed.s3, deployed.bucket = s3, bucket
        yield deployed


@pytest.fixture(scope="module")
def sandbox_parts_app() -> Iterator[App]:
    """The app on its embedded sandbox, with 5 MiB parts from 5 MiB up."""
    yield from deploy(
        {"BUCKETDESK_MULTIPART_THRESHOLD_BYTES": str(5 * MiB), "BUCKETDESK_MAX_UPLOAD_BYTES": str(64 * MiB)}
    )


@pytest.fixture(scope="module")
def sandbox_many_parts_app() -> Iterator[App]:
    """The app on its embedded sandbox, with 5 MiB parts and room for files of many parts."""
    yield from deploy(
        {"BUCKETDESK_MULTIPART_THRESHOLD_BYTES": str(5 * MiB), "BUCKETDESK_MAX_UPLOAD_BYTES": str(256 * MiB)}
    )


def write_test_file(path: Path, mebibytes: int) -> Path:
    """Random bytes (one random MiB, each copy stamped with its index), so every part differs."""
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for index in range(mebibytes):
            stamp = f"bucketdesk multipart test, MiB {index:08d}\n".encode()
            out.write(stamp + block[len(stamp) :])
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    return write_test_file(tmp_path_factory.mktemp("multipart") / "big-video.mp4", BIG_MB)


def sha256_of(path: Path, part_size: int | None = None) -> tuple[str, list[bytes]]:
    """Hex SHA-256 of the whole file, and the raw SHA-256 of each part."""
    whole, parts = hashlib.sha256(), []
    with open(path, "rb") as handle:
        while chunk := handle.read(part_size or MiB):
            whole.update(chunk)
            parts.append(hashlib.sha256(chunk).digest())
    return whole.hexdigest(), parts


def composite(part_digests: list[bytes]) -> str:
    """S3's composite checksum: SHA-256 of the parts' SHA-256s, then `-<parts>`."""
    return sha256_b64(b"".join(part_digests)) + f"-{len(part_digests)}"


@dataclass
class PartTraffic:
    """Part PUTs as Chromium saw them: started, answered 200 (by part number), failed."""

    started: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def watch(self, page: Page) -> PartTraffic:
        page.on("request", lambda r: self.started.append(part_number(r.url)) if is_part(r) else None)
        page.on(
            "response",
            lambda r: self.stored.append(part_number(r.url)) if is_part(r.request) and r.status == 200 else None,
        )
        page.on("requestfailed", lambda r: self.failed.append(part_number(r.url)) if is_part(r) else None)
        return self


def is_part(request) -> bool:
    return request.method == "PUT" and "partNumber=" in request.url


def part_number(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["partNumber"][0])


def open_upload_page(page: Page, app: App) -> None:
    page.goto(f"{app.url}/upload")
    page.locator(".bd-uploader input[type=file]:not([webkitdirectory])").wait_for(state="attached", timeout=60_000)


def choose(page: Page, path: Path) -> None:
    page.locator(".bd-uploader input[type=file]:not([webkitdirectory])").set_input_files(str(path))


def row(page: Page, name: str):
    return page.locator(".bd-row", has=page.locator(".bd-name", has_text=re.compile(f"^{re.escape(name)}$")))


def wait_until(page: Page, condition, timeout: float, what: str) -> None:
    """Poll `condition` while Playwright runs: its sync API delivers events and routes only inside its calls."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(200)


def stable_part_count(page: Page, app: App, settle_ms: int = 1500) -> int:
    """Parts of the one open upload, read until two readings `settle_ms` apart agree."""

    def count() -> int:
        [upload] = open_uploads(app)
        return len(
            app.s3.list_parts(Bucket=app.bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", [])
        )

    previous = count()
    while True:
        page.wait_for_timeout(settle_ms)
        current = count()
        if current == previous:
            return current
        previous = current


def stored_objects(app: App) -> dict[str, dict]:
    return {o["Key"]: o for o in app.s3.list_objects_v2(Bucket=app.bucket, Prefix="uploads/").get("Contents", [])}


def open_uploads(app: App) -> list[dict]:
    return app.s3.list_multipart_uploads(Bucket=app.bucket).get("Uploads", [])


def assert_stored_exactly(app: App, key: str, path: Path, parts: int, part_size: int = PART) -> None:
    """The object is the file: its full SHA-256 (downloaded) and the bucket's composite checksum."""
    local_hex, part_digests = sha256_of(path, part_size)
    head = app.s3.head_object(Bucket=app.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == path.stat().st_size
    assert head["ContentType"] == "video/mp4"
    assert head["ChecksumSHA256"].endswith(f"-{parts}")
    assert head["ChecksumSHA256"] == composite(part_digests)
    downloaded = hashlib.sha256()
    for chunk in app.s3.get_object(Bucket=app.bucket, Key=key)["Body"].iter_chunks(8 * MiB):
        downloaded.update(chunk)
    assert downloaded.hexdigest() == local_hex


def clean_bucket(app: App) -> None:
    for upload in open_uploads(app):
        app.s3.abort_multipart_upload(Bucket=app.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for key in stored_objects(app):
        app.s3.delete_object(Bucket=app.bucket, Key=key)


# --- LocalStack: parts, checksums, resume, cancel ---------------------------------------------------


def test_a_200_mb_file_goes_up_in_checksummed_parts_and_is_stored_exactly(big_app: App, page: Page, big_file: Path):
    clean_bucket(big_app)
    traffic = PartTraffic().watch(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/_stcore/" not in r.url else None)
    open_upload_page(page, big_app)
    big_app.proxy.reset()
    choose(page, big_file)

    expect(row(page, big_file.name).locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    # Every part sent once, in parallel; no single POST.
    assert sorted(traffic.started) == list(range(1, BIG_PARTS + 1))
    assert posts == []
    # The page shows the composite checksum the bucket computed from the parts' checksums.
    checksum = page.locator("[data-testid=stCaptionContainer]", has_text="composite of 13 parts")
    expect(checksum).to_be_visible()
    [key] = stored_objects(big_app)
    assert_stored_exactly(big_app, key, big_file, BIG_PARTS)
    assert (
        big_app.s3.head_object(Bucket=big_app.bucket, Key=key, ChecksumMode="ENABLED")["ChecksumSHA256"]
        in checksum.inner_text()
    )
    # Nothing left open, on the bucket or in the server's record; the app server never saw the bytes.
    assert open_uploads(big_app) == []
    assert list(big_app.state_dir.glob("*.json")) == []
    assert big_app.proxy.bytes_to_server < 0.001 * big_file.stat().st_size


def test_after_a_network_cut_and_a_reload_the_same_file_resumes_without_resending_finished_parts(
    big_app: App, page: Page, big_file: Path
):
    clean_bucket(big_app)
    page.on("dialog", lambda dialog: dialog.accept())  # "Leave site?" on reload while uploading
    traffic = PartTraffic().watch(page)
    cut_after = 4
    let_through: list[int] = []
    cut: list[int] = []

    def network(route):
        if len(set(traffic.stored)) >= cut_after:
            cut.append(part_number(route.request.url))
            return route.abort("internetdisconnected")
        let_through.append(part_number(route.request.url))
        return route.continue_()

    page.route(lambda url: "partNumber=" in url, network)
    open_upload_page(page, big_app)
    choose(page, big_file)

    # The network is cut once 4 parts are in; the parts already on their way finish, later ones fail.
    # (Every cut request is counted before it fails, so this holds only once all let through settled.)
    def settled():
        return cut and len(traffic.stored) + len(traffic.failed) - len(cut) >= len(let_through)

    wait_until(page, settled, 120, "the cut, and the parts in flight to settle")
    done_before = sorted(set(traffic.stored))
    assert cut_after <= len(done_before) < BIG_PARTS
    assert sorted(p["PartNumber"] for p in big_app.s3.list_parts(
        Bucket=big_app.bucket, Key=open_uploads(big_app)[0]["Key"], UploadId=open_uploads(big_app)[0]["UploadId"]
    )["Parts"]) == done_before  # fmt: skip

    # Reload with the network still cut (the old page's retries must not get through), then restore it.
    page.reload()
    page.locator(".bd-uploader input[type=file]:not([webkitdirectory])").wait_for(state="attached", timeout=60_000)
    page.unroute_all()
    sent_before_reload = len(traffic.started)
    choose(page, big_file)

    status = row(page, big_file.name).locator(".bd-status")
    expect(status).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    after = traffic.started[sent_before_reload:]
    print(
        f"\n[resume] {BIG_PARTS} parts; {len(done_before)} in the bucket before the cut; "
        f"{len(after)} part requests after the reload: {sorted(after)}"
    )
    assert sorted(after) == sorted(set(range(1, BIG_PARTS + 1)) - set(done_before))
    assert len(open_uploads(big_app)) == 0
    [key] = stored_objects(big_app)
    assert_stored_exactly(big_app, key, big_file, BIG_PARTS)


def test_resume_notice_names_the_parts_already_in_the_bucket(big_app: App, page: Page, big_file: Path):
    """Paused, reloaded, chosen again: the row says how many parts were found, and finishes."""
    clean_bucket(big_app)
    page.on("dialog", lambda dialog: dialog.accept())
    traffic = PartTraffic().watch(page)
    open_upload_page(page, big_app)
    choose(page, big_file)
    wait_until(page, lambda: len(set(traffic.stored)) >= 2, 120, "two parts")
    row(page, big_file.name).get_by_role("button", name=f"Pause upload of {big_file.name}").click()
    expect(row(page, big_file.name).locator(".bd-status")).to_have_text("Paused")
    wait_until(
        page, lambda: len(traffic.stored) + len(traffic.failed) >= len(traffic.started), 60, "parts in flight to stop"
    )
    # Pause aborts parts in flight, but the bucket may already hold one whose answer the browser
    # dropped: what counts is what ListParts says, once it stops changing.
    done = stable_part_count(page, big_app)
    assert done >= len(set(traffic.stored))
    page.reload()
    page.locator(".bd-uploader input[type=file]:not([webkitdirectory])").wait_for(state="attached", timeout=60_000)
    choose(page, big_file)
    detail = row(page, big_file.name).locator(".bd-detail")
    expect(detail).to_contain_text(f"Resuming: {done} of {BIG_PARTS} parts already in the bucket.", timeout=60_000)
    expect(row(page, big_file.name).locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)


def test_cancel_aborts_the_multipart_upload_and_leaves_nothing(big_app: App, page: Page, big_file: Path):
    clean_bucket(big_app)
    traffic = PartTraffic().watch(page)
    open_upload_page(page, big_app)
    choose(page, big_file)
    wait_until(page, lambda: len(set(traffic.stored)) >= 2, 120, "two parts")
    assert len(open_uploads(big_app)) == 1
    row(page, big_file.name).get_by_role("button", name=f"Cancel upload of {big_file.name}").click()

    expect(row(page, big_file.name).locator(".bd-status")).to_have_text("Cancelled")
    expect(page.get_by_text("You cancelled this upload; its parts were removed from the bucket.")).to_be_visible(
        timeout=30_000
    )
    wait_until(page, lambda: open_uploads(big_app) == [], 30, "the upload to be aborted")
    assert stored_objects(big_app) == {}
    assert list(big_app.state_dir.glob("*.json")) == []
    # Choosing the file again starts from zero (the cancelled upload is forgotten).
    started = len(traffic.started)
    choose(page, big_file)
    expect(row(page, big_file.name).last.locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    assert len(traffic.started) - started == BIG_PARTS


# --- Sandbox (moto): pause and resume, and a CORS rule that hides ETag ------------------------------


def test_pause_stops_sending_and_resume_finishes_on_the_sandbox(sandbox_parts_app: App, page: Page, tmp_path: Path):
    path = write_test_file(tmp_path / "clip.mp4", 40)  # 8 parts of 5 MiB
    traffic = PartTraffic().watch(page)
    # Slow the upload so Pause lands mid-way: 8 MiB/s.
    unthrottle = throttle_upload(page, 8 * MiB)
    open_upload_page(page, sandbox_parts_app)
    choose(page, path)
    target = row(page, path.name)
    wait_until(page, lambda: len(set(traffic.stored)) >= 1, 60, "one part")
    target.get_by_role("button", name=f"Pause upload of {path.name}").click()
    expect(target.locator(".bd-status")).to_have_text("Paused")
    expect(target.locator(".bd-detail")).to_contain_text("Press Resume to continue.")
    started = len(traffic.started)
    page.wait_for_timeout(2_000)
    assert len(traffic.started) == started, "no part may start while paused"

    unthrottle()
    target.get_by_role("button", name=f"Resume upload of {path.name}").click()
    expect(target.locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    assert set(traffic.stored) == set(range(1, 9))
    link = page.locator("[data-testid=stCode] code").first.inner_text().strip()
    endpoint = "{0.scheme}://{0.netloc}".format(urlsplit(link))
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    bucket, key = urlsplit(link).path.lstrip("/").split("/", 1)
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == sha256_of(path)[0]


def test_a_cors_rule_that_hides_etag_does_not_stop_a_large_upload(sandbox_parts_app: App, page: Page, tmp_path: Path):
    """The server takes each part's ETag from ListParts, so a page that cannot read them still completes."""
    path = write_test_file(tmp_path / "hidden-etag.mp4", 12)  # 3 parts

    def without_exposed_headers(route):
        response = route.fetch()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "access-control-expose-headers"}
        route.fulfill(response=response, headers=headers)

    page.route(lambda url: "partNumber=" in url, without_exposed_headers)
    open_upload_page(page, sandbox_parts_app)
    choose(page, path)
    expect(row(page, path.name).locator(".bd-status")).to_have_text("Verified", timeout=60_000)


def test_an_expired_part_url_is_signed_again_and_a_busy_bucket_is_retried(
    sandbox_parts_app: App, page: Page, tmp_path: Path
):
    path = write_test_file(tmp_path / "retried.mp4", 16)  # 4 parts of 5 MiB (the last 1 MiB)
    traffic = PartTraffic().watch(page)
    urls: dict[int, list[str]] = {}
    cors = {"Access-Control-Allow-Origin": "*", "Content-Type": "application/xml"}
    expired = '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'
    busy = (
        '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
    )

    def first_attempts_fail(route):
        number = part_number(route.request.url)
        urls.setdefault(number, []).append(route.request.url)
        if len(urls[number]) == 1 and number == 2:
            time.sleep(1.1)  # the URL signed again must differ: SigV4 dates have one-second resolution
            return route.fulfill(status=403, headers=cors, body=expired)
        if len(urls[number]) == 1 and number == 3:
            return route.fulfill(status=503, headers=cors, body=busy)
        return route.continue_()

    page.route(lambda url: "partNumber=" in url, first_attempts_fail)
    open_upload_page(page, sandbox_parts_app)
    choose(page, path)

    expect(row(page, path.name).locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    assert sorted(traffic.started) == [1, 2, 2, 3, 3, 4]
    assert urls[2][0] != urls[2][1]  # signed again after "Request has expired"
    assert urls[3][0] == urls[3][1]  # a busy bucket: the same (still valid) URL, after a backoff


@dataclass
class PageTraffic:
    """The uploader's `parts` events to the app (from Chromium's WebSocket frames), as the part numbers each
    asks URLs for."""

    asks: list[list[int]] = field(default_factory=list)

    def watch(self, page: Page) -> PageTraffic:
        page.on("websocket", lambda socket: socket.on("framesent", self._sent))
        return self

    def _sent(self, payload) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        if '"requests"' in text:
            self.asks.append([int(n) for n in re.findall(r'"n":\s*(\d+)', text)])


def test_a_large_upload_asks_for_part_urls_in_batches(sandbox_many_parts_app: App, page: Page, tmp_path: Path):
    """Each event is a Streamlit rerun, which costs the browser CPU the parts in flight need: once a few URLs
    are in hand, URLs are asked for a slot-full at a time, not as each part is hashed."""
    path = write_test_file(tmp_path / "long-take.mp4", 200)  # 40 parts of 5 MiB, 8 in flight
    traffic = PartTraffic().watch(page)
    events = PageTraffic().watch(page)
    open_upload_page(page, sandbox_many_parts_app)
    # Sending slower than hashing, as on a real network: URLs are asked for well ahead of the parts.
    throttle_upload(page, 40 * MiB)
    choose(page, path)
    expect(row(page, path.name).locator(".bd-status")).to_have_text("Verified", timeout=VERIFY_TIMEOUT_MS)
    assert sorted(set(traffic.stored)) == list(range(1, 41))
    asked = sorted({n for ask in events.asks for n in ask})
    assert asked == list(range(1, 41))
    # One part at a time would be ~30 events; after the first slot-full, a batch of 8 goes per event.
    assert len(events.asks) <= 12, events.asks
