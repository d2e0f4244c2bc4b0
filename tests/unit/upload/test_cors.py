"""lib.upload.cors: the CORS rule bucketdesk recommends gives the uploader all it needs, the
configuration review passes it, and README shows that same rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lib.audit.config_review import cors_problems
from lib.upload.cors import NEEDED_EXPOSED, NEEDED_HEADERS, NEEDED_METHODS, cors_rule

pytestmark = pytest.mark.unit
ORIGIN = "https://app.example.com"
README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_recommended_rule_lets_the_browser_post_put_and_read_the_etag():
    [rule] = cors_rule([ORIGIN])["CORSRules"]
    assert rule["AllowedOrigins"] == [ORIGIN]
    assert set(NEEDED_METHODS) == {"POST", "PUT"} and set(NEEDED_METHODS) <= set(rule["AllowedMethods"])
    assert NEEDED_EXPOSED == "ETag" and NEEDED_EXPOSED in rule["ExposeHeaders"]
    assert {"x-amz-checksum-sha256", "content-type"} == set(NEEDED_HEADERS)


def test_the_configuration_review_passes_the_recommended_rule_for_its_origin_only():
    rules = cors_rule([ORIGIN])["CORSRules"]
    assert cors_problems(rules, ORIGIN) == {}
    assert cors_problems(rules, "https://elsewhere.example.com") is None


def test_readme_shows_the_recommended_rule():
    shown = re.search(r"```json\n(\[\s*\{\s*\"AllowedOrigins\".*?\])\n```", README.read_text(), re.DOTALL)
    assert shown, "README's CORS rule (a ```json block) is gone"
    rules = json.loads(shown.group(1))
    assert rules == cors_rule(rules[0]["AllowedOrigins"])["CORSRules"]
