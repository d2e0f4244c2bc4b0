"""The uploader component (lib/components/uploader/uploader.js) in real Chromium, against moto.

Starts `streamlit run tests/browser/harness_app.py` (its own moto server on a port chosen here) and
drives the component the way a person would: choose files, watch them upload, read the errors,
cancel, retry. What the browser claims is checked against the bucket and against the harness's
record of what Python was asked and answered.

Chromium comes from the tier's `browser` fixture (tests/browser/conftest.py). Screenshots go to
$BUCKETDESK_SCREENSHOTS (default: the temp dir), to be looked at.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import Page, expect

from tests.support.app_server import free_port
from tests.support.browser import throttle_upload

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("BUCKETDESK_SCREENSHOTS", tempfile.gettempdir()))
BUCKET = "harness-bucket"
HOSTILE = "<img src=x onerror=alert(1)>.png"
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
CORS = {"Access-Control-Allow-Origin": "*"}


@dataclass
class Harness:
    url: str
    endpoint: str
    log: Path

    def s3(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    app_port, moto_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("harness") / "streamlit.log"
    env = {**os.environ, **DUMMY_AWS, "HARNESS_MOTO_PORT": str(moto_port)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", "tests/browser/harness_app.py",
        "--server.headless", "true", "--server.port", str(app_port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{app_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the harness did not start; log:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.25)
        yield Harness(url=url, endpoint=f"http://127.0.0.1:{moto_port}", log=log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Session:
    """One browser tab on the harness, with what it did on the side."""

    page: Page
    harness: Harness
    posts: list = field(default_factory=list)  # requests to the bucket
    dialogs: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def choose(self, *files: tuple[str, str, bytes]) -> None:
        self.page.set_input_files(
            ".bd-uploader input[type=file]:not([webkitdirectory])",
            files=[{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files],
        )

    def row(self, name: str):
        exact = re.compile(f"^{re.escape(name)}$")
        return self.page.locator(".bd-row").filter(has=self.page.locator(".bd-name", has_text=exact))

    def state(self) -> dict:
        """What the harness (Python) was asked and answered, as it prints it."""
        return json.loads(self.page.locator(".st-key-harness-state code").inner_text())

    def state_when(self, ready, timeout: float = 15) -> dict:
        """The harness state once `ready(state)` holds. The page can briefly show an older run's
        copy: a run stopped by the next rerun leaves the previous one's elements on screen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                state = self.state()
            except ValueError:  # caught mid-render
                state = None
            if state is not None and ready(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the harness state never got there: {state}")
            self.page.wait_for_timeout(200)

    def ids(self) -> dict[str, str]:
        return {sign["name"]: sign["id"] for sign in self.state()["signs"]}

    def stored(self, file_id: str) -> dict:
        s3 = self.harness.s3()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{file_id}/").get("Contents", [])]
        assert len(keys) == 1, keys
        obj = s3.get_object(Bucket=BUCKET, Key=keys[0])
        return {"body": obj["Body"].read(), "type": obj["ContentType"], "meta": obj["Metadata"]}


@pytest.fixture
def color_scheme() -> str:
    return "light"  # Streamlit's default theme follows the system's; parametrize to change


@pytest.fixture
def session(browser, harness, color_scheme):
    context = browser.new_context(viewport={"width": 1000, "height": 900}, color_scheme=color_scheme)
    page = context.new_page()
    s = Session(page=page, harness=harness)
    page.on(
        "request", lambda r: s.posts.append(r) if r.url.startswith(harness.endpoint) and r.method == "POST" else None
    )
    page.on("dialog", lambda d: (s.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: s.errors.append(str(e)))
    page.set_default_timeout(20_000)
    yield s
    page.unroute_all(behavior="ignoreErrors")  # routes still serving in-flight uploads end quietly
    context.close()


def open_harness(s: Session, query: str = "") -> None:
    s.page.goto(f"{s.harness.url}/{query}")
    s.page.wait_for_selector(".bd-uploader input[type=file]:not([webkitdirectory])", state="attached", timeout=60_000)


def s3_error(code: str, message: str, **extra: str) -> str:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{more}<RequestId>1</RequestId></Error>'


def test_uploads_refuses_and_shows_names_as_text(session: Session):
    s, page = session, session.page
    open_harness(s)
    photo, hostile, big = os.urandom(2048), os.urandom(3000), os.urandom(1_500_000)
    s.choose(("photo.png", "image/png", photo), (HOSTILE, "image/png", hostile), ("big.pdf", "application/pdf", big))
    expect(page.locator(".bd-row")).to_have_count(3)
    first_row = s.row("photo.png").element_handle()

    refused = s.row("big.pdf")
    expect(refused.locator(".bd-status")).to_have_text("Refused")
    expect(refused.locator(".bd-detail")).to_have_text("“big.pdf” is 1.4 MB; the limit for this bucket is 1.0 MB.")
    expect(refused.get_by_role("button", name="Retry upload of big.pdf")).to_be_hidden()
    for name, size in (("photo.png", "2.0 KB"), (HOSTILE, "2.9 KB")):
        row = s.row(name)
        expect(row.locator(".bd-status")).to_have_text("Verified")
        expect(row.locator(".bd-detail")).to_have_text(f"Verified: {size} image/png.")
        expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".bd-total")).to_have_text("4.9 KB of 4.9 KB · 100 % · 2 done · 1 refused")

    # Python was asked once per file, and judged each upload once.
    state = s.state_when(lambda st: len(st["results"]) >= 2 and len(st["signs"]) >= 3)
    assert sorted((x["name"], x["held"], x["refused"]) for x in state["signs"]) == sorted(
        [("photo.png", 0, False), (HOSTILE, 0, False), ("big.pdf", 0, True)]
    )
    ids = s.ids()
    results = {r["id"]: r for r in state["results"]}
    assert set(results) == {ids["photo.png"], ids[HOSTILE]}
    for name, data in (("photo.png", photo), (HOSTILE, hostile)):
        result = results[ids[name]]
        assert (result["ok"], result["status"], result["bytes"], result["signSeq"]) == (True, 201, len(data), 1)
        assert result["key"].startswith(f"uploads/{ids[name]}/")
        # The bucket holds exactly the bytes chosen, under the signed type and metadata.
        stored = s.stored(ids[name])
        assert stored["body"] == data
        assert stored["type"] == "image/png"
        assert stored["meta"] == {"uploaded-by": "harness"}

    # The refused file never left the browser: two POSTs, neither about it.
    assert len(s.posts) == 2
    for post in s.posts:
        body = post.post_data_buffer or b""
        assert ids["big.pdf"].encode() not in body and len(body) < 10_000
    assert not s.harness.s3().list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{ids['big.pdf']}/").get("Contents")

    # The hostile name is text: shown verbatim, no element made of it, nothing ran.
    expect(s.row(HOSTILE).locator(".bd-name")).to_have_text(HOSTILE)
    assert page.locator(".bd-uploader img").count() == 0
    assert s.dialogs == [] and s.errors == []

    # The DOM survived the reruns that sign and done caused (parentElement is stable).
    assert first_row.evaluate("el => el.isConnected")

    # Theme variables reach the shadow root and the CSS uses them.
    zone = page.locator(".bd-drop")
    theme = zone.evaluate(
        "el => [getComputedStyle(el).getPropertyValue('--st-secondary-background-color'), getComputedStyle(el).backgroundColor]"
    )
    assert theme[0].strip(), "Streamlit no longer sets --st-secondary-background-color"
    assert theme[1] not in ("", "rgba(0, 0, 0, 0)")
    page.screenshot(path=str(SHOTS / "bd-uploader-light.png"), full_page=True)

    # Clear finished removes done and refused rows.
    page.get_by_role("button", name="Clear finished").click()
    expect(page.locator(".bd-row")).to_have_count(0)


