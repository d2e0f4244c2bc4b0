"""Typed settings from `.streamlit/secrets.toml` and `BUCKETDESK_*` environment variables.

One or more *bucket profiles* live under `[bucketdesk.profiles.<name>]` in secrets.toml. A single
bucket can be configured from the environment alone: every profile setting has a
`BUCKETDESK_<SETTING>` variable, which applies to the default profile (creating it from
`BUCKETDESK_BUCKET` when the file has none). With no bucket anywhere, the app runs the embedded
sandbox.

Endpoint, region and credentials normally come from boto3's own chain (`AWS_ENDPOINT_URL_S3`,
`AWS_REGION`, keys, profiles, instance roles); a profile may name them but never has to.

Every problem is collected and raised at once as a `ConfigError` naming each bad setting, so an
operator fixes the whole file in one go instead of one restart per mistake.
"""

from __future__ import annotations

import json
import os
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lib.access import ROLES, AccessRule, parse_rules
from lib.errors import ConfigError
from lib.names import template_problems

MiB = 1024 * 1024
GiB = 1024 * MiB
# A single POST upload cannot exceed 5 GiB (S3's limit for one PUT/POST).
POST_UPLOAD_LIMIT = 5 * GiB
# S3 accepts objects up to 5 TiB, in at most 10,000 parts.
OBJECT_LIMIT = 5 * 1024 * GiB
# Parts in flight per file: more rarely helps one browser, and each holds a part's worth of memory.
MAX_MULTIPART_CONCURRENCY = 16
# Listing requests in flight while building an inventory snapshot: more only queues at the store.
MAX_LISTING_CONCURRENCY = 64
# SigV4 presigned URLs and POST policies are valid for at most 7 days.
MAX_SIGNATURE_SECONDS = 7 * 24 * 3600

DEFAULT_KEY_TEMPLATE = "uploads/{yyyy}/{mm}/{dd}/{uuid}/{relative_path}"
DEFAULT_ALLOWED_TYPES = (
    "image/*",
    "video/*",
    "audio/*",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "application/zip",
)

DEFAULT_EXPORT_PREFIX = "exports/{user}/"
EXPORT_PREFIX_FIELDS = {"user"}

ENV_PREFIX = "BUCKETDESK_"
SANDBOX_PROFILE = "sandbox"


@dataclass(frozen=True)
class BucketProfile:
    """Everything bucketdesk needs to know about one bucket."""

    name: str
    bucket: str
    label: str = ""
    max_upload_bytes: int = POST_UPLOAD_LIMIT
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    upload_prefix: str = DEFAULT_KEY_TEMPLATE
    policy_expiry_seconds: int = 300
    # Server-side endpoint; None means boto3's chain (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS).
    endpoint_url: str | None = None
    # The endpoint the *browser* reaches, when it differs from the server's (e.g. docker networks).
    public_endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str = "auto"
    # A named profile from ~/.aws/config; None means boto3's default chain.
    aws_profile: str | None = None
    # Explicit keys are accepted (the sandbox uses fake ones) but never required.
    access_key_id: str | None = None
    secret_access_key: str | None = None
    on_verify_failure: str = "quarantine"
    quarantine_prefix: str = "quarantine/"
    verify_max_image_bytes: int = 64 * MiB
    # Files larger than this upload in parts (multipart), in parallel, resumable, each part checksummed.
    multipart_threshold_bytes: int = 64 * MiB
    multipart_concurrency: int = 8
    # SHA-256 checksums the bucket verifies: "required" (a browser that cannot compute them, e.g. on a
    # plain-http page, is refused), "optional" (used whenever the browser can), "off" (for stores that
    # do not support x-amz-checksum-sha256).
    checksums: str = "required"
    # How a single upload travels: "post" (a POST policy form) or "put" (a presigned PutObject URL
    # whose signed headers pin the same things; for stores without POST policies, e.g. Cloudflare R2,
    # and proxies that only pass PUT). Files above the multipart threshold go in parts either way.
    upload_method: str = "post"
    allow_delete: bool = False
    # Thumbnails for Browse: stored in the bucket under .bucketdesk/thumbs/ ("bucket"), on the app
    # server's disk ("disk"), or in the bucket unless it refuses the write, then on disk ("auto").
    thumbnail_store: str = "auto"
    # Larger images get a placeholder instead of a thumbnail: the app would have to download them.
    thumbnail_max_bytes: int = 50 * MiB
    thumbnail_cache_dir: Path = Path(".bucketdesk/thumbs")
    # Exports too large to download from the app server are stored here and handed out as signed links.
    export_prefix: str = DEFAULT_EXPORT_PREFIX
    # Inventory snapshots (lib/inventory): listing requests in flight while building one; where they
    # are kept (like thumbnails: bucket under .bucketdesk/inventory/, disk, or auto); how many are
    # kept; and where queries read them on the app server.
    listing_concurrency: int = 16
    inventory_store: str = "auto"
    inventory_keep: int = 5
    inventory_cache_dir: Path = Path(".bucketdesk/inventory")
    sandbox: bool = False

    @property
    def display_name(self) -> str:
        return self.label or self.bucket


