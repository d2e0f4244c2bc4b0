"""Fixtures shared by the tiers: servers that are slow to start run once per test session."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from lib.browse.search import PREPARING_THREAD
from tests.support.localstack import LocalStack, LocalStackUnavailable, start_localstack
from tests.support.seaweedfs import SeaweedFS, SeaweedUnavailable, start_seaweedfs

TIERS = ("unit", "app", "enforce", "browser")


def pytest_collection_modifyitems(config, items):
    """scripts/test.sh runs tier by tier, so a test without a tier marker would never run in CI."""
    untiered = [item.nodeid for item in items if not any(item.get_closest_marker(tier) for tier in TIERS)]
    if untiered:
        raise pytest.UsageError("tests without a tier marker (" + ", ".join(TIERS) + "): " + ", ".join(untiered))


def pytest_sessionfinish(session, exitstatus):
    """Let background search-database builds finish: DuckDB inside a daemon thread at interpreter exit
    aborts the process ("FATAL: exception not rethrown"), which would turn a green tier red."""
    for thread in threading.enumerate():
        if thread.name == PREPARING_THREAD:
            thread.join(120)


def require_or_skip(what: str, reason: str) -> None:
    """In CI (BUCKETDESK_REQUIRE_ALL_TIERS=1) a missing tool fails the run; elsewhere the test skips."""
    if os.environ.get("BUCKETDESK_REQUIRE_ALL_TIERS") == "1":
        pytest.fail(f"BUCKETDESK_REQUIRE_ALL_TIERS=1 but {what} is missing: {reason}", pytrace=False)
    pytest.skip(f"{what} is not installed: {reason}")


def _session_server(request: pytest.FixtureRequest, what: str, start, unavailable: type[Exception]):
    """Start a server once for the session; keep its log when anything failed, and say where."""
    try:
        server = start()
    except unavailable as exc:
        require_or_skip(what, str(exc))
    yield server
    failed = request.session.testsfailed > 0
    server.stop(keep_log=failed)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if failed and reporter is not None:
        reporter.write_line(f"{what} log kept for the failures above: {server.log_path}")


@pytest.fixture(scope="session")
def localstack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    yield from _session_server(request, "LocalStack", start_localstack, LocalStackUnavailable)


@pytest.fixture(scope="session")
def seaweed(request: pytest.FixtureRequest) -> Iterator[SeaweedFS]:
    """SeaweedFS verifies POST policy signatures, which LocalStack 4.9.2 does not."""
    yield from _session_server(request, "SeaweedFS", start_seaweedfs, SeaweedUnavailable)
