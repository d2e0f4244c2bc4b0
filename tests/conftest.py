"""Fixtures shared by the tiers: servers that are slow to start run once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.localstack import LocalStack, LocalStackUnavailable, start_localstack
from tests.support.seaweedfs import SeaweedFS, SeaweedUnavailable, start_seaweedfs

TIERS = ("unit", "app", "enforce", "browser")


def pytest_collection_modifyitems(config, items):
    """scripts/test.sh runs tier by tier, so a test without a tier marker would never run in CI."""
    untiered = [item.nodeid for item in items if not any(item.get_closest_marker(tier) for tier in TIERS)]
    if untiered:
        raise pytest.UsageError("tests without a tier marker (" + ", ".join(TIERS) + "): " + ", ".join(untiered))


def require_or_skip(what: str, reason: str) -> None:
    """In CI (BUCKETDESK_REQUIRE_ALL_TIERS=1) a missing tool fails the run; elsewhere the test skips."""
    if os.environ.get("BUCKETDESK_REQUIRE_ALL_TIERS") == "1":
        pytest.fail(f"BUCKETDESK_REQUIRE_ALL_TIERS=1 but {what} is missing: {reason}", pytrace=False)
    pytest.skip(f"{what} is not installed: {reason}")


@pytest.fixture(scope="session")
def localstack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    try:
        stack = start_localstack()
    except LocalStackUnavailable as exc:
        require_or_skip("LocalStack", str(exc))
    yield stack
    failed = request.session.testsfailed > 0
    stack.stop(keep_log=failed)
    if failed:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"LocalStack log kept for the failures above: {stack.log_path}")


@pytest.fixture(scope="session")
def seaweed(request: pytest.FixtureRequest) -> Iterator[SeaweedFS]:
    try:
        sw = start_seaweedfs()
    except SeaweedUnavailable as exc:
        require_or_skip("SeaweedFS", str(exc))
    yield sw
    failed = request.session.testsfailed > 0
    sw.stop(keep_log=failed)
    if failed:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"SeaweedFS log kept for the failures above: {sw.log_path}")
