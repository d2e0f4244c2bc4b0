"""README and secrets.example.toml document every setting the code reads."""

from pathlib import Path

import pytest

from lib.config import _GLOBAL_PARSERS, _PROFILE_PARSERS, load_settings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_readme_row_with_its_environment_variable():
    readme = (ROOT / "README.md").read_text()
    for name in [*_PROFILE_PARSERS, *_GLOBAL_PARSERS]:
        assert f"`{name}`" in readme, name
        assert f"BUCKETDESK_{name.upper()}" in readme, name


def test_secrets_example_parses_and_mentions_every_setting():
    example = ROOT / ".streamlit" / "secrets.example.toml"
    settings = load_settings(env={}, secrets_paths=[example])
    assert settings.profile().bucket == "my-team-assets"
    text = example.read_text()
    for name in [*_PROFILE_PARSERS, *_GLOBAL_PARSERS]:
        assert name in text, name


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert (ROOT / "scripts" / "run.sh").exists() and (ROOT / "scripts" / "test.sh").exists()
