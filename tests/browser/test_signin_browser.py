"""Sign-in with a real OpenID Connect provider, in Chromium, against the real app (`streamlit run`).

The provider (oidc-provider-mock) issues signed ID tokens with the claims set per subject; the app
gets an `[auth]` section pointing at it. The app runs on the embedded sandbox.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from lib.names import user_segment
from tests.browser.conftest import Deployment, SignInApp
from tests.browser.test_upload_browser import bucket_client, write_png

pytestmark = pytest.mark.browser
TIMEOUT_MS = 60_000
SIDEBAR = "[data-testid=stSidebar]"


# Uploaders write to their own folder; everyone at example.com may browse the samples.
RULES = """
[[bucketdesk.access]]
who = ["group:uploaders"]
roles = ["uploader", "viewer"]
prefixes = ["uploads/{user}/"]

[[bucketdesk.access]]
who = ["*@example.com"]
roles = ["viewer"]
prefixes = ["samples/"]
"""


@pytest.fixture(scope="module")
def signin_app(start_signin_app) -> SignInApp:
    return start_signin_app(RULES)


def sign_in(page, app: SignInApp, sub: str, path: str = "") -> None:
    """Open the app, press Sign in, and authorise as `sub` on the provider's own page."""
    page.goto(f"{app.url}/{path}")
    page.get_by_role("button", name="Sign in").click(timeout=TIMEOUT_MS)
    page.wait_for_url(f"{app.provider.url}/oauth2/authorize**", timeout=TIMEOUT_MS)
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**", timeout=TIMEOUT_MS)
    page.locator(SIDEBAR, has_text="Signed in as").wait_for(timeout=TIMEOUT_MS)


def sign_out(page, app: SignInApp) -> None:
    page.locator(SIDEBAR).get_by_role("button", name="Sign out").click()
    # The provider has an end-session endpoint, so Streamlit ends the session there too.
    page.wait_for_url(f"{app.provider.url}/oauth2/end_session**", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{app.url}/**", timeout=TIMEOUT_MS)


def test_signed_in_user_uploads_under_their_email_and_signs_out(signin_app: SignInApp, page, tmp_path):
    signin_app.provider.set_user(
        "ann-1", email="Ann@Example.com", email_verified=True, name="Ann Example", groups=["design", "uploaders"]
    )
    sign_in(page, signin_app, "ann-1")
    sidebar = page.locator(SIDEBAR)
    assert "Signed in as Ann Example" in sidebar.inner_text()
    assert "ann@example.com" in sidebar.inner_text() and "design, uploaders" in sidebar.inner_text()
    assert "No sign-in is configured" not in sidebar.inner_text()

    # The upload page works, and the object carries the signed-in e-mail, pinned by the grant.
    page.goto(f"{signin_app.url}/upload")
    file_input = page.locator(".bd-uploader input[type=file]:not([webkitdirectory])")
    file_input.wait_for(state="attached", timeout=TIMEOUT_MS)
    photo = write_png(tmp_path / "signed-in.png", (40, 30), 7)
    file_input.set_input_files([str(photo)])
    page.locator("[data-testid=stCode] code").first.wait_for(timeout=120_000)
    row = page.locator(".bd-row", has=page.locator(".bd-name", has_text="signed-in.png"))
    assert row.locator(".bd-status").inner_text() == "Verified"
    link = page.locator("[data-testid=stCode] code").first.inner_text().strip()
    s3, bucket = bucket_client(Deployment("signin", signin_app.app, None, None, None), link)  # type: ignore[arg-type]
    key = unquote(link.split("?")[0].split(f"/{bucket}/", 1)[1])
    head = s3.head_object(Bucket=bucket, Key=key)
    assert unquote(head["Metadata"]["uploaded-by"]) == "ann@example.com"
    assert key.startswith(f"uploads/{user_segment('ann@example.com')}/")  # inside the rule's {user} prefix
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == photo.read_bytes()

    sign_out(page, signin_app)
    page.get_by_role("button", name="Sign in").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(SIDEBAR).count() == 0 or "Signed in as" not in page.locator(SIDEBAR).inner_text()
    # Signed out means signed out everywhere: the upload page is the sign-in screen too.
    page.goto(f"{signin_app.url}/upload")
    page.get_by_role("button", name="Sign in").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".bd-uploader").count() == 0


def test_an_email_the_provider_has_not_verified_is_not_the_identity(signin_app: SignInApp, page):
    signin_app.provider.set_user("mallory-7", email="boss@example.com", email_verified=False)
    sign_in(page, signin_app, "mallory-7")
    sidebar = page.locator(SIDEBAR).inner_text()
    assert "sub:mallory-7" in sidebar and "has not verified your e-mail address" in sidebar
    assert "boss@example.com" not in sidebar


def test_a_scoped_viewer_has_no_upload_page_and_no_way_out_of_their_folder(signin_app: SignInApp, page):
    signin_app.provider.set_user("vic-2", email="vic@example.com", email_verified=True, name="Vic")
    sign_in(page, signin_app, "vic-2")
    nav = page.locator("[data-testid=stSidebarNav]")
    nav.get_by_text("Browse", exact=True).wait_for(timeout=TIMEOUT_MS)  # st.navigation's list has arrived
    assert "upload" not in nav.inner_text().lower()
    # Their one folder opens directly (the URL follows the folder shown), never the bucket's top.
    page.goto(f"{signin_app.url}/browse")
    page.wait_for_url("**/browse?prefix=samples**", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Refresh").wait_for(timeout=TIMEOUT_MS)

    page.goto(f"{signin_app.url}/browse?prefix=uploads/")
    page.get_by_text("you may only browse").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Go to your folders").wait_for(timeout=TIMEOUT_MS)

    page.goto(f"{signin_app.url}/upload")
    page.locator(SIDEBAR, has_text="Signed in as").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".bd-uploader").count() == 0