def test_bucket_errors_become_sentences_and_retry_gets_a_fresh_grant(session: Session):
    s, page = session, session.page
    endpoint_host = s.harness.endpoint.removeprefix("http://")
    plan = {
        b"@@EXPIRED@@": lambda route: route.fulfill(
            status=403, headers=CORS, content_type="application/xml",
            body=s3_error("AccessDenied", "Invalid according to Policy: Policy expired."),
        ),
        b"@@CONDITION@@": lambda route: route.fulfill(
            status=403, headers=CORS, content_type="application/xml",
            body=s3_error("AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]'),
        ),
        b"@@TOOLARGE@@": lambda route: route.fulfill(
            status=400, headers=CORS, content_type="application/xml",
            body=s3_error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", ProposedSize="9000", MaxSizeAllowed="4000"),
        ),
        b"@@BUSY@@": lambda route: route.fulfill(
            status=503, headers=CORS, content_type="application/xml", body=s3_error("SlowDown", "Please reduce your request rate."),
        ),
        b"@@NETWORK@@": lambda route: route.abort("connectionrefused"),
        # The object lands, but the answer is lost on the way back.
        b"@@LOST@@": lambda route: (route.fetch(), route.abort("connectionreset")),
    }  # fmt: skip
    failed_once: set[bytes] = set()

    def first_attempt_fails(route):
        body = route.request.post_data_buffer or b""
        for marker, action in plan.items():
            if marker in body and marker not in failed_once:
                failed_once.add(marker)
                return action(route)
        return route.continue_()

    page.route(lambda url: url.startswith(s.harness.endpoint), first_attempt_fails)
    open_harness(s)
    # Markers use "@", which never occurs in the policy (base64) or signature (hex) fields.
    files = {marker.decode().strip("@").lower() + ".png": marker + os.urandom(4000) for marker in plan}
    s.choose(*[(name, "image/png", data) for name, data in files.items()])

    expected = {
        "expired.png": "The upload permission expired before the upload started. Press Retry to get a new one.",
        "condition.png": "The bucket refused: Content-Type does not match what was signed.",
        "toolarge.png": "The bucket refused the file: its size is not the size that was signed "
        "(the bucket saw 8.8 KB, 3.9 KB was signed). If the file changed since you chose it, choose it again.",
        "busy.png": "The bucket is busy. Retry in a moment.",
        "network.png": f"Could not reach the bucket at {endpoint_host}. Check that the bucket's CORS rule allows "
        f"this site ({s.harness.url}) and that the endpoint is reachable.",
    }
    for name, sentence in expected.items():
        expect(s.row(name).locator(".bd-status")).to_have_text("Failed")
        expect(s.row(name).locator(".bd-detail")).to_have_text(sentence)
    # Python found the object whose answer was lost, and its verdict wins.
    expect(s.row("lost.png").locator(".bd-status")).to_have_text("Verified")
    expect(page.locator(".bd-total")).to_contain_text("1 done · 5 failed")

    for name in expected:
        s.row(name).get_by_role("button", name=f"Retry upload of {name}").click()
    for name in files:
        expect(s.row(name).locator(".bd-status")).to_have_text("Verified")
    expect(page.locator(".bd-total")).to_contain_text("100 % · 6 done")

    state = s.state_when(lambda st: len([r for r in st["results"] if r["ok"]]) >= 5)
    ids = s.ids()
    for name, data in files.items():
        assert s.stored(ids[name])["body"] == data
        asked = [x["held"] for x in state["signs"] if x["id"] == ids[name]]
        judged = [(r["signSeq"], r["ok"], r["code"]) for r in state["results"] if r["id"] == ids[name]]
        if name == "lost.png":
            assert (asked, judged) == ([0], [(1, False, "NetworkError")])
        else:  # a retry asks for, and uses, a fresh grant; each attempt is reported once
            assert asked == [0, 1], name
            assert [j[:2] for j in judged] == [(1, False), (2, True)], name
    codes = {r["code"] for r in state["results"] if not r["ok"]}
    assert codes == {"AccessDenied", "EntityTooLarge", "SlowDown", "NetworkError"}
    expired = next(r for r in state["results"] if r["id"] == ids["expired.png"] and not r["ok"])
    assert (expired["status"], expired["s3Message"]) == (403, "Invalid according to Policy: Policy expired.")
    assert s.errors == []


@pytest.mark.parametrize("color_scheme", ["dark"])
def test_queue_cancel_and_retry_in_dark_theme(session: Session):
    s, page = session, session.page
    open_harness(s, "?concurrency=1")
    unthrottle = throttle_upload(page, 150 * 1024, latency_ms=10)
    first, second, third = os.urandom(700_000), os.urandom(700_000), os.urandom(5_000)
    # Keyboard only: Tab to "Choose files", Enter opens the file chooser. (A listener from the start
    # makes Playwright intercept file choosers before the key press, not lazily.)
    page.on("filechooser", lambda _: None)
    page.mouse.click(5, 5)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.shadowRoot?.activeElement?.textContent") == "Choose files":
            break
    else:
        pytest.fail("Tab never reached the Choose files button")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    chooser.value.set_files(
        [
            {"name": "first.pdf", "mimeType": "application/pdf", "buffer": first},
            {"name": "second.pdf", "mimeType": "application/pdf", "buffer": second},
            {"name": "third.png", "mimeType": "image/png", "buffer": third},
        ]
    )

    expect(s.row("first.pdf").locator(".bd-status")).to_have_text("Sending")
    expect(s.row("second.pdf").locator(".bd-status")).to_have_text("Queued")
    expect(s.row("third.png").locator(".bd-status")).to_have_text("Queued")
    expect(s.row("first.pdf").locator(".bd-detail")).to_contain_text("KB/s")
    page.screenshot(path=str(SHOTS / "bd-uploader-dark.png"), full_page=True)

    s.row("second.pdf").get_by_role("button", name="Cancel upload of second.pdf").click()
    s.row("first.pdf").get_by_role("button", name="Cancel upload of first.pdf").click()
    for name in ("first.pdf", "second.pdf"):
        expect(s.row(name).locator(".bd-status")).to_have_text("Cancelled")
        expect(s.row(name).locator(".bd-detail")).to_have_text("You cancelled this upload.")
    expect(s.row("third.png").locator(".bd-status")).to_have_text("Verified")

    unthrottle()
    s.row("first.pdf").get_by_role("button", name="Retry upload of first.pdf").click()
    expect(s.row("first.pdf").locator(".bd-status")).to_have_text("Verified")
    expect(s.row("second.pdf").locator(".bd-status")).to_have_text("Cancelled")

    ids = s.ids()
    judged = {(r["id"], r["signSeq"]): r for r in s.state_when(lambda st: len(st["results"]) >= 4)["results"]}
    assert judged[(ids["first.pdf"], 1)]["code"] == "Cancelled"
    assert judged[(ids["second.pdf"], 1)]["code"] == "Cancelled"
    assert judged[(ids["first.pdf"], 2)]["ok"] and judged[(ids["third.png"], 1)]["ok"]
    assert s.stored(ids["first.pdf"])["body"] == first
    assert s.stored(ids["third.png"])["body"] == third
    assert not s.harness.s3().list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{ids['second.pdf']}/").get("Contents")
    # The queued file that was cancelled was never sent.
    assert not [p for p in s.posts if ids["second.pdf"].encode() in (p.post_data_buffer or b"")]


def test_drop_files_on_the_zone(session: Session):
    s, page = session, session.page
    open_harness(s)
    transfer = page.evaluate_handle(
        """() => {
            const dt = new DataTransfer();
            dt.items.add(new File(["dropped on the zone"], "notes.txt", {type: "text/plain"}));
            dt.items.add(new File(["%PDF-1.4 tiny"], "tiny.pdf", {type: "application/pdf"}));
            return dt;
        }"""
    )
    zone = page.locator(".bd-drop")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class("bd-drop bd-dragging")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).to_have_class("bd-drop")
    for name in ("notes.txt", "tiny.pdf"):
        expect(s.row(name).locator(".bd-status")).to_have_text("Verified")
    ids = s.ids()
    assert s.stored(ids["notes.txt"]) == {
        "body": b"dropped on the zone",
        "type": "text/plain",
        "meta": {"uploaded-by": "harness"},
    }
    assert s.stored(ids["tiny.pdf"])["body"] == b"%PDF-1.4 tiny"


