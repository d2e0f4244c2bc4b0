import pytest
from streamlit.testing.v1 import AppTest

BUCKETDESK_ENV = "BUCKETDESK_"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No bucket configured (so the sandbox runs) and no real AWS settings leaking in."""
    for name in list(__import__("os").environ):
        if name.startswith((BUCKETDESK_ENV, "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BUCKETDESK_AUDIT_LOG_PATH", str(tmp_path / "audit.jsonl"))
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml from the checkout
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def app(request) -> AppTest:
    at = AppTest.from_file(str(request.config.rootpath / "streamlit_app.py"), default_timeout=60)
    return at
