"""A real OpenID Connect provider for tests, and the `[auth]` section that points the app at it.

The provider is PyPI's `oidc-provider-mock` (Authlib underneath: discovery, authorization code flow,
signed ID tokens, end-session). It accepts any client id and secret, and its authorization page is a
form with a `sub` field and an Authorize button; the claims of each subject are set beforehand:

    with running_provider() as provider:
        provider.set_user("ann", email="ann@example.com", email_verified=True, groups=["design"])
        app = start_app(port=port, secrets_toml=auth_secrets_toml(provider, port, extra=RULES))
        # in the browser: Sign in -> fill `sub` with "ann" -> Authorize -> back in the app as ann

`extra` is appended to the generated secrets.toml as written, e.g. `[[bucketdesk.access]]` rules.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests
import werkzeug.serving

CLIENT_ID = "bucketdesk-tests"
CLIENT_SECRET = "not-a-secret"  # the mock provider accepts any secret; Streamlit requires one


@dataclass(frozen=True)
class Provider:
    url: str  # http://127.0.0.1:<port>: the issuer, as the app server and the browser both reach it

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def set_user(self, sub: str, **claims: object) -> None:
        """The claims the provider puts into `sub`'s ID token (non-standard ones such as `groups` too)."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        response.raise_for_status()


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider on 127.0.0.1 and a free port, in a thread, for as long as the context lasts.

    `oidc_provider_mock.run_server_in_thread()` listens on "localhost", which may resolve to ::1
    first; the public `app()` served by werkzeug here listens on 127.0.0.1 exactly."""
    import oidc_provider_mock

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        provider = Provider(url=f"http://127.0.0.1:{server.server_port}")
        requests.get(provider.metadata_url, timeout=10).raise_for_status()
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def auth_secrets_toml(provider: Provider, app_port: int, extra: str = "") -> str:
    """A secrets.toml whose `[auth]` signs in with `provider`, for an app served on `app_port`.

    The redirect URI names localhost (a secure context for the browser, and the host the sign-in
    cookie is set for): the browser must open the app at http://localhost:<app_port> too."""
    auth = "\n".join(
        [
            "[auth]",
            f'redirect_uri = "http://localhost:{app_port}/oauth2callback"',
            f'cookie_secret = "{secrets.token_hex(32)}"',
            f'client_id = "{CLIENT_ID}"',
            f'client_secret = "{CLIENT_SECRET}"',
            f'server_metadata_url = "{provider.metadata_url}"',
        ]
    )
    return f"{auth}\n\n{extra}\n" if extra else auth + "\n"