@dataclass(frozen=True)
class Settings:
    profiles: dict[str, BucketProfile]
    default_profile: str
    # The audit log of earlier versions (JSON Lines): imported once into database_path, then unused.
    audit_log_path: Path = Path(".bucketdesk/audit.jsonl")
    # One SQLite file (WAL) for audit events, shared by every session and server process on the machine.
    database_path: Path = Path(".bucketdesk/bucketdesk.db")
    # Who may do what where ([[bucketdesk.access]] or BUCKETDESK_ACCESS); see lib.access.
    access: tuple[AccessRule, ...] = ()
    # The ID-token claim that lists a signed-in user's groups (for `group:<name>` in rules).
    groups_claim: str = "groups"
    # Without [auth] (no sign-in), the one local user has these roles on every bucket.
    local_roles: tuple[str, ...] = tuple(ROLES)
    upload_concurrency: int = 6
    # Open multipart uploads (one small JSON file each), so a reload or a new session can resume them.
    multipart_state_dir: Path = Path(".bucketdesk/multipart")
    # Exports smaller than this are a download from the app server; larger ones a signed link to the bucket.
    export_download_max_bytes: int = 50 * MiB
    # With no bucket configured, BUCKETDESK_* profile settings (limits, types…) shape the sandbox.
    sandbox_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_sandbox(self) -> bool:
        """No bucket is configured, so the embedded sandbox stands in."""
        return not self.profiles

    def profile(self, name: str | None = None) -> BucketProfile:
        return self.profiles[name or self.default_profile]


