"""Sign-in settings: Streamlit's `[auth]` section of secrets.toml, checked before anyone presses Sign in.

Streamlit only checks `[auth]` when `st.login` runs, and then raises an exception at the user. The
app checks it at start-up instead, with the other settings, and names each missing or weak setting.

Two forms are accepted, as Streamlit does: one provider written straight into `[auth]`, or one or
more named providers in `[auth.<name>]` tables (each gets its own Sign in button).

Without `[auth]` there is no sign-in: everyone who reaches the app acts as the server's OS user, so
`scripts/run.sh` then binds to 127.0.0.1 unless the operator asks for another address
(`python -m lib.signin bind-args ARGS...` prints the arguments it adds).
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.config import default_secrets_paths
from lib.errors import ConfigError

DEFAULT_PROVIDER = "default"  # Streamlit's name for the provider written straight into [auth]
SHARED_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
# Tables inside [auth] or a provider that are options, not providers.
OPTION_TABLES = {"client_kwargs"}
# The cookie secret signs the identity cookie: a short one can be guessed, and then anyone can be anyone.
MIN_COOKIE_SECRET_CHARS = 32
CALLBACK_PATH = "/oauth2callback"
LOCAL_ADDRESS = "127.0.0.1"
BIND_ADDRESS_ENV = "BUCKETDESK_SERVER_ADDRESS"
_SECRET_HINT = 'python -c "import secrets; print(secrets.token_hex(32))"'


@dataclass(frozen=True)
class SignIn:
    """Sign-in is configured; `providers` are the names to pass to `st.login`, in file order."""

    providers: tuple[str, ...]

    def label(self, provider: str) -> str:
        return "Sign in" if provider == DEFAULT_PROVIDER else f"Sign in with {provider}"


def sign_in_from(auth: Mapping[str, Any] | None) -> SignIn | None:
    """The sign-in in an `[auth]` section; None without one; ConfigError naming every problem."""
    if auth is None:
        return None
    if not isinstance(auth, Mapping):
        raise ConfigError(["auth: must be a table ([auth] in secrets.toml)."])
    problems = _shared_problems(auth)
    named = [name for name, value in auth.items() if isinstance(value, Mapping) and name not in OPTION_TABLES]
    inline = any(key in auth for key in PROVIDER_KEYS)
    providers: list[str] = []
    if inline or not named:
        problems.extend(_provider_problems(auth, "auth"))
        providers.append(DEFAULT_PROVIDER)
    for name in named:
        if "_" in name:
            problems.append(f"auth.{name}: provider names cannot contain '_' (Streamlit refuses them); use '-'.")
        problems.extend(_provider_problems(auth[name], f"auth.{name}"))
        providers.append(name)
    if problems:
        raise ConfigError(problems)
    return SignIn(providers=tuple(providers))


def _shared_problems(auth: Mapping[str, Any]) -> list[str]:
    problems = [f"auth.{key}: missing; {_why(key)}" for key in SHARED_KEYS if not str(auth.get(key) or "").strip()]
    redirect = str(auth.get("redirect_uri") or "").strip()
    if redirect and (not redirect.startswith(("http://", "https://")) or not redirect.endswith(CALLBACK_PATH)):
        problems.append(
            f"auth.redirect_uri: must be the app's address followed by {CALLBACK_PATH}, "
            f"e.g. https://bucketdesk.example.com{CALLBACK_PATH} (got {redirect[:80]!r})."
        )
    secret = str(auth.get("cookie_secret") or "").strip()
    if secret and len(secret) < MIN_COOKIE_SECRET_CHARS:
        problems.append(
            f"auth.cookie_secret: {len(secret)} characters is too short to keep sign-in cookies from being "
            f"forged; use at least {MIN_COOKIE_SECRET_CHARS} random ones, e.g. from {_SECRET_HINT}."
        )
    return problems


def _provider_problems(provider: Mapping[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{key}: missing; {_why(key)}" for key in PROVIDER_KEYS if not str(provider.get(key) or "").strip()
    ]
    metadata = str(provider.get("server_metadata_url") or "").strip()
    if metadata and not metadata.startswith(("http://", "https://")):
        problems.append(
            f"{where}.server_metadata_url: must be the provider's discovery URL, ending in "
            f"/.well-known/openid-configuration (got {metadata[:80]!r})."
        )
    return problems


def _why(key: str) -> str:
    return {
        "redirect_uri": f"set it to the app's address followed by {CALLBACK_PATH}, and register it with the provider.",
        "cookie_secret": f"set a long random string, e.g. from {_SECRET_HINT}.",
        "client_id": "copy it from the app registration at your identity provider.",
        "client_secret": "copy it from the app registration at your identity provider.",
        "server_metadata_url": "the provider's discovery URL, ending in /.well-known/openid-configuration.",
    }[key]


# --- scripts/run.sh: where to listen -------------------------------------------------------------


def auth_configured(secrets_paths: Sequence[Path]) -> bool:
    """Whether any of the secrets files Streamlit reads has an `[auth]` section."""
    for path in secrets_paths:
        if not path.is_file():
            continue
        try:
            if "auth" in tomllib.loads(path.read_text(encoding="utf-8")):
                return True
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue  # the app reports the broken file at start-up; here it simply has no [auth]
    return False


def bind_args(
    argv: Sequence[str], env: Mapping[str, str], secrets_paths: Sequence[Path], config_paths: Sequence[Path]
) -> list[str]:
    """The `streamlit run` arguments to add so that an app without sign-in serves only this machine.

    The operator's own choice always wins: `--server.address`, STREAMLIT_SERVER_ADDRESS,
    `server.address` in a config.toml, or BUCKETDESK_SERVER_ADDRESS (which works with or without
    `[auth]`). With `[auth]` nothing is added: Streamlit serves as configured."""
    if any(arg == "--server.address" or arg.startswith("--server.address=") for arg in argv):
        return []
    if env.get("STREAMLIT_SERVER_ADDRESS", "").strip() or _config_sets_address(config_paths):
        return []
    chosen = env.get(BIND_ADDRESS_ENV, "").strip()
    if chosen:
        return ["--server.address", chosen]
    if auth_configured(secrets_paths):
        return []
    return ["--server.address", LOCAL_ADDRESS]


def _config_sets_address(config_paths: Sequence[Path]) -> bool:
    for path in config_paths:
        if not path.is_file():
            continue
        try:
            server = tomllib.loads(path.read_text(encoding="utf-8")).get("server", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if isinstance(server, dict) and str(server.get("address") or "").strip():
            return True
    return False


def _main(argv: list[str]) -> int:
    if not argv or argv[0] != "bind-args":
        print("usage: python -m lib.signin bind-args [streamlit run arguments...]", file=sys.stderr)
        return 2
    configs = [path.with_name("config.toml") for path in default_secrets_paths()]
    added = bind_args(argv[1:], os.environ, default_secrets_paths(), configs)
    if added == ["--server.address", LOCAL_ADDRESS]:
        print(
            "No [auth] section: sign-in is off and everyone who reaches the app acts as you, so it serves "
            f"{LOCAL_ADDRESS} only. Set {BIND_ADDRESS_ENV} (or pass --server.address) to serve other machines.",
            file=sys.stderr,
        )
    print(" ".join(added))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
