"""Configuration review: a checklist of findings about one bucket, each with what it means and the
exact command that fixes it.

Statuses: `fail` for what exposes data or breaks this app (public statements or grants, a CORS
rule the uploader cannot work with); `warn` for hygiene that costs money or recoverability
(versioning, lifecycle rules, logging, encryption, object lock); `unsupported` when the store does
not implement the call (MinIO, Ceph and LocalStack answer some with NotImplemented: not a
failure); `unknown` when the app's credentials may not read the setting (the finding names the
IAM permission) or the store answered something else unexpected.

Each bucket configuration is read once (lib.s3's `bucket_configuration`), then every check judges
what was read. Fix commands are `aws s3api` with the bucket (and a custom endpoint) filled in;
commands that replace a whole configuration (policy, lifecycle, CORS) carry the existing one with
the change applied, so running them loses nothing.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from lib.errors import BadCredentials, BucketNotFound, EndpointUnreachable, StorageError
from lib.s3 import BUCKET_CONFIGURATIONS, S3Gateway
from lib.upload.cors import NEEDED_EXPOSED, NEEDED_HEADERS, NEEDED_METHODS, cors_rule


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Finding:
    check: str  # a stable id, e.g. "cors"
    status: Status
    summary: str  # what was found, in one sentence
    meaning: str  # why it matters
    fix_command: str = ""  # the exact command; empty when there is nothing to do
    alternative: str = ""  # the command on MinIO / Ceph, where it differs


# The IAM permission each configuration read needs (named in `unknown` findings and the README).
PERMISSIONS: dict[str, str] = {
    "public_access_block": "s3:GetBucketPublicAccessBlock",
    "policy": "s3:GetBucketPolicy",
    "acl": "s3:GetBucketAcl",
    "ownership_controls": "s3:GetBucketOwnershipControls",
    "encryption": "s3:GetEncryptionConfiguration",
    "versioning": "s3:GetBucketVersioning",
    "object_lock": "s3:GetBucketObjectLockConfiguration",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "logging": "s3:GetBucketLogging",
    "cors": "s3:GetBucketCORS",
}

NOT_IMPLEMENTED = {"NotImplemented", "NotImplementedError", "XNotImplemented", "501"}
# Errors after which no check can say anything: the review raises them once, for the page to show.
_FATAL = (EndpointUnreachable, BadCredentials, BucketNotFound)

PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "everyone (AllUsers)",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "any AWS account (AuthenticatedUsers)",
}
# Condition keys that narrow who may use an Allow statement; aws:SecureTransport does not.
LIMITING_CONDITION_KEYS = {
    key.lower()
    for key in (
        "aws:SourceIp",
        "aws:VpcSourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOrgID",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalServiceName",
        "aws:userid",
        "aws:username",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
    )
}
ABORT_RULE = {
    "ID": "bucketdesk-abort-unfinished-uploads",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}
NONCURRENT_RULE = {
    "ID": "bucketdesk-expire-noncurrent-versions",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
}


@dataclass
class Review:
    """What the checks judge: the bucket's configurations as read (None = not configured)."""

    bucket: str
    endpoint_url: str | None
    app_origin: str | None
    log_bucket: str
    settings: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def command(self, operation: str, *args: str) -> str:
        endpoint = f" --endpoint-url {shlex.quote(self.endpoint_url)}" if self.endpoint_url else ""
        return f"aws s3api {operation} --bucket {shlex.quote(self.bucket)}{endpoint} " + " ".join(args)

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        return list((self.settings.get("lifecycle") or {}).get("Rules", []))

    def versioning_on(self) -> bool:
        return (self.settings.get("versioning") or {}).get("Status") in {"Enabled", "Suspended"}


@dataclass(frozen=True)
class Check:
    name: str
    reads: tuple[str, ...]  # keys of BUCKET_CONFIGURATIONS
    meaning: str
    judge: Callable[[Review], Finding]
    alternative: str = ""  # on MinIO / Ceph; {bucket} is filled in


