"""Fixtures for the browser tier: Debian's Chromium, and the real app behind a byte-counting proxy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lib.upload.cors import cors_rule
from tests.conftest import require_or_skip
from tests.support.app_server import CountingProxy, RunningApp, free_port, start_app
from tests.support.browser import chromium_path, launch_chromium
from tests.support.localstack import app_env, localstack_client
from tests.support.oidc import Provider, auth_secrets_toml, running_provider

UPLOAD_LIMIT = 16 * 1024 * 1024


@pytest.fixture(scope="session")
def browser():
    if not chromium_path():
        require_or_skip("Chromium", "apt-get install -y chromium (scripts/test.sh does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    yield page
    # Route handlers may still be fetching an in-flight upload: let them finish quietly before
    # closing, or their error surfaces in whichever test runs next.
    page.unroute_all(behavior="ignoreErrors")
    context.close()


@dataclass
class Deployment:
    """The app as a user reaches it (through the counting proxy), and the bucket behind it."""

    name: str
    app: RunningApp
    proxy: CountingProxy
    bucket: str | None  # None: the sandbox's, found from the links the app shows
    s3: object | None

    @property
    def url(self) -> str:
        return self.proxy.url


def _deploy(name: str, env: dict, bucket=None, s3=None, before_start=None) -> Iterator[Deployment]:
    # The proxy comes first: its URL is the origin the bucket's CORS rule must admit.
    proxy = CountingProxy(target_port=0)
    if before_start:
        before_start(proxy.url)
    app = start_app(env)
    proxy.target_port = app.port
    with proxy:
        yield Deployment(name, app, proxy, bucket, s3)
    app.stop()


@pytest.fixture(scope="module")
def sandbox_app() -> Iterator[Deployment]:
    yield from _deploy("sandbox", {"BUCKETDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)})


@pytest.fixture(scope="module")
def localstack_app(localstack) -> Iterator[Deployment]:
    yield from deploy_on_localstack(localstack)


def deploy_on_localstack(localstack, settings: dict[str, str] | None = None) -> Iterator[Deployment]:
    """The app on a fresh LocalStack bucket (CORS for the app's origin), with extra `settings` (env)."""
    s3 = localstack_client(localstack.endpoint_url)
    bucket = f"bd-browser-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    def allow(origin: str) -> None:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_rule([origin]))

    env = {
        **app_env(localstack.endpoint_url, bucket),
        "BUCKETDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        **(settings or {}),
    }
    yield from _deploy("localstack", env, bucket, s3, before_start=allow)


@pytest.fixture(params=["sandbox", "localstack"])
def deployment(request) -> Deployment:
    return request.getfixturevalue(f"{request.param}_app")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """A real OpenID Connect provider (oidc-provider-mock) on 127.0.0.1 and a free port."""
    with running_provider() as provider:
        yield provider


@dataclass
class SignInApp:
    """The app started with an `[auth]` section that signs in with the test provider (on the sandbox)."""

    app: RunningApp
    provider: Provider

    @property
    def url(self) -> str:
        # The host the redirect URI names, so the sign-in cookie belongs to the pages the browser opens.
        return f"http://localhost:{self.app.port}"


@pytest.fixture(scope="module")
def start_signin_app(oidc_provider):
    """start_signin_app(extra="") -> SignInApp; `extra` is appended to secrets.toml (e.g. access rules)."""
    started: list[RunningApp] = []

    def start(extra: str = "", env: dict[str, str] | None = None) -> SignInApp:
        port = free_port()
        app = start_app(
            {"BUCKETDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), **(env or {})},
            port=port,
            secrets_toml=auth_secrets_toml(oidc_provider, port, extra),
        )
        started.append(app)
        return SignInApp(app, oidc_provider)

    yield start
    for app in started:
        app.stop()
