"""lib.config: settings from BUCKETDESK_* and secrets.toml; every mistake reported at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lib.config import (
    DEFAULT_ALLOWED_TYPES,
    DEFAULT_KEY_TEMPLATE,
    POST_UPLOAD_LIMIT,
    SANDBOX_PROFILE,
    BucketProfile,
    load_settings,
    with_sandbox,
)
from lib.errors import BucketdeskError, ConfigError

pytestmark = pytest.mark.unit


@pytest.fixture
def toml(tmp_path):
    """Write a secrets.toml (dedented) and return its path."""
    counter = iter(range(1000))

    def write(text: str) -> Path:
        path = tmp_path / f"secrets-{next(counter)}.toml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def load(env=None, *paths: Path):
    return load_settings(env=env or {}, secrets_paths=list(paths))


def problems_of(env=None, *paths: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(env, *paths)
    return caught.value.problems


def test_env_alone_configures_one_bucket():
    settings = load(
        {
            "BUCKETDESK_BUCKET": "team-assets",
            "BUCKETDESK_MAX_UPLOAD_BYTES": "1_048_576",
            "BUCKETDESK_ALLOWED_TYPES": "image/png, Application/PDF ,",
            "BUCKETDESK_UPLOAD_PREFIX": "/team/{uuid}/{safe_name}",
            "BUCKETDESK_POLICY_EXPIRY_SECONDS": " 60 ",
            "BUCKETDESK_PUBLIC_ENDPOINT_URL": "https://files.example.com/",
        }
    )
    assert not settings.needs_sandbox
    profile = settings.profile()
    assert profile.bucket == "team-assets"
    assert profile.max_upload_bytes == 1_048_576
    assert profile.allowed_types == ("image/png", "application/pdf")
    assert profile.upload_prefix == "team/{uuid}/{safe_name}"
    assert profile.policy_expiry_seconds == 60
    assert profile.public_endpoint_url == "https://files.example.com"
    assert settings.sandbox_overrides == {}


def test_env_only_bucket_gets_documented_defaults():
    profile = load({"BUCKETDESK_BUCKET": "b"}).profile()
    assert profile.max_upload_bytes == POST_UPLOAD_LIMIT
    assert profile.allowed_types == DEFAULT_ALLOWED_TYPES
    assert profile.upload_prefix == DEFAULT_KEY_TEMPLATE
    assert profile.on_verify_failure == "quarantine"


def test_no_keys_are_ever_required():
    profile = load({"BUCKETDESK_BUCKET": "b"}).profile()
    assert profile.access_key_id is None and profile.secret_access_key is None
    assert profile.aws_profile is None and profile.endpoint_url is None and profile.region is None


def test_empty_env_values_are_ignored():
    settings = load({"BUCKETDESK_BUCKET": "b", "BUCKETDESK_MAX_UPLOAD_BYTES": "  "})
    assert settings.profile().max_upload_bytes == POST_UPLOAD_LIMIT


def test_several_profiles_from_toml_with_a_default(toml):
    path = toml(
        """
        [bucketdesk]
        default_profile = "media"
        upload_concurrency = 5

        [bucketdesk.profiles.raw]
        bucket = "raw-data"
        allowed_types = ["text/csv", "application/json"]

        [bucketdesk.profiles.media]
        bucket = "media-assets"
        label = "Marketing media"
        max_upload_bytes = 10_000_000
        region = "eu-west-1"
        """
    )
    settings = load({}, path)
    assert set(settings.profiles) == {"raw", "media"}
    assert settings.default_profile == "media"
    assert settings.profile().bucket == "media-assets"
    assert settings.profile().display_name == "Marketing media"
    assert settings.profile("raw").allowed_types == ("text/csv", "application/json")
    assert settings.profile("raw").display_name == "raw-data"
    assert settings.upload_concurrency == 5


def test_first_profile_is_the_default_when_none_is_named(toml):
    path = toml(
        """
        [bucketdesk.profiles.first]
        bucket = "one"
        [bucketdesk.profiles.second]
        bucket = "two"
        """
    )
    assert load({}, path).default_profile == "first"


def test_env_overrides_only_the_default_profile(toml):
    path = toml(
        """
        [bucketdesk]
        default_profile = "b"
        [bucketdesk.profiles.a]
        bucket = "bucket-a"
        max_upload_bytes = 111
        [bucketdesk.profiles.b]
        bucket = "bucket-b"
        max_upload_bytes = 222
        """
    )
    settings = load({"BUCKETDESK_MAX_UPLOAD_BYTES": "333", "BUCKETDESK_BUCKET": "bucket-b2"}, path)
    assert settings.profile("b").max_upload_bytes == 333
    assert settings.profile("b").bucket == "bucket-b2"
    assert settings.profile("a").max_upload_bytes == 111
    assert settings.profile("a").bucket == "bucket-a"


def test_later_secrets_file_wins_setting_by_setting(toml):
    user = toml(
        """
        [bucketdesk.profiles.main]
        bucket = "from-user-file"
        label = "User label"
        """
    )
    project = toml(
        """
        [bucketdesk.profiles.main]
        bucket = "from-project-file"
        """
    )
    profile = load({}, user, project).profile()
    assert profile.bucket == "from-project-file"
    assert profile.label == "User label"


def test_missing_secrets_file_is_not_an_error(tmp_path):
    settings = load({"BUCKETDESK_BUCKET": "b"}, tmp_path / "absent.toml")
    assert settings.profile().bucket == "b"


def test_no_bucket_anywhere_needs_the_sandbox():
    settings = load({})
    assert settings.needs_sandbox
    assert settings.profiles == {}
    assert settings.default_profile == SANDBOX_PROFILE


def test_without_a_bucket_env_limits_shape_the_sandbox():
    settings = load({"BUCKETDESK_MAX_UPLOAD_BYTES": "2048", "BUCKETDESK_ALLOWED_TYPES": "image/*"})
    assert settings.needs_sandbox
    assert settings.sandbox_overrides == {"max_upload_bytes": 2048, "allowed_types": ("image/*",)}

    sandbox = BucketProfile(name=SANDBOX_PROFILE, bucket="bucketdesk-demo", sandbox=True, max_upload_bytes=100)
    applied = with_sandbox(settings, sandbox)
    assert list(applied.profiles) == [SANDBOX_PROFILE]
    assert applied.default_profile == SANDBOX_PROFILE
    assert applied.profile().max_upload_bytes == 2048
    assert applied.profile().allowed_types == ("image/*",)
    assert applied.profile().bucket == "bucketdesk-demo" and applied.profile().sandbox
    assert not applied.needs_sandbox


@pytest.mark.parametrize(
    "env_name, value",
    [
        ("BUCKETDESK_ENDPOINT_URL", "http://localhost:4566"),
        ("BUCKETDESK_ADDRESSING_STYLE", "virtual"),
        ("BUCKETDESK_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("BUCKETDESK_REGION", "eu-west-1"),
    ],
)
def test_connection_settings_without_a_bucket_never_redirect_the_sandbox(env_name, value):
    # Replacing the sandbox's own endpoint, addressing or keys would break it; the operator most
    # likely forgot BUCKETDESK_BUCKET, so say so.
    problems = problems_of({env_name: value, "BUCKETDESK_MAX_UPLOAD_BYTES": "2048"})
    assert len(problems) == 1 and problems[0].startswith(env_name) and "BUCKETDESK_BUCKET" in problems[0], problems


def test_global_settings_come_from_env_too(tmp_path):
    settings = load({"BUCKETDESK_AUDIT_LOG_PATH": str(tmp_path / "a.jsonl"), "BUCKETDESK_UPLOAD_CONCURRENCY": "7"})
    assert settings.audit_log_path == tmp_path / "a.jsonl"
    assert settings.upload_concurrency == 7


def test_many_mistakes_are_reported_in_one_error_naming_each_setting(toml):
    broken = toml("[bucketdesk\nbucket = ")
    path = toml(
        """
        [bucketdesk]
        default_profile = "nope"
        colour = "blue"

        [bucketdesk.profiles.a]
        bucket = "bucket-a"
        max_upload_bytes = "lots"
        allowed_types = ["image/*", "pdf"]
        upload_prefix = "uploads/{safe_name}"
        access_key_id = "AKIAEXAMPLE"
        typo_setting = 1

        [bucketdesk.profiles.b]
        label = "no bucket here"
        """
    )
    env = {"BUCKETDESK_POLICY_EXPIRY_SECONDS": "soon"}
    with pytest.raises(ConfigError) as caught:
        load(env, broken, path)
    error = caught.value
    expected = {
        "invalid TOML": f"{broken}: not valid TOML",
        "unknown global setting": "bucketdesk.colour",
        "bad number": "bucketdesk.profiles.a.max_upload_bytes",
        "bad MIME pattern": "bucketdesk.profiles.a.allowed_types",
        "template without {uuid}": "bucketdesk.profiles.a.upload_prefix",
        "unknown profile setting": "bucketdesk.profiles.a.typo_setting",
        "key without secret": "bucketdesk.profiles.a.access_key_id",
        "profile without bucket": "bucketdesk.profiles.b.bucket",
        "unknown default_profile": "bucketdesk.default_profile",
        "bad env number": "BUCKETDESK_POLICY_EXPIRY_SECONDS",
    }
    for what, where in expected.items():
        assert any(problem.startswith(where) for problem in error.problems), (
            f"{what} ({where}) not reported: {error.problems}"
        )
    assert len(error.problems) == len(expected), error.problems
    assert isinstance(error, BucketdeskError) and error.hint
    for problem in error.problems:
        assert f"- {problem}" in error.message


def test_problem_says_what_was_wrong_and_what_was_given(toml):
    path = toml(
        """
        [bucketdesk.profiles.a]
        bucket = "a"
        allowed_types = "image/*, pdf"
        upload_prefix = "u/{safe_name}"
        """
    )
    problems = problems_of({}, path)
    types = next(p for p in problems if ".allowed_types" in p)
    assert "'pdf'" in types and "MIME pattern" in types
    template = next(p for p in problems if ".upload_prefix" in p)
    assert "{uuid}" in template


def test_default_profile_typo_is_named_even_when_env_settings_exist(toml):
    path = toml(
        """
        [bucketdesk]
        default_profile = "prdo"
        [bucketdesk.profiles.prod]
        bucket = "prod-bucket"
        """
    )
    problems = problems_of({"BUCKETDESK_MAX_UPLOAD_BYTES": "1000"}, path)
    assert any(p.startswith("bucketdesk.default_profile") and "prdo" in p for p in problems), problems


@pytest.mark.parametrize(
    "env_name, value",
    [
        ("BUCKETDESK_MAX_UPLOAD_BYTES", "-5"),
        ("BUCKETDESK_MAX_UPLOAD_BYTES", "1.5"),
        ("BUCKETDESK_MAX_UPLOAD_BYTES", str(6 * 1024**4)),
        ("BUCKETDESK_POLICY_EXPIRY_SECONDS", "604801"),
        ("BUCKETDESK_ALLOWED_TYPES", "*/png"),
        ("BUCKETDESK_ALLOWED_TYPES", ","),
        ("BUCKETDESK_ENDPOINT_URL", "localhost:4566"),
        ("BUCKETDESK_ADDRESSING_STYLE", "sideways"),
        ("BUCKETDESK_ON_VERIFY_FAILURE", "ignore"),
        ("BUCKETDESK_ALLOW_DELETE", "perhaps"),
        ("BUCKETDESK_MULTIPART_THRESHOLD_BYTES", "1024"),
        ("BUCKETDESK_MULTIPART_THRESHOLD_BYTES", str(5 * 1024**3 + 1)),
        ("BUCKETDESK_MULTIPART_CONCURRENCY", "17"),
        ("BUCKETDESK_CHECKSUMS", "sometimes"),
        ("BUCKETDESK_SECRET_ACCESS_KEY", "only-the-secret"),
        ("BUCKETDESK_UPLOAD_PREFIX", "../{uuid}/{safe_name}"),
        ("BUCKETDESK_UPLOAD_PREFIX", "u/{uuid}/{nmae}"),
    ],
)
def test_each_bad_env_value_is_reported(env_name, value):
    problems = problems_of({"BUCKETDESK_BUCKET": "b", env_name: value})
    setting = env_name.removeprefix("BUCKETDESK_").lower()
    assert len(problems) == 1, problems
    assert env_name in problems[0] or setting in problems[0], problems


@pytest.mark.parametrize("value, expected", [("true", True), ("YES", True), ("0", False), ("off", False)])
def test_booleans_read_naturally(value, expected):
    assert load({"BUCKETDESK_BUCKET": "b", "BUCKETDESK_ALLOW_DELETE": value}).profile().allow_delete is expected


def test_quarantine_prefix_always_ends_with_a_slash():
    profile = load({"BUCKETDESK_BUCKET": "b", "BUCKETDESK_QUARANTINE_PREFIX": "/held"}).profile()
    assert profile.quarantine_prefix == "held/"


def test_toml_booleans_are_not_numbers(toml):
    path = toml(
        """
        [bucketdesk.profiles.a]
        bucket = "a"
        max_upload_bytes = true
        """
    )
    assert any(".max_upload_bytes" in p for p in problems_of({}, path))


def test_profiles_must_be_tables(toml):
    path = toml(
        """
        [bucketdesk]
        profiles = "just-a-string"
        """
    )
    assert any("[bucketdesk.profiles]" in p for p in problems_of({}, path))


def test_config_error_message_lists_problems_one_per_line():
    error = ConfigError(["first: wrong.", "second: also wrong."])
    assert error.message.splitlines()[1:] == ["- first: wrong.", "- second: also wrong."]


def test_large_files_and_checksums_have_documented_defaults_and_read_from_env(tmp_path):
    defaults = load({"BUCKETDESK_BUCKET": "b"})
    assert (defaults.profile().multipart_threshold_bytes, defaults.profile().multipart_concurrency) == (64 * 1024**2, 8)
    assert defaults.profile().checksums == "required"
    assert defaults.multipart_state_dir == Path(".bucketdesk/multipart")
    env = {
        "BUCKETDESK_BUCKET": "b",
        "BUCKETDESK_CHECKSUMS": "Off",
        "BUCKETDESK_MULTIPART_CONCURRENCY": "8",
        "BUCKETDESK_MULTIPART_STATE_DIR": str(tmp_path / "open"),
    }
    settings = load(env)
    assert (settings.profile().checksums, settings.profile().multipart_concurrency) == ("off", 8)
    assert settings.multipart_state_dir == tmp_path / "open"


# --- access rules, groups claim, local roles, database -------------------------------------------------

ISSUE_RULES = """
    [bucketdesk]
    groups_claim = "roles"

    [[bucketdesk.access]]
    who = ["group:storage-admins"]
    roles = ["admin"]

    [[bucketdesk.access]]
    who = ["group:design", "bob@example.com"]
    roles = ["viewer", "uploader"]
    prefixes = ["design/", "uploads/{user}/"]
    buckets = ["assets"]

    [[bucketdesk.access]]
    who = ["*@example.com"]
    roles = ["viewer"]
    prefixes = ["public/"]

    [bucketdesk.profiles.assets]
    bucket = "team-assets"