def run_review(gateway: S3Gateway, app_origin: str | None = None, *, log_bucket: str | None = None) -> list[Finding]:
    """Every check in CHECKS, in order; each returns a finding, none raises for one refused call.

    `app_origin` is the app's URL as browsers reach it (scheme://host[:port]); `log_bucket` is
    where the access-logging fix sends logs (default `<bucket>-access-logs`). Raises the
    StorageError when the store cannot be reached at all (endpoint, credentials, missing bucket).
    """
    bucket = gateway.bucket
    review = Review(
        bucket=bucket,
        endpoint_url=gateway.profile.endpoint_url,
        app_origin=app_origin.rstrip("/") if app_origin else None,
        log_bucket=log_bucket or f"{bucket}-access-logs",
    )
    failures: dict[str, StorageError] = {}
    for name in BUCKET_CONFIGURATIONS:
        try:
            review.settings[name] = gateway.bucket_configuration(name)
        except _FATAL:
            raise
        except StorageError as exc:
            failures[name] = exc
    findings = []
    for check in CHECKS:
        failed = [name for name in check.reads if name in failures]
        if failed:
            findings.append(_not_read(check, failed[0], failures[failed[0]], bucket))
        else:
            findings.append(check.judge(review))
    return findings


def _not_read(check: Check, name: str, exc: StorageError, bucket: str) -> Finding:
    operation = _operation_title(name)
    alternative = check.alternative.format(bucket=bucket)
    if exc.code in NOT_IMPLEMENTED:
        return Finding(
            check.name,
            Status.UNSUPPORTED,
            f"Not supported by this store: it answered {operation} with {exc.code}.",
            check.meaning,
            alternative=alternative,
        )
    if exc.code in {"AccessDenied", "403", "AllAccessDisabled"}:
        return Finding(
            check.name,
            Status.UNKNOWN,
            f"Could not check: the app's credentials lack {PERMISSIONS[name]} on bucket {bucket}.",
            check.meaning,
            alternative=alternative,
        )
    return Finding(
        check.name, Status.UNKNOWN, f"Could not check: {exc.message}", check.meaning, alternative=alternative
    )


def _operation_title(name: str) -> str:
    """e.g. "get_bucket_cors" -> "GetBucketCors", as stores name the call in their answers."""
    return "".join(part.title() for part in BUCKET_CONFIGURATIONS[name][0].split("_"))


def _json_arg(value: Any) -> str:
    return shlex.quote(json.dumps(value, separators=(",", ":"), default=_json_default))


