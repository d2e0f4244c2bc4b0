"""A scoped person's "Search everywhere" in Chromium against LocalStack, signed in through a real
OpenID Connect provider: the bucket's index holds objects inside and outside their one prefix whose
names all match the query, yet only theirs come back, and nothing of the others (key, name,
thumbnail, signed URL) reaches the browser in any websocket frame or HTTP response of the app, nor
in any request the browser makes. Building the index lists the whole bucket, so neither a scoped
viewer nor a scoped analyst is offered a build.

The index is built the way a scheduler builds it (lib.inventory's SnapshotStore, kept in the bucket),
not by them. No CORS rule is needed: search sends no bytes from the browser to the bucket.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import pytest
from PIL import Image

from lib.browse.thumbnails import THUMB_PREFIX, thumb_key
from lib.config import BucketProfile
from lib.inventory.store import SnapshotStore
from lib.s3 import S3Gateway
from tests.browser.conftest import SignInApp
from tests.browser.test_signin_browser import sign_in
from tests.support.localstack import REGION, app_env, localstack_client

pytestmark = pytest.mark.browser
TIMEOUT_MS = 90_000
SCOPE = "samples/"
QUERY = "quarterly"
# Both people see samples/ only. The analyst may also index there, but building the index lists the
# whole bucket (lib.access: index on every prefix), so neither is offered a build.
RULES = f"""
[[bucketdesk.access]]
who = ["*@example.com"]
roles = ["viewer"]
prefixes = ["{SCOPE}"]