# How each setting is read from text (env) or TOML, and checked. Name -> (parser, check, hint).
def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    number = int(str(value).strip().replace("_", ""))
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _types(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    patterns = tuple(str(item).strip().lower() for item in items if str(item).strip())
    if not patterns:
        raise ValueError("name at least one MIME type, e.g. image/*,application/pdf")
    for pattern in patterns:
        major, _, minor = pattern.partition("/")
        if not major or not minor or (major == "*" and minor != "*"):
            raise ValueError(f"{pattern!r} is not a MIME pattern like image/png or image/*")
    return patterns


def _text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _url(value: Any) -> str:
    text = _text(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _choice(*options: str):
    def parse(value: Any) -> str:
        text = _text(value).lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def _prefix(value: Any) -> str:
    text = _text(value).lstrip("/")
    return text if text.endswith("/") else text + "/"


def _role_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"expected a list of roles from {', '.join(ROLES)}")
    roles = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    if not roles:
        raise ValueError(f"name at least one role: {', '.join(ROLES)}")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {', '.join(map(repr, unknown))}; use {', '.join(ROLES)}")
    return roles


def _rule_tables(value: Any) -> list:
    """The access rules' raw tables: TOML's array of tables, or the same array as JSON text (env)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc.args[0]}); give the rules as a JSON array of objects") from exc
    if not isinstance(value, list):
        raise ValueError("must be an array of rules, each with who and roles")
    return value


def _template(value: Any) -> str:
    text = _text(value).lstrip("/")
    problems = template_problems(text)
    if problems:
        raise ValueError("; ".join(problems))
    return text


def _export_prefix(value: Any) -> str:
    text = _text(value).lstrip("/")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc})") from exc
    if names - EXPORT_PREFIX_FIELDS:
        raise ValueError("the only placeholder is {user}")
    if ".." in text.split("/"):
        raise ValueError("must not contain ..")
    return text if text.endswith("/") else text + "/"


_PROFILE_PARSERS = {
    "bucket": _text,
    "label": _text,
    "max_upload_bytes": _positive_int,
    "allowed_types": _types,
    "upload_prefix": _template,
    "policy_expiry_seconds": _positive_int,
    "endpoint_url": _url,
    "public_endpoint_url": _url,
    "region": _text,
    "addressing_style": _choice("auto", "path", "virtual"),
    "aws_profile": _text,
    "access_key_id": _text,
    "secret_access_key": _text,
    "on_verify_failure": _choice("quarantine", "delete"),
    "quarantine_prefix": _prefix,
    "verify_max_image_bytes": _positive_int,
    "multipart_threshold_bytes": _positive_int,
    "multipart_concurrency": _positive_int,
    "checksums": _choice("required", "optional", "off"),
    "upload_method": _choice("post", "put"),
    "allow_delete": _bool,
    "thumbnail_store": _choice("auto", "bucket", "disk"),
    "thumbnail_max_bytes": _positive_int,
    "thumbnail_cache_dir": lambda value: Path(_text(value)),
    "export_prefix": _export_prefix,
    "listing_concurrency": _positive_int,
    "inventory_store": _choice("auto", "bucket", "disk"),
    "inventory_keep": _positive_int,
    "inventory_cache_dir": lambda value: Path(_text(value)),
}
# Where and how to connect: meaningless for the embedded sandbox, which has its own.
_CONNECTION_SETTINGS = {
    "endpoint_url",
    "public_endpoint_url",
    "region",
    "addressing_style",
    "aws_profile",
    "access_key_id",
    "secret_access_key",
}
_GLOBAL_PARSERS = {
    "default_profile": _text,
    "audit_log_path": lambda value: Path(_text(value)),
    "upload_concurrency": _positive_int,
    "multipart_state_dir": lambda value: Path(_text(value)),
    "database_path": lambda value: Path(_text(value)),
    "access": _rule_tables,  # each rule is checked once the profiles are known (load_settings)
    "groups_claim": _text,
    "local_roles": _role_list,
    "export_download_max_bytes": _positive_int,
}


def default_secrets_paths(project_dir: Path | None = None) -> list[Path]:
    """Where Streamlit itself looks for secrets.toml: the user's, then the project's (which wins)."""
    project_dir = project_dir or Path.cwd()
    return [Path.home() / ".streamlit" / "secrets.toml", project_dir / ".streamlit" / "secrets.toml"]


def load_settings(
    env: Mapping[str, str] | None = None,
    secrets_paths: list[Path] | None = None,
) -> Settings:
    """Read every source, check every setting, and return Settings or raise one ConfigError."""
    env = os.environ if env is None else env
    problems: list[str] = []
    document = _read_secrets(default_secrets_paths() if secrets_paths is None else secrets_paths, problems)

    raw_profiles = document.pop("profiles", {}) or {}
    if not isinstance(raw_profiles, dict):
        problems.append("[bucketdesk.profiles] must be a table of tables, one per bucket.")
        raw_profiles = {}

    global_values = _read_globals(document, env, problems)
    profiles = _read_profiles(raw_profiles, problems)

    # Environment variables apply to the default profile, creating it when only env is used.
    env_values = _profile_env(env, problems)

    default_name = global_values.get("default_profile") or (next(iter(profiles)) if profiles else "default")
    sandbox_overrides: dict[str, Any] = {}
    if profiles and default_name not in profiles and "bucket" not in env_values:
        # Checked before env applies: env settings must not turn a misspelt default into a new, bucketless profile.
        problems.append(
            f"bucketdesk.default_profile: {default_name!r} is not a profile; choose one of {', '.join(sorted(profiles))}."
        )
    elif env_values and (profiles or "bucket" in env_values):
        profiles.setdefault(default_name, {}).update(env_values)
    else:
        # No bucket: the sandbox runs with its own endpoint and keys; only limits and rules shape it.
        for name in sorted(set(env_values) & _CONNECTION_SETTINGS):
            problems.append(
                f"{ENV_PREFIX}{name.upper()}: set, but no bucket is configured; set {ENV_PREFIX}BUCKET too "
                "(without a bucket the embedded sandbox runs, and it keeps its own connection settings)."
            )
        sandbox_overrides = {k: v for k, v in env_values.items() if k not in _CONNECTION_SETTINGS}

    built = _build_profiles(profiles, set(raw_profiles), problems)
    if "access" in global_values:
        known = set(profiles) or {SANDBOX_PROFILE}
        where = "BUCKETDESK_ACCESS" if env.get("BUCKETDESK_ACCESS", "").strip() else "bucketdesk.access"
        global_values["access"], rule_problems = parse_rules(global_values["access"], where, known)
        problems.extend(rule_problems)

    if problems:
        raise ConfigError(problems)
    settings_values = {k: v for k, v in global_values.items() if k != "default_profile"}
    return Settings(
        profiles=built,
        default_profile=default_name if built else SANDBOX_PROFILE,
        sandbox_overrides=sandbox_overrides,
        **settings_values,
    )


def _read_globals(document: dict[str, Any], env: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """Settings outside the profiles, from the file and then BUCKETDESK_* (which wins)."""
    values = _parse_section(document, _GLOBAL_PARSERS, "bucketdesk", problems)
    for unknown in sorted(set(document) - set(_GLOBAL_PARSERS)):
        problems.append(f"bucketdesk.{unknown}: unknown setting (check the spelling).")
    for name, setting in _GLOBAL_PARSERS.items():
        env_name = ENV_PREFIX + name.upper()
        if env.get(env_name, "").strip():
            _parse_into(values, name, env[env_name], setting, env_name, problems)
    return values


def _read_profiles(raw_profiles: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    """Each `[bucketdesk.profiles.<name>]` table, parsed (the bucket is checked once env applied)."""
    profiles: dict[str, dict[str, Any]] = {}
    for name, raw in raw_profiles.items():
        if not isinstance(raw, dict):
            problems.append(f"bucketdesk.profiles.{name}: must be a table of settings.")
            continue
        profiles[name] = _parse_section(raw, _PROFILE_PARSERS, f"bucketdesk.profiles.{name}", problems)
        for unknown in sorted(set(raw) - set(_PROFILE_PARSERS)):
            problems.append(f"bucketdesk.profiles.{name}.{unknown}: unknown setting (check the spelling).")
    return profiles


def _read_secrets(paths: list[Path], problems: list[str]) -> dict[str, Any]:
    """The [bucketdesk] sections of the secrets files, later files winning."""
    document: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            section = tomllib.loads(path.read_text(encoding="utf-8")).get("bucketdesk", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: not valid TOML ({exc}).")
            continue
        _merge(document, section)
    return document


def _profile_env(env: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """Profile settings given as BUCKETDESK_* environment variables."""
    values: dict[str, Any] = {}
    for name, parser in _PROFILE_PARSERS.items():
        env_name = ENV_PREFIX + name.upper()
        if env.get(env_name, "").strip():
            _parse_into(values, name, env[env_name], parser, env_name, problems)
    return values


def _build_profiles(
    profiles: dict[str, dict[str, Any]], from_file: set[str], problems: list[str]
) -> dict[str, BucketProfile]:
    built: dict[str, BucketProfile] = {}
    for name, values in profiles.items():
        where = f"bucketdesk.profiles.{name}" if name in from_file else f"{ENV_PREFIX}*"
        if not values.get("bucket"):
            problems.append(f"{where}.bucket: missing; name the bucket (or set {ENV_PREFIX}BUCKET).")
            continue
        profile = BucketProfile(name=name, **values)
        problems.extend(_profile_problems(profile, where))
        built[name] = profile
    return built


def with_sandbox(settings: Settings, profile: BucketProfile) -> Settings:
    """The settings with the embedded sandbox standing in as the only bucket."""
    profile = replace(profile, **settings.sandbox_overrides)
    return replace(settings, profiles={profile.name: profile}, default_profile=profile.name)


def _profile_problems(profile: BucketProfile, where: str) -> list[str]:
    problems = []
    if profile.max_upload_bytes > OBJECT_LIMIT:
        problems.append(f"{where}.max_upload_bytes: S3 stores objects up to 5 TiB; {profile.max_upload_bytes} is more.")
    if profile.policy_expiry_seconds > MAX_SIGNATURE_SECONDS:
        problems.append(f"{where}.policy_expiry_seconds: SigV4 grants last at most 7 days (604800 s).")
    if bool(profile.access_key_id) != bool(profile.secret_access_key):
        problems.append(
            f"{where}.access_key_id / secret_access_key: give both or neither (neither uses boto3's chain)."
        )
    if profile.multipart_threshold_bytes < 5 * MiB:
        problems.append(
            f"{where}.multipart_threshold_bytes: S3 parts are at least 5 MiB, so the threshold must be too."
        )
    if profile.multipart_threshold_bytes > POST_UPLOAD_LIMIT:
        problems.append(
            f"{where}.multipart_threshold_bytes: a single upload stops at 5 GiB, so the threshold must be at most 5368709120."
        )
    if profile.listing_concurrency > MAX_LISTING_CONCURRENCY:
        problems.append(f"{where}.listing_concurrency: at most {MAX_LISTING_CONCURRENCY} listing requests at once.")
    if profile.multipart_concurrency > MAX_MULTIPART_CONCURRENCY:
        problems.append(f"{where}.multipart_concurrency: at most {MAX_MULTIPART_CONCURRENCY} parts in flight per file.")
    return problems


def _parse_section(raw: dict, parsers: dict, where: str, problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in parsers:
            _parse_into(values, name, value, parsers[name], f"{where}.{name}", problems)
    return values


def _parse_into(values: dict, name: str, raw: Any, parser, where: str, problems: list[str]) -> None:
    try:
        values[name] = parser(raw)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where}: {exc} (got {str(raw)[:60]!r}).")


def _merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