def _json_default(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check(name: str, review: Review, status: Status, summary: str, fix: str = "") -> Finding:
    check = CHECKS_BY_NAME[name]
    return Finding(name, status, summary, check.meaning, fix, check.alternative.format(bucket=review.bucket))


# --- Public access block ------------------------------------------------------------------------

_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def judge_public_access_block(review: Review) -> Finding:
    fix = review.command(
        "put-public-access-block",
        "--public-access-block-configuration",
        ",".join(f"{flag}=true" for flag in _PAB_FLAGS),
    )
    setting = review.settings["public_access_block"]
    if setting is None:
        return _check(
            "public_access_block",
            review,
            Status.WARN,
            "The bucket has no public access block of its own (an account-wide one may still apply).",
            fix,
        )
    flags = setting.get("PublicAccessBlockConfiguration", {})
    off = [flag for flag in _PAB_FLAGS if not flags.get(flag)]
    if off:
        return _check(
            "public_access_block", review, Status.FAIL, f"The public access block leaves off: {', '.join(off)}.", fix
        )
    return _check("public_access_block", review, Status.PASS, "All four public access block settings are on.")


# --- Bucket policy ------------------------------------------------------------------------------


def _statements(review: Review) -> list[dict[str, Any]] | None:
    """The policy's statements; None when the bucket has no policy."""
    setting = review.settings["policy"]
    if setting is None:
        return None
    document = json.loads(setting.get("Policy") or "{}")
    return [s for s in _listed(document.get("Statement")) if isinstance(s, dict)]


def _policy_document(review: Review) -> dict[str, Any]:
    setting = review.settings["policy"]
    return json.loads(setting.get("Policy") or "{}") if setting else {"Version": "2012-10-17", "Statement": []}


def _open_principal(statement: dict[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))


def _limited(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition") or {}
    keys = {key.lower() for operator in conditions.values() if isinstance(operator, dict) for key in operator}
    return bool(keys & LIMITING_CONDITION_KEYS)


def _is_public(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Allow" and _open_principal(statement) and not _limited(statement)


def _describe(statement: dict[str, Any], index: int) -> str:
    name = f'"{statement["Sid"]}"' if statement.get("Sid") else f"#{index + 1}"
    actions = ", ".join(str(a) for a in _listed(statement.get("Action") or statement.get("NotAction")))
    return f"statement {name} ({actions or 'no action'})"


def judge_policy_public(review: Review) -> Finding:
    try:
        statements = _statements(review)
    except ValueError:
        return _check("policy_public", review, Status.UNKNOWN, "The bucket policy is not valid JSON.")
    if statements is None:
        return _check("policy_public", review, Status.PASS, "The bucket has no policy, so no statement opens it.")
    public = [(i, s) for i, s in enumerate(statements) if _is_public(s)]
    if not public:
        return _check("policy_public", review, Status.PASS, "No policy statement allows anyone (*) in unconditionally.")
    kept = [s for s in statements if not _is_public(s)]
    if kept:
        document = dict(_policy_document(review), Statement=kept)
        fix = review.command("put-bucket-policy", "--policy", _json_arg(document))
    else:
        fix = review.command("delete-bucket-policy")
    opened = "; ".join(_describe(s, i) for i, s in public)
    return _check(
        "policy_public",
        review,
        Status.FAIL,
        f"The bucket policy allows anyone (*) with no limiting condition: {opened}.",
        fix,
    )


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    for operator, values in (statement.get("Condition") or {}).items():
        if operator.lower() not in {"bool", "boolifexists"} or not isinstance(values, dict):
            continue
        for key, value in values.items():
            if key.lower() == "aws:securetransport" and "false" in [str(v).lower() for v in _listed(value)]:
                return True
    return False


def judge_policy_tls(review: Review) -> Finding:
    try:
        statements = _statements(review) or []
    except ValueError:
        return _check("policy_tls", review, Status.UNKNOWN, "The bucket policy is not valid JSON.")
    if any(_denies_plain_http(s) for s in statements):
        return _check("policy_tls", review, Status.PASS, "The bucket policy refuses requests not sent over TLS.")
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{review.bucket}", f"arn:aws:s3:::{review.bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    document = _policy_document(review)
    document = dict(document, Statement=[*_listed(document.get("Statement")), deny])
    fix = review.command("put-bucket-policy", "--policy", _json_arg(document))
    summary = "No policy statement refuses plain-HTTP requests (aws:SecureTransport false)."
    if (review.endpoint_url or "").startswith("http://"):
        summary += " This app itself reaches the store over plain HTTP: switch it to HTTPS before adding the rule."
    return _check("policy_tls", review, Status.WARN, summary, fix)


# --- ACLs and object ownership ------------------------------------------------------------------


def judge_object_ownership(review: Review) -> Finding:
    fix = review.command(
        "put-bucket-ownership-controls", "--ownership-controls", "'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'"
    )
    setting = review.settings["ownership_controls"] or {}
    rules = setting.get("OwnershipControls", {}).get("Rules", [])
    ownership = rules[0].get("ObjectOwnership") if rules else None
    if ownership == "BucketOwnerEnforced":
        return _check("object_ownership", review, Status.PASS, "ACLs are disabled: the bucket owner owns every object.")
    found = f"Object ownership is {ownership}" if ownership else "The bucket has no ownership controls"
    return _check("object_ownership", review, Status.WARN, f"{found}, so ACLs still grant access.", fix)


def judge_acl_grants(review: Review) -> Finding:
    grants = (review.settings["acl"] or {}).get("Grants", [])
    public = sorted(
        {
            f"{PUBLIC_GROUPS[uri]} may {grant.get('Permission', '?')}"
            for grant in grants
            if (uri := grant.get("Grantee", {}).get("URI")) in PUBLIC_GROUPS
        }
    )
    if public:
        return _check(
            "acl_grants",
            review,
            Status.FAIL,
            f"The bucket ACL grants {'; '.join(public)}.",
            review.command("put-bucket-acl", "--acl", "private"),
        )
    return _check("acl_grants", review, Status.PASS, "The bucket ACL grants nothing to everyone or to any AWS account.")


# --- Encryption, versioning, object lock --------------------------------------------------------


def judge_encryption(review: Review) -> Finding:
    setting = review.settings["encryption"] or {}
    rules = setting.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    defaults = [rule.get("ApplyServerSideEncryptionByDefault", {}) for rule in rules]
    algorithms = [d["SSEAlgorithm"] for d in defaults if d.get("SSEAlgorithm")]
    if algorithms:
        key = next((d["KMSMasterKeyID"] for d in defaults if d.get("KMSMasterKeyID")), None)
        with_key = f" with key {key}" if key else ""
        return _check("encryption", review, Status.PASS, f"New objects are encrypted with {algorithms[0]}{with_key}.")
    configuration = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    return _check(
        "encryption",
        review,
        Status.WARN,
        "The bucket has no default encryption.",
        review.command("put-bucket-encryption", "--server-side-encryption-configuration", _json_arg(configuration)),
    )


def judge_versioning(review: Review) -> Finding:
    status = (review.settings["versioning"] or {}).get("Status", "")
    if status == "Enabled":
        return _check("versioning", review, Status.PASS, "Versioning is on.")
    fix = review.command("put-bucket-versioning", "--versioning-configuration", "Status=Enabled")
    found = "Versioning is suspended" if status == "Suspended" else "Versioning has never been turned on"
    return _check("versioning", review, Status.WARN, f"{found}: an overwritten or deleted object is gone.", fix)


def judge_object_lock(review: Review) -> Finding:
    setting = (review.settings["object_lock"] or {}).get("ObjectLockConfiguration", {})
    if setting.get("ObjectLockEnabled") == "Enabled":
        retention = setting.get("Rule", {}).get("DefaultRetention", {})
        if retention:
            period = f"{retention.get('Days') or retention.get('Years')} {'days' if retention.get('Days') else 'years'}"
            return _check(
                "object_lock",
                review,
                Status.PASS,
                f"Object lock is on; new objects are kept {period} ({retention.get('Mode')}).",
            )
        return _check("object_lock", review, Status.PASS, "Object lock is on (no default retention).")
    fix = review.command(
        "put-object-lock-configuration", "--object-lock-configuration", _json_arg({"ObjectLockEnabled": "Enabled"})
    )
    return _check("object_lock", review, Status.WARN, "Object lock is off.", fix)


# --- Lifecycle rules ----------------------------------------------------------------------------


def _rule_prefix(rule: dict[str, Any]) -> str:
    found = rule.get("Filter", {})
    if "And" in found:
        found = found["And"]
    return str(found.get("Prefix", rule.get("Prefix", "")) or "")


def _enabled_rules(review: Review, action: str) -> list[dict[str, Any]]:
    return [rule for rule in review.lifecycle_rules() if rule.get("Status") == "Enabled" and action in rule]


def _lifecycle_fix(review: Review) -> str:
    """One command adding every rule bucketdesk recommends that is missing, keeping the others, so
    running the fix of either lifecycle finding (or both) ends in the same configuration."""
    rules = review.lifecycle_rules()
    if not any(_rule_prefix(rule) == "" for rule in _enabled_rules(review, "AbortIncompleteMultipartUpload")):
        rules.append(ABORT_RULE)
    if review.versioning_on() and not _enabled_rules(review, "NoncurrentVersionExpiration"):
        rules.append(NONCURRENT_RULE)
    return review.command(
        "put-bucket-lifecycle-configuration", "--lifecycle-configuration", _json_arg({"Rules": rules})
    )


def judge_abort_multipart(review: Review) -> Finding:
    rules = _enabled_rules(review, "AbortIncompleteMultipartUpload")
    whole = [rule for rule in rules if _rule_prefix(rule) == ""]
    if whole:
        days = whole[0]["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
        return _check(
            "abort_multipart", review, Status.PASS, f"Unfinished multipart uploads are removed after {days} days."
        )
    if rules:
        prefixes = ", ".join(sorted({_rule_prefix(rule) for rule in rules}))
        summary = f"Unfinished multipart uploads are removed only under {prefixes}."
    else:
        summary = "No lifecycle rule removes unfinished multipart uploads: their parts are billed until aborted."
    return _check("abort_multipart", review, Status.WARN, summary, _lifecycle_fix(review))


def judge_noncurrent_expiry(review: Review) -> Finding:
    if not review.versioning_on():
        return _check("noncurrent_expiry", review, Status.PASS, "Not needed: versioning is off.")
    rules = _enabled_rules(review, "NoncurrentVersionExpiration")
    if rules:
        days = rules[0]["NoncurrentVersionExpiration"].get("NoncurrentDays")
        return _check(
            "noncurrent_expiry", review, Status.PASS, f"Old versions are deleted {days} days after replacement."
        )
    return _check(
        "noncurrent_expiry",
        review,
        Status.WARN,
        "Versioning is on and no lifecycle rule expires noncurrent versions: every old version is kept and billed.",
        _lifecycle_fix(review),
    )


# --- Server access logging ----------------------------------------------------------------------


def judge_access_logging(review: Review) -> Finding:
    enabled = (review.settings["logging"] or {}).get("LoggingEnabled")
    if enabled:
        target = f"s3://{enabled.get('TargetBucket')}/{enabled.get('TargetPrefix', '')}"
        return _check("access_logging", review, Status.PASS, f"Server access logs go to {target}.")
    status = {"LoggingEnabled": {"TargetBucket": review.log_bucket, "TargetPrefix": f"{review.bucket}/"}}
    return _check(
        "access_logging",
        review,
        Status.WARN,
        "Server access logging is off.",
        review.command("put-bucket-logging", "--bucket-logging-status", _json_arg(status)),
    )


# --- CORS for this app --------------------------------------------------------------------------


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    """S3's CORS patterns: `*` alone matches anything; one `*` inside matches any run of characters."""
    if pattern == "*":
        return True
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _gaps(rule: dict[str, Any], origin: str, method: str) -> list[tuple[str, str]]:
    """What `rule` lacks for the uploader's `method` requests from `origin`: (kind, phrase) pairs,
    kind being origin, method, header or expose."""
    gaps = []
    if not any(_matches(o, origin, case=True) for o in rule.get("AllowedOrigins", [])):
        gaps.append(("origin", f"does not admit the origin {origin}"))
    if method not in {m.upper() for m in rule.get("AllowedMethods", [])}:
        gaps.append(("method", f"does not allow {method}"))
    for header in NEEDED_HEADERS:
        if not any(_matches(h, header, case=False) for h in rule.get("AllowedHeaders", [])):
            gaps.append(("header", f"does not allow the header {header}"))
    if NEEDED_EXPOSED.lower() not in {h.lower() for h in rule.get("ExposeHeaders", [])}:
        gaps.append(("expose", f"does not expose {NEEDED_EXPOSED}"))
    return gaps


def _rule_for(rules: list[dict[str, Any]], origin: str, method: str) -> int | None:
    """The rule that answers `method` from `origin`: the first whose origin, method and headers
    match (S3 applies the first such rule, and only its ExposeHeaders); else the rule admitting
    the origin that lacks least; None when no rule admits the origin."""
    kinds = [{kind for kind, _ in _gaps(rule, origin, method)} for rule in rules]
    for index, lacking in enumerate(kinds):
        if lacking <= {"expose"}:
            return index
    admitting = [index for index, lacking in enumerate(kinds) if "origin" not in lacking]
    return min(admitting, key=lambda i: len(_gaps(rules[i], origin, method))) if admitting else None


def cors_problems(rules: list[dict[str, Any]], origin: str) -> dict[int, list[str]] | None:
    """What keeps the uploader from working, as phrases per rule index; empty when POST and PUT
    are both served properly; None when no rule admits the origin at all."""
    problems: dict[int, list[str]] = {}
    for method in NEEDED_METHODS:
        index = _rule_for(rules, origin, method)
        if index is None:
            return None
        for _, phrase in _gaps(rules[index], origin, method):
            if phrase not in problems.setdefault(index, []):
                problems[index].append(phrase)
    return {index: phrases for index, phrases in problems.items() if phrases}


def _repaired(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule with the methods and headers the uploader needs added, and ETag exposed."""
    rule = dict(rule)
    methods = list(rule.get("AllowedMethods", []))
    rule["AllowedMethods"] = methods + [m for m in NEEDED_METHODS if m not in {x.upper() for x in methods}]
    headers = list(rule.get("AllowedHeaders", []))
    rule["AllowedHeaders"] = headers + [
        h for h in NEEDED_HEADERS if not any(_matches(p, h, case=False) for p in headers)
    ]
    exposed = list(rule.get("ExposeHeaders", []))
    if NEEDED_EXPOSED.lower() not in {h.lower() for h in exposed}:
        exposed.append(NEEDED_EXPOSED)
    rule["ExposeHeaders"] = exposed
    return rule


def judge_cors(review: Review) -> Finding:
    origin = review.app_origin
    if not origin:
        return _check("cors", review, Status.UNKNOWN, "Could not check: the app's origin (its URL) is not known.")
    rules = list((review.settings["cors"] or {}).get("CORSRules", []))
    if not rules:
        fix = review.command("put-bucket-cors", "--cors-configuration", _json_arg(cors_rule([origin])))
        return _check("cors", review, Status.FAIL, "The bucket has no CORS rule: browsers cannot upload to it.", fix)
    problems = cors_problems(rules, origin)
    if problems == {}:
        anyone = any("*" in rule.get("AllowedOrigins", []) for rule in rules)
        note = " (a rule admits every origin, *)" if anyone else ""
        return _check(
            "cors",
            review,
            Status.PASS,
            f"CORS lets {origin} POST and PUT with the checksum and content-type headers and read ETag{note}.",
        )
    if problems is None:
        fixed = [*rules, cors_rule([origin])["CORSRules"][0]]
        summary = f"No CORS rule admits the origin {origin}."
    else:
        fixed = [_repaired(rule) if i in problems else rule for i, rule in enumerate(rules)]
        summary = " ".join(f"CORS rule {i + 1} {', '.join(phrases)}." for i, phrases in sorted(problems.items()))
    fix = review.command("put-bucket-cors", "--cors-configuration", _json_arg({"CORSRules": fixed}))
    return _check("cors", review, Status.FAIL, summary, fix)


# --- The checklist ------------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check(
        "public_access_block",
        ("public_access_block",),
        "The public access block overrides any ACL or policy that would make objects public; with all four settings on, a mistake elsewhere cannot expose the bucket.",
        judge_public_access_block,
        "MinIO: mc anonymous set none ALIAS/{bucket}",
    ),
    Check(
        "policy_public",
        ("policy",),
        "A policy statement that allows Principal * without a condition on source network, account or organisation lets anyone on the internet do what it allows.",
        judge_policy_public,
        "MinIO: mc anonymous get-json ALIAS/{bucket}, then mc anonymous set-json policy.json ALIAS/{bucket}",
    ),
    Check(
        "policy_tls",
        ("policy",),
        "Without a statement denying aws:SecureTransport false, clients may read and write over plain HTTP, where anyone on the path can see or change the bytes.",
        judge_policy_tls,
    ),
    Check(
        "object_ownership",
        ("ownership_controls",),
        "With BucketOwnerEnforced, ACLs are disabled and access is decided by policies alone; otherwise an ACL on one object can open it to the world.",
        judge_object_ownership,
    ),
    Check(
        "acl_grants",
        ("acl",),
        "A grant to AllUsers opens the bucket to everyone; a grant to AuthenticatedUsers opens it to anyone with any AWS account.",
        judge_acl_grants,
    ),
    Check(
        "encryption",
        ("encryption",),
        "Default encryption encrypts every new object at rest without the uploader asking for it.",
        judge_encryption,
        "MinIO: mc encrypt set sse-s3 ALIAS/{bucket}",
    ),
    Check(
        "versioning",
        ("versioning",),
        "With versioning, an overwritten or deleted object can be restored from its previous version.",
        judge_versioning,
        "MinIO: mc version enable ALIAS/{bucket}",
    ),
    Check(
        "noncurrent_expiry",
        ("versioning", "lifecycle"),
        "With versioning on, every overwrite and delete keeps the old bytes; a rule expiring noncurrent versions bounds what they cost.",
        judge_noncurrent_expiry,
        "MinIO: mc ilm rule add --noncurrent-expire-days 30 ALIAS/{bucket}",
    ),
    Check(
        "object_lock",
        ("object_lock",),
        "Object lock (write once, read many) keeps objects from being deleted or overwritten during a retention period, against mistakes and ransomware; it also stops deletes from this app within that period. It needs versioning on.",
        judge_object_lock,
        "MinIO: object lock can only be chosen when a bucket is made: mc mb --with-lock ALIAS/NEW-BUCKET",
    ),
    Check(
        "abort_multipart",
        ("lifecycle",),
        "Parts of a multipart upload nobody finished (a closed tab that never came back) are stored and billed, yet listed nowhere but as unfinished uploads; a lifecycle rule removes them after a few days (until then this app can resume them).",
        judge_abort_multipart,
        "MinIO: unfinished uploads are removed by the server itself (api stale_uploads_expiry, 24h by default)",
    ),
    Check(
        "access_logging",
        ("logging",),
        "Server access logs record every request to the bucket (who, what, from where), including those not made through this app, whose own audit log records only its actions.",
        judge_access_logging,
        "MinIO: send the audit log to a webhook: mc admin config set ALIAS audit_webhook endpoint=URL",
    ),
    Check(
        "cors",
        ("cors",),
        "Browsers send files straight to the bucket: its CORS rule must admit this app's origin for POST (single files) and PUT (parts of large files) with the x-amz-checksum-sha256 and content-type headers, and expose ETag, without which a large file cannot be completed.",
        judge_cors,
        "MinIO: mc cors set ALIAS/{bucket} cors.xml (older MinIO servers take CORS only from MINIO_API_CORS_ALLOW_ORIGIN)",
    ),
)
CHECKS_BY_NAME = {check.name: check for check in CHECKS}
# How the page names each check (the ids above stay stable for tests and scripts).
TITLES: dict[str, str] = {
    "public_access_block": "Public access block",
    "policy_public": "Bucket policy: open to everyone",
    "policy_tls": "Bucket policy: TLS only",
    "object_ownership": "Object ownership (ACLs disabled)",
    "acl_grants": "ACL grants to everyone",
    "encryption": "Default encryption",
    "versioning": "Versioning",
    "noncurrent_expiry": "Expiry of noncurrent versions",
    "object_lock": "Object lock",
    "abort_multipart": "Lifecycle rule aborting unfinished uploads",
    "access_logging": "Server access logging",
    "cors": "CORS for this app",
}


def origin_of(url: str | None) -> str | None:
    """The origin (scheme://host[:port]) browsers send for a page at `url`; None when unknown."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def summarise(findings: Iterable[Finding]) -> dict[Status, int]:
    """How many findings have each status, in Status order (for the page's headline)."""
    counts = dict.fromkeys(Status, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts
