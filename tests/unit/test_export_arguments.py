"""Sizes, times and storage classes as people type them; the export settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.config import DEFAULT_EXPORT_PREFIX, load_settings
from lib.errors import ConfigError
from lib.export.arguments import parse_moment, parse_size, parse_storage_classes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1500", 1500),
        ("10MB", 10_000_000),
        ("10 mb", 10_000_000),
        ("1GiB", 2**30),
        ("2.5GB", 2_500_000_000),
        ("5TiB", 5 * 2**40),
    ],
)
def test_sizes_accept_decimal_and_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "big", "10 parsecs", "-5", "1,000"])
def test_sizes_refuse_what_is_not_a_size(text):
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


def test_times_are_utc_and_a_bare_until_date_includes_that_whole_day():
    assert parse_moment("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_moment("2024-05-01", end_of_day=True) == datetime(2024, 5, 2, tzinfo=UTC)
    assert parse_moment("2024-05-01T12:30") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_moment("2024-05-01T12:30:00+02:00") == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert parse_moment("2024-05-01T12:30:00Z") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date or time"):
        parse_moment("2024-13-01")


def test_storage_classes_are_upper_cased_split_and_checked():
    assert parse_storage_classes(["standard", "glacier,DEEP_ARCHIVE", "GLACIER"]) == (
        "STANDARD",
        "GLACIER",
        "DEEP_ARCHIVE",
    )
    with pytest.raises(ValueError, match="not a storage class"):
        parse_storage_classes(["cold storage"])


def test_export_settings_have_defaults_and_are_checked():
    settings = load_settings(env={"BUCKETDESK_BUCKET": "b"}, secrets_paths=[])
    assert settings.export_download_max_bytes == 50 * 2**20
    assert settings.profile().export_prefix == DEFAULT_EXPORT_PREFIX == "exports/{user}/"
    custom = load_settings(
        env={
            "BUCKETDESK_BUCKET": "b",
            "BUCKETDESK_EXPORT_PREFIX": "/reports/{user}",
            "BUCKETDESK_EXPORT_DOWNLOAD_MAX_BYTES": "1000",
        },
        secrets_paths=[],
    )
    assert custom.profile().export_prefix == "reports/{user}/" and custom.export_download_max_bytes == 1000
    with pytest.raises(ConfigError) as raised:
        load_settings(
            env={
                "BUCKETDESK_BUCKET": "b",
                "BUCKETDESK_EXPORT_PREFIX": "exports/{uuid}/",
                "BUCKETDESK_EXPORT_DOWNLOAD_MAX_BYTES": "0",
            },
            secrets_paths=[],
        )
    assert any("BUCKETDESK_EXPORT_PREFIX: the only placeholder is {user}" in p for p in raised.value.problems)
    assert any("BUCKETDESK_EXPORT_DOWNLOAD_MAX_BYTES: must be greater than 0" in p for p in raised.value.problems)
