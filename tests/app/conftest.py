import pytest
from streamlit.testing.v1 import AppTest

BUCKETDESK_ENV = "BUCKETDESK_"
# A complete [auth] section (the provider is never contacted: AppTest sets st.user directly).
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "c" * 40,
    "client_id": "bucketdesk",
    "client_secret": "shh",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No bucket configured (so the sandbox runs) and no real AWS settings leaking in."""
    for name in list(__import__("os").environ):
        if name.startswith((BUCKETDESK_ENV, "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BUCKETDESK_AUDIT_LOG_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("BUCKETDESK_DATABASE_PATH", str(tmp_path / "bucketdesk.db"))
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml from the checkout
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def app_test(request):
    """AppTest of the whole app (streamlit_app.py), opened on the page given: app_test("pages/upload.py")."""

    def open_page(page: str) -> AppTest:
        at = AppTest.from_file(str(request.config.rootpath / "streamlit_app.py"), default_timeout=60)
        at.switch_page(page)
        return at

    return open_page


@pytest.fixture
def app(app_test) -> AppTest:
    """The upload page."""
    return app_test("pages/upload.py")


def recorded(tmp_path, **where) -> list[dict]:
    """The audit events the app stored in this test's database, oldest first, as plain dicts."""
    from lib.events import EventFilter, EventStore

    events = EventStore(tmp_path / "bucketdesk.db").page(EventFilter(**where), limit=1000).events
    return [{"action": e.action, "key": e.key, "outcome": e.outcome, "details": e.details} for e in reversed(events)]
