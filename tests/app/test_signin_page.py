"""Sign-in as the whole app shows it: the sign-in screen, who you are, and a broken [auth] as sentences."""

from __future__ import annotations

import pytest

from tests.app.conftest import AUTH
from tests.support.markdown import as_read

pytestmark = pytest.mark.app


def sidebar_text(at) -> str:
    """The sidebar's captions as a reader sees them (without the backslashes that keep names literal)."""
    return "\n".join(element.value for element in at.sidebar.get("caption")).replace("\\", "")


def test_without_auth_the_sidebar_says_everyone_acts_as_the_local_user(app_test):
    at = app_test("pages/home.py")
    at.run()
    assert not at.exception
    text = sidebar_text(at)
    assert "No sign-in is configured" in text and "Everyone who reaches this app acts as" in text
    assert not [b for b in at.sidebar.button if b.label == "Sign out"]


def test_with_auth_nobody_signed_in_sees_only_the_sign_in_screen(app_test):
    at = app_test("pages/upload.py")
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert "bucketdesk" not in at.session_state  # no desk, so no page, for nobody


def test_a_signed_in_user_is_named_in_the_sidebar_with_groups_and_can_sign_out(app_test):
    at = app_test("pages/home.py")
    at.secrets["auth"] = AUTH
    at.user = {
        "is_logged_in": True,
        "sub": "u-1",
        "email": "Ann@Example.com",
        "email_verified": True,
        "name": "Ann",
        "groups": "design storage-admins",
    }
    at.run()
    assert not at.exception
    text = sidebar_text(at)
    assert "Signed in as **Ann**" in text and "ann@example.com" in text
    assert "Groups: design, storage-admins" in text
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert at.session_state["bucketdesk"].identity.id == "ann@example.com"


def test_an_unverified_email_is_not_the_identity_and_the_sidebar_says_why(app_test):
    at = app_test("pages/home.py")
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "sub": "u-2", "email": "boss@example.com", "email_verified": False}
    at.run()
    assert not at.exception
    assert at.session_state["bucketdesk"].identity.id == "sub:u-2"
    assert "has not verified your e-mail address" in sidebar_text(at)


def test_an_incomplete_auth_section_is_reported_by_setting_name_not_a_crash(app_test):
    at = app_test("pages/home.py")
    at.secrets["auth"] = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"]}
    at.run()
    assert not at.exception
    (error,) = at.error
    for name in ("auth.client_id", "auth.client_secret", "auth.server_metadata_url"):
        assert f"{name}: missing" in as_read(error.value)
    assert not at.button  # no Sign in button that would only fail later