def test_a_folder_of_ten_thousand_files_is_one_line_and_the_page_still_answers(session: Session):
    s, page = session, session.page
    open_harness(s, "?hold=1")  # nothing is granted: all 10,000 stay in the component, waiting
    # The folder picker gives Files whose webkitRelativePath says where they sit; synthetic Files have
    # none, so each gets its own (the component reads nothing else from the picker).
    page.locator(".bd-uploader input[webkitdirectory]").evaluate(
        """(input) => {
            const files = [];
            for (let n = 0; n < 10000; n++) {
                const file = new File([`file ${n}`], `note-${n}.txt`, {type: "text/plain"});
                Object.defineProperty(file, "webkitRelativePath", {value: `shoot/day-${n % 10}/note-${n}.txt`});
                files.push(file);
            }
            Object.defineProperty(input, "files", {value: files, configurable: true});
            input.onchange();
        }"""
    )
    folder = page.locator(".bd-folder")
    expect(folder).to_have_count(1)
    expect(folder).to_contain_text("10,000 files")
    expect(folder.locator(".bd-status")).to_have_text("Uploading folder")
    assert page.locator(".bd-row:not(.bd-folder)").count() == 0, "one line for the folder, no row per file"

    # The page still answers: a file chosen now can be cancelled, and says so.
    s.choose(("later.txt", "text/plain", b"chosen while 10,000 wait"))
    later = s.row("later.txt")
    expect(later.locator(".bd-status")).to_have_text("Waiting for permission…")
    later.get_by_role("button", name="Cancel upload of later.txt").click()
    expect(later.locator(".bd-status")).to_have_text("Cancelled", timeout=5_000)
    expect(folder).to_contain_text("10,000 files")
    assert s.errors == []


def test_many_small_files_are_announced_once_per_render_not_once_per_file(session: Session):
    # Each write to the live region makes the browser lay out the page and every row again: a thousand
    # small files announced one by one ("uploaded", then "verified") cost a layout each, for nobody (a
    # screen reader says only the latest anyway). The latest message is said at the next render.
    s, page = session, session.page
    open_harness(s)
    page.locator(".bd-sr").evaluate(
        """(sr) => {
            window.srWrites = 0;
            new MutationObserver((records) => { window.srWrites += records.length; })
                .observe(sr, {childList: true, characterData: true, subtree: true});
        }"""
    )
    count = 60
    s.choose(*[(f"note-{n:02d}.txt", "text/plain", f"note {n} ".encode() * 50) for n in range(count)])
    expect(page.locator(".bd-total")).to_contain_text(f"{count} done", timeout=60_000)
    expect(page.locator(".bd-sr")).to_have_text(re.compile(r"^note-\d\d\.txt verified$"))
    writes = page.evaluate("window.srWrites")
    assert 0 < writes < count, f"{writes} writes to the live region for {count} files (two each, one by one)"
    assert s.errors == []