"""


def test_access_defaults():
    settings = load()
    assert settings.access == () and settings.groups_claim == "groups"
    assert settings.local_roles == ("viewer", "uploader", "analyst", "admin")
    assert settings.database_path == Path(".bucketdesk/bucketdesk.db")


def test_access_rules_in_the_issues_exact_form(toml):
    settings = load({}, toml(ISSUE_RULES))
    assert [rule.roles for rule in settings.access] == [("admin",), ("viewer", "uploader"), ("viewer",)]
    assert settings.access[1].buckets == ("assets",) and settings.groups_claim == "roles"


def test_access_rules_from_json_in_the_environment(toml):
    env = {"BUCKETDESK_ACCESS": '[{"who": ["*"], "roles": ["viewer"], "prefixes": ["public"]}]'}
    settings = load(env, toml(ISSUE_RULES))
    assert len(settings.access) == 1 and settings.access[0].prefixes == ("public/",)  # env replaces the file's


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[{", "BUCKETDESK_ACCESS: not valid JSON"),
        ('{"who": "*"}', "BUCKETDESK_ACCESS: must be an array of rules"),
        ('[{"who": ["*"], "roles": ["boss"]}]', "BUCKETDESK_ACCESS[0].roles: unknown role 'boss'"),
    ],
)
def test_bad_access_json_is_named(value, expected):
    with pytest.raises(ConfigError) as caught:
        load({"BUCKETDESK_ACCESS": value})
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_bad_rules_are_start_up_errors_naming_each_rule(toml):
    path = toml(
        """
        [[bucketdesk.access]]
        who = []
        roles = ["viewer"]

        [[bucketdesk.access]]
        who = ["*"]
        roles = ["viewer"]
        prefixes = ["../etc/"]

        [[bucketdesk.access]]
        who = ["*"]
        roles = ["owner"]
        buckets = ["nope"]

        [bucketdesk.profiles.assets]
        bucket = "team-assets"
        """
    )
    with pytest.raises(ConfigError) as caught:
        load({}, path)
    named = [problem.split(":", 1)[0] for problem in caught.value.problems]
    assert named == [
        "bucketdesk.access[0].who",
        "bucketdesk.access[1].prefixes",
        "bucketdesk.access[2].roles",
        "bucketdesk.access[2].buckets",
    ]


def test_without_profiles_a_rule_may_name_the_sandbox_only(toml):
    assert load({}, toml('[[bucketdesk.access]]\nwho = ["*"]\nroles = ["viewer"]\nbuckets = ["sandbox"]\n')).access
    with pytest.raises(ConfigError):
        load({}, toml('[[bucketdesk.access]]\nwho = ["*"]\nroles = ["viewer"]\nbuckets = ["assets"]\n'))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("viewer, uploader", ("viewer", "uploader")), ("VIEWER", ("viewer",))],
)
def test_local_roles_from_the_environment(value, expected):
    assert load({"BUCKETDESK_LOCAL_ROLES": value}).local_roles == expected


@pytest.mark.parametrize("value", ["root", ",", "viewer,god"])
def test_bad_local_roles_are_named(value):
    with pytest.raises(ConfigError) as caught:
        load({"BUCKETDESK_LOCAL_ROLES": value})
    assert caught.value.problems[0].startswith("BUCKETDESK_LOCAL_ROLES:")


def test_upload_method_defaults_to_post_reads_put_and_refuses_anything_else():
    assert load({"BUCKETDESK_BUCKET": "b"}).profile().upload_method == "post"
    assert load({"BUCKETDESK_BUCKET": "b", "BUCKETDESK_UPLOAD_METHOD": "PUT"}).profile().upload_method == "put"
    problems = problems_of({"BUCKETDESK_BUCKET": "b", "BUCKETDESK_UPLOAD_METHOD": "patch"})
    assert any("BUCKETDESK_UPLOAD_METHOD" in p and "put" in p for p in problems), problems
