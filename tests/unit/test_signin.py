"""lib.signin: a configured [auth] is checked at start-up, and without it the app serves this machine only."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.signin import DEFAULT_PROVIDER, bind_args, sign_in_from

pytestmark = pytest.mark.unit
SECRET = "s" * 40
COMPLETE = {
    "redirect_uri": "https://bucketdesk.example.com/oauth2callback",
    "cookie_secret": SECRET,
    "client_id": "bucketdesk",
    "client_secret": "shh",
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}


def problems_of(auth) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        sign_in_from(auth)
    return caught.value.problems


def test_no_auth_section_means_no_sign_in():
    assert sign_in_from(None) is None


def test_a_complete_auth_section_signs_in_with_the_default_provider():
    sign_in = sign_in_from(COMPLETE)
    assert sign_in.providers == (DEFAULT_PROVIDER,) and sign_in.label(DEFAULT_PROVIDER) == "Sign in"


@pytest.mark.parametrize(
    "missing", ["client_id", "client_secret", "server_metadata_url", "redirect_uri", "cookie_secret"]
)
def test_each_missing_setting_is_named(missing):
    auth = {k: v for k, v in COMPLETE.items() if k != missing}
    problems = problems_of(auth)
    assert len(problems) == 1 and problems[0].startswith(f"auth.{missing}: missing")


def test_every_problem_is_reported_at_once():
    problems = problems_of({"client_id": "x"})
    assert [p.split(":")[0] for p in problems] == [
        "auth.redirect_uri",
        "auth.cookie_secret",
        "auth.client_secret",
        "auth.server_metadata_url",
    ]


def test_an_empty_auth_section_names_what_it_needs():
    assert len(problems_of({})) == 5


def test_a_short_cookie_secret_is_refused_because_it_would_let_cookies_be_forged():
    (problem,) = problems_of({**COMPLETE, "cookie_secret": "xxx"})
    assert problem.startswith("auth.cookie_secret: 3 characters is too short")


@pytest.mark.parametrize("uri", ["https://bucketdesk.example.com/", "bucketdesk.example.com/oauth2callback"])
def test_a_redirect_uri_must_be_the_apps_callback(uri):
    (problem,) = problems_of({**COMPLETE, "redirect_uri": uri})
    assert problem.startswith("auth.redirect_uri: must be the app's address followed by /oauth2callback")


def test_named_providers_each_get_a_button_and_their_own_checks():
    provider = {k: COMPLETE[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    shared = {"redirect_uri": COMPLETE["redirect_uri"], "cookie_secret": SECRET}
    sign_in = sign_in_from({**shared, "google": provider, "okta": {**provider, "client_kwargs": {"prompt": "login"}}})
    assert sign_in.providers == ("google", "okta") and sign_in.label("okta") == "Sign in with okta"

    problems = problems_of({**shared, "google": provider, "entra_id": {"client_id": "x"}})
    assert problems[0].startswith("auth.entra_id: provider names cannot contain '_'")
    assert {p.split(":")[0] for p in problems[1:]} == {
        "auth.entra_id.client_secret",
        "auth.entra_id.server_metadata_url",
    }


def test_client_kwargs_is_an_option_not_a_provider():
    assert sign_in_from({**COMPLETE, "client_kwargs": {"prompt": "login"}}).providers == (DEFAULT_PROVIDER,)


# --- where scripts/run.sh serves -------------------------------------------------------------------


@pytest.fixture
def with_auth(tmp_path) -> list[Path]:
    path = tmp_path / "secrets.toml"
    path.write_text('[auth]\nredirect_uri = "https://x.example.com/oauth2callback"\n')
    return [path]


@pytest.fixture
def without_auth(tmp_path) -> list[Path]:
    path = tmp_path / "plain.toml"
    path.write_text('[bucketdesk]\naudit_log_path = "a.jsonl"\n')
    return [path, tmp_path / "absent.toml"]


def test_without_auth_the_app_serves_this_machine_only(without_auth):
    assert bind_args([], {}, without_auth, []) == ["--server.address", "127.0.0.1"]


def test_with_auth_the_app_serves_as_streamlit_is_configured(with_auth):
    assert bind_args([], {}, with_auth, []) == []


@pytest.mark.parametrize("argv", [["--server.address", "0.0.0.0"], ["--server.address=0.0.0.0"]])
def test_an_address_on_the_command_line_wins(argv, without_auth):
    assert bind_args(argv, {}, without_auth, []) == []


def test_bucketdesk_server_address_wins_with_or_without_auth(without_auth, with_auth):
    env = {"BUCKETDESK_SERVER_ADDRESS": "0.0.0.0"}
    assert bind_args([], env, without_auth, []) == ["--server.address", "0.0.0.0"]
    assert bind_args([], env, with_auth, []) == ["--server.address", "0.0.0.0"]


def test_streamlits_own_address_settings_win(tmp_path, without_auth):
    assert bind_args([], {"STREAMLIT_SERVER_ADDRESS": "10.0.0.5"}, without_auth, []) == []
    config = tmp_path / "config.toml"
    config.write_text('[server]\naddress = "10.0.0.5"\n')
    assert bind_args([], {}, without_auth, [config]) == []
    config.write_text("[server]\nmaxUploadSize = 1\n")
    assert bind_args([], {}, without_auth, [config]) == ["--server.address", "127.0.0.1"]


def test_a_broken_secrets_file_counts_as_no_sign_in(tmp_path):
    broken = tmp_path / "secrets.toml"
    broken.write_text("[auth\n")
    assert bind_args([], {}, [broken], []) == ["--server.address", "127.0.0.1"]