[[bucketdesk.access]]
who = ["ana@example.com"]
roles = ["analyst"]
prefixes = ["{SCOPE}"]
"""
# Every name matches QUERY. Outside: another folder, a sibling whose name starts like the scope's,
# the top level, and an image (whose thumbnail would be made if it were ever shown).
INSIDE = {
    "samples/reports/2025/q3/quarterly-summary.pdf": "application/pdf",
    "samples/charts/quarterly-chart.png": "image/png",
    "samples/deep/a/b/c/d/quarterly-notes.txt": "text/plain",
}
OUTSIDE = {
    "finance/payroll/quarterly-salaries-confidential.pdf": "application/pdf",
    "samples-private/quarterly-board-minutes.txt": "text/plain",
    "quarterly-acquisition-plans.txt": "text/plain",
    "finance/charts/quarterly-margins-secret.png": "image/png",
}
# Words that appear in the outside keys only: a name shown without its folder would carry them too.
OUTSIDE_WORDS = ("salaries-confidential", "board-minutes", "acquisition-plans", "margins-secret", "finance/")
SIGNED_URL = re.compile(rb"https?://[!-~]+?X-Amz-Signature=[0-9a-f]{64}")


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class Indexed:
    app: SignInApp
    bucket: str
    thumbs: dict[str, str]  # each image's thumbnail key (a hash of its key and ETag)


@pytest.fixture(scope="module")
def indexed(localstack, start_signin_app, tmp_path_factory) -> Iterator[Indexed]:
    s3 = localstack_client(localstack.endpoint_url)
    bucket = f"bd-scoped-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    etags = {}
    for key, content_type in {**INSIDE, **OUTSIDE}.items():
        body = png((200, 40, 40)) if content_type == "image/png" else f"{key}\n".encode()
        etags[key] = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)["ETag"]
    profile = BucketProfile(
        name="scheduler",
        bucket=bucket,
        endpoint_url=localstack.endpoint_url,
        region=REGION,
        addressing_style="path",
        access_key_id="test",
        secret_access_key="test",
    )
    store = SnapshotStore(S3Gateway(profile), mode="bucket", cache_dir=tmp_path_factory.mktemp("scheduler"))
    assert store.build().manifest.rows == len(INSIDE) + len(OUTSIDE)
    app = start_signin_app(
        RULES,
        env=app_env(localstack.endpoint_url, bucket),
    )
    images = [key for key, kind in {**INSIDE, **OUTSIDE}.items() if kind == "image/png"]
    yield Indexed(app, bucket, {key: thumb_key(key, etags[key].strip('"')) for key in images})


class Wiretap:
    """Everything the app sends this page (websocket frames, HTTP bodies) and every URL it requests."""

    def __init__(self, page, app_url: str):
        self.frames: list[bytes] = []
        self.bodies: list[bytes] = []
        self.requests: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("response", lambda response: self._response(response, app_url))

    def _frame(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else str(payload).encode())

    def _response(self, response, app_url: str) -> None:
        if response.url.startswith(app_url) and "/static/" not in response.url:
            try:
                self.bodies.append(response.body())
            except Exception:  # a redirect has no body
                pass

    @property
    def received(self) -> bytes:
        return b"\n".join(self.frames + self.bodies)


def table_names(page) -> list[str]:
    """The Name column of the results table, from the grid's accessibility table (the grid itself
    is drawn on a canvas)."""
    grid = page.locator("[data-testid=stDataFrame] table[role=grid]")
    grid.locator("td[role=gridcell]").first.wait_for(state="attached", timeout=TIMEOUT_MS)
    headers = [text.strip() for text in grid.locator("th[role=columnheader]").all_text_contents()]
    column = headers.index("Name") + 1
    return sorted(grid.locator(f"td[role=gridcell][aria-colindex='{column}']").all_text_contents())


def results_shown(page) -> list[str]:
    """The keys of the result rows, read from the gallery (each a button named by its whole key)."""
    cards = page.locator("[data-testid=stMain] [data-testid=stButton] button")
    names = [cards.nth(i).inner_text().strip() for i in range(cards.count())]
    return sorted(name for name in names if QUERY in name)


@pytest.mark.parametrize("sub, email", [("sam-3", "sam@example.com"), ("ana-4", "ana@example.com")])
def test_a_scoped_persons_search_never_sends_anything_outside_their_prefix(indexed: Indexed, page, sub, email):
    tap = Wiretap(page, indexed.app.url)
    indexed.app.provider.set_user(sub, email=email, email_verified=True, name=sub)
    sign_in(page, indexed.app, sub)
    page.goto(f"{indexed.app.url}/browse")
    page.wait_for_url("**/browse?prefix=samples**", timeout=TIMEOUT_MS)
    page.get_by_text("Page 1").wait_for(timeout=TIMEOUT_MS)

    page.get_by_text("Search everywhere", exact=True).first.click()
    page.get_by_text("Index of your folders").wait_for(timeout=TIMEOUT_MS)  # not the bucket's size
    page.get_by_placeholder("Any part of a name, in every folder…").fill(QUERY)
    matches = page.get_by_text(re.compile(r"\d+ matches"))
    matches.wait_for(timeout=TIMEOUT_MS)
    assert matches.inner_text().endswith(f" {len(INSIDE)} matches")
    assert page.get_by_role("button", name="Update index").count() == 0  # neither may build
    assert page.get_by_role("button", name="Build the index").count() == 0

    # The rows as the table shows them, then as the gallery does.
    assert table_names(page) == sorted(INSIDE)
    page.get_by_text("Gallery").click()
    page.get_by_role("button", name="samples/charts/quarterly-chart.png", exact=True).wait_for(timeout=TIMEOUT_MS)
    assert results_shown(page) == sorted(INSIDE)

    # Open one: its details and preview come through signed links too.
    page.get_by_role("button", name="samples/charts/quarterly-chart.png", exact=True).click()
    page.get_by_role("heading", name="quarterly-chart.png").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImage] img')].some(i => i.src.includes('X-Amz-Signature'))",
        timeout=TIMEOUT_MS,
    )

    received = tap.received
    thumbs_inside = [thumb for key, thumb in indexed.thumbs.items() if key in INSIDE]
    thumbs_outside = [thumb for key, thumb in indexed.thumbs.items() if key in OUTSIDE]
    shown = [*INSIDE, *thumbs_inside]
    assert [text for text in shown if text.encode() not in received] == []  # the tap hears what the app sends
    forbidden = {form for key in OUTSIDE for form in (key, quote(key), quote(key, safe=""))}
    forbidden |= {*OUTSIDE_WORDS, *(thumb.rsplit("/", 1)[-1] for thumb in thumbs_outside)}
    assert sorted(text for text in forbidden if text.encode() in received) == []

    signed = {url.decode() for url in SIGNED_URL.findall(received)}
    signed |= {url for url in tap.requests if "X-Amz-Signature=" in url}
    keys = [unquote(urlsplit(url).path).split(f"/{indexed.bucket}/", 1)[1] for url in signed]
    assert any(key == "samples/charts/quarterly-chart.png" for key in keys)  # the preview's own link
    assert all(key.startswith((SCOPE, THUMB_PREFIX)) for key in keys), keys
    assert not {key for key in keys if key.startswith(THUMB_PREFIX)} & set(thumbs_outside)
    assert not [url for url in tap.requests if any(form in unquote(url) for form in OUTSIDE)]
