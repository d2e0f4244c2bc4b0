"""lib.audit.config_review: each check passes a bucket configured well and fails (or warns about)
one configured badly; stores that do not implement a call give `unsupported`, refusals `unknown`."""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lib.audit.config_review import (
    CHECKS,
    PERMISSIONS,
    Finding,
    Review,
    Status,
    cors_problems,
    judge_policy_tls,
    run_review,
)
from lib.config import BucketProfile
from lib.errors import EndpointUnreachable
from lib.s3 import S3Gateway
from tests.unit.helpers import REGION

pytestmark = pytest.mark.unit

ORIGIN = "https://desk.example.com"
GOOD_CORS = {
    "AllowedOrigins": [ORIGIN],
    "AllowedMethods": ["GET", "POST", "PUT"],
    "AllowedHeaders": ["x-amz-checksum-sha256", "Content-Type"],
    "ExposeHeaders": ["ETag"],
}


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    """A fresh bucket of its own: configurations outlive the objects the shared bucket is emptied of."""
    name = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    drop_bucket(s3, name)


def drop_bucket(s3, name: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def gateway(bucket) -> S3Gateway:
    return S3Gateway(BucketProfile(name="unit", bucket=bucket, region=REGION))


def finding(gateway: S3Gateway, check: str, origin: str | None = ORIGIN) -> Finding:
    found = {f.check: f for f in run_review(gateway, origin)}
    return found[check]


def apply_fix(s3, fix: str) -> None:
    """Run a fix command whose argument is JSON through boto3, as the AWS CLI would."""
    words = shlex.split(fix)
    assert words[:2] == ["aws", "s3api"]
    operation, bucket, document = words[2], words[words.index("--bucket") + 1], json.loads(words[-1])
    calls = {
        "put-bucket-policy": lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document)),
        "put-bucket-lifecycle-configuration": lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=document
        ),
        "put-bucket-cors": lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=document),
        "put-bucket-encryption": lambda: s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration=document
        ),
    }
    calls[operation]()


def test_every_check_gives_one_finding_for_a_bucket_with_nothing_configured(gateway):
    findings = run_review(gateway, ORIGIN)
    assert [f.check for f in findings] == [check.name for check in CHECKS]
    statuses = {f.check: f.status for f in findings}
    assert statuses["cors"] is Status.FAIL
    assert statuses["policy_public"] is Status.PASS
    assert statuses["versioning"] is Status.WARN
    assert all(f.fix_command.startswith("aws s3api ") for f in findings if f.fix_command)
    assert all(f"--bucket {gateway.bucket}" in f.fix_command for f in findings if f.fix_command)


# --- Public access block ------------------------------------------------------------------------


def test_public_access_block_passes_with_all_four_flags_on(s3, gateway, bucket):
    flags = dict.fromkeys(["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    assert finding(gateway, "public_access_block").status is Status.PASS


def test_public_access_block_fails_naming_each_flag_left_off(s3, gateway, bucket):
    flags = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    found = finding(gateway, "public_access_block")
    assert found.status is Status.FAIL
    assert "IgnorePublicAcls" in found.summary and "RestrictPublicBuckets" in found.summary
    assert "BlockPublicAcls" not in found.summary
    assert "RestrictPublicBuckets=true" in found.fix_command


def test_public_access_block_missing_is_a_warning_that_mentions_the_account_setting(gateway):
    found = finding(gateway, "public_access_block")
    assert found.status is Status.WARN and "account" in found.summary


# --- Bucket policy ------------------------------------------------------------------------------


def policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def read_all(bucket: str, **more) -> dict:
    return {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        **more,
    }


def deny_http(bucket: str) -> dict:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_a_statement_open_to_everyone_fails_and_its_fix_keeps_the_other_statements(s3, gateway, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, read_all(bucket), deny_http(bucket)))
    found = finding(gateway, "policy_public")
    assert found.status is Status.FAIL
    assert '"PublicRead"' in found.summary and "s3:GetObject" in found.summary
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "policy_public").status is Status.PASS
    assert finding(gateway, "policy_tls").status is Status.PASS


def test_principal_aws_star_counts_as_open(s3, gateway, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, read_all(bucket, Principal={"AWS": ["*"]})))
    found = finding(gateway, "policy_public")
    assert found.status is Status.FAIL
    assert found.fix_command.startswith("aws s3api delete-bucket-policy")


def test_an_open_statement_limited_by_source_network_passes(s3, gateway, bucket):
    limited = read_all(bucket, Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, limited))
    assert finding(gateway, "policy_public").status is Status.PASS


def test_a_tls_condition_alone_does_not_limit_who_may_read(s3, gateway, bucket):
    tls_only = read_all(bucket, Condition={"Bool": {"aws:SecureTransport": "true"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, tls_only))
    assert finding(gateway, "policy_public").status is Status.FAIL


def test_no_tls_only_statement_warns_and_the_fix_adds_one(s3, gateway, bucket):
    s3.put_bucket_policy(
        Bucket=bucket, Policy=policy(bucket, read_all(bucket, Condition={"StringEquals": {"aws:SourceVpce": "v"}}))
    )
    found = finding(gateway, "policy_tls")
    assert found.status is Status.WARN and "aws:SecureTransport" in found.summary
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "policy_tls").status is Status.PASS
    assert finding(gateway, "policy_public").status is Status.PASS  # the existing statement was kept


def test_tls_warning_says_when_the_app_itself_uses_plain_http():
    review = Review("assets", "http://minio.internal:9000", ORIGIN, "logs", settings={"policy": None})
    found = judge_policy_tls(review)
    assert found.status is Status.WARN and "plain HTTP" in found.summary
    assert "--endpoint-url http://minio.internal:9000" in found.fix_command


# --- ACLs and object ownership ------------------------------------------------------------------


def test_bucket_owner_enforced_passes_and_object_writer_warns(s3, gateway, bucket):
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    found = finding(gateway, "object_ownership")
    assert found.status is Status.WARN and "ObjectWriter" in found.summary
    assert "BucketOwnerEnforced" in found.fix_command
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    assert finding(gateway, "object_ownership").status is Status.PASS


def test_an_acl_granting_all_users_fails_and_a_private_one_passes(s3, gateway, bucket):
    assert finding(gateway, "acl_grants").status is Status.PASS
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    found = finding(gateway, "acl_grants")
    assert found.status is Status.FAIL and "AllUsers" in found.summary and "READ" in found.summary
    assert found.fix_command.endswith("--acl private")


# --- Encryption, versioning, object lock --------------------------------------------------------


def test_default_encryption_passes_when_set_and_warns_when_not(s3, gateway, bucket):
    found = finding(gateway, "encryption")
    assert found.status is Status.WARN
    apply_fix(s3, found.fix_command)
    found = finding(gateway, "encryption")
    assert found.status is Status.PASS and "AES256" in found.summary


def test_versioning_on_passes_suspended_warns(s3, gateway, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert finding(gateway, "versioning").status is Status.PASS
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    found = finding(gateway, "versioning")
    assert found.status is Status.WARN and "suspended" in found.summary


def test_noncurrent_expiry_is_not_needed_without_versioning(gateway):
    found = finding(gateway, "noncurrent_expiry")
    assert found.status is Status.PASS and "versioning is off" in found.summary


def test_versioning_without_a_noncurrent_rule_warns_and_the_fix_keeps_existing_rules(s3, gateway, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keep = {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [keep]})
    found = finding(gateway, "noncurrent_expiry")
    assert found.status is Status.WARN
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "noncurrent_expiry").status is Status.PASS
    # One fix adds every missing recommended rule, so the abort rule arrived too, and "tmp" stayed.
    assert finding(gateway, "abort_multipart").status is Status.PASS
    ids = {rule["ID"] for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert "tmp" in ids


def test_object_lock_passes_on_a_locked_bucket_and_warns_otherwise(s3, gateway):
    assert finding(gateway, "object_lock").status is Status.WARN
    locked = f"audit-lock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    try:
        found = finding(S3Gateway(BucketProfile(name="l", bucket=locked, region=REGION)), "object_lock")
        assert found.status is Status.PASS
    finally:
        drop_bucket(s3, locked)


# --- Lifecycle: unfinished multipart uploads ----------------------------------------------------


def lifecycle(s3, bucket: str, prefix: str) -> None:
    rule = {
        "ID": "abort",
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})


def test_abort_rule_for_the_whole_bucket_passes(s3, gateway, bucket):
    lifecycle(s3, bucket, "")
    found = finding(gateway, "abort_multipart")
    assert found.status is Status.PASS and "3 days" in found.summary


def test_abort_rule_under_one_prefix_only_warns_naming_it(s3, gateway, bucket):
    lifecycle(s3, bucket, "uploads/")
    found = finding(gateway, "abort_multipart")
    assert found.status is Status.WARN and "uploads/" in found.summary


def test_no_abort_rule_warns_and_its_fix_adds_one(s3, gateway, bucket):
    found = finding(gateway, "abort_multipart")
    assert found.status is Status.WARN
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "abort_multipart").status is Status.PASS


# --- Server access logging ----------------------------------------------------------------------


def test_access_logging_passes_when_on_and_warns_when_off(s3, gateway, bucket):
    found = finding(gateway, "access_logging")
    assert found.status is Status.WARN and f"{bucket}-access-logs" in found.fix_command
    logs = f"audit-logs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=logs)
    try:
        s3.put_bucket_acl(Bucket=logs, ACL="log-delivery-write")
        status = {"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "b/"}}
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status)
        found = finding(gateway, "access_logging")
        assert found.status is Status.PASS and f"s3://{logs}/b/" in found.summary
    finally:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
        drop_bucket(s3, logs)


# --- CORS for this app --------------------------------------------------------------------------


def cors(s3, bucket: str, *rules: dict) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": list(rules)})


def test_cors_rule_with_everything_the_uploader_needs_passes(s3, gateway, bucket):
    cors(s3, bucket, GOOD_CORS)
    assert finding(gateway, "cors").status is Status.PASS


def test_cors_rule_lacking_expose_etag_fails_naming_etag_and_the_fix_repairs_it(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, ExposeHeaders=["x-amz-request-id"]))
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL
    assert found.summary == "CORS rule 1 does not expose ETag."
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "cors").status is Status.PASS
    assert "x-amz-request-id" in s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["ExposeHeaders"]


def test_cors_rule_lacking_put_fails_naming_put(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, AllowedMethods=["GET", "POST"]))
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL and found.summary == "CORS rule 1 does not allow PUT."


def test_cors_rule_lacking_the_checksum_header_fails_naming_it(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, AllowedHeaders=["content-type"]))
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL
    assert found.summary == "CORS rule 1 does not allow the header x-amz-checksum-sha256."


def test_cors_rule_for_another_origin_fails_and_the_fix_adds_a_rule_for_this_one(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, AllowedOrigins=["https://other.example.com"]))
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL and found.summary == f"No CORS rule admits the origin {ORIGIN}."
    apply_fix(s3, found.fix_command)
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert [rule["AllowedOrigins"] for rule in rules] == [["https://other.example.com"], [ORIGIN]]
    assert finding(gateway, "cors").status is Status.PASS


def test_cors_rule_admitting_every_origin_passes_and_says_so(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, AllowedOrigins=["*"], AllowedHeaders=["*"]))
    found = finding(gateway, "cors")
    assert found.status is Status.PASS and "every origin" in found.summary


def test_cors_wildcard_origin_pattern_admits_a_matching_origin_only():
    rule = dict(GOOD_CORS, AllowedOrigins=["https://*.example.com"])
    assert cors_problems([rule], ORIGIN) == {}
    assert cors_problems([rule], "https://desk.example.org") is None


def test_cors_rules_split_by_method_are_each_checked_and_each_repaired(s3, gateway, bucket):
    post = dict(GOOD_CORS, AllowedMethods=["POST"])
    put = dict(GOOD_CORS, AllowedMethods=["PUT"], ExposeHeaders=[])
    cors(s3, bucket, post, put)
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL and found.summary == "CORS rule 2 does not expose ETag."
    apply_fix(s3, found.fix_command)
    assert finding(gateway, "cors").status is Status.PASS


def test_cors_first_matching_rule_decides_so_a_later_good_rule_does_not_help(s3, gateway, bucket):
    cors(s3, bucket, dict(GOOD_CORS, ExposeHeaders=[]), GOOD_CORS)
    found = finding(gateway, "cors")
    assert found.status is Status.FAIL and found.summary == "CORS rule 1 does not expose ETag."


def test_cors_several_gaps_are_all_named(s3, gateway, bucket):
    cors(s3, bucket, {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET"]})
    found = finding(gateway, "cors")
    for gap in ("POST", "PUT", "x-amz-checksum-sha256", "content-type", "ETag"):
        assert gap in found.summary


def test_cors_without_the_apps_origin_is_unknown(gateway):
    found = finding(gateway, "cors", origin=None)
    assert found.status is Status.UNKNOWN and "origin" in found.summary


# --- Stores that do not implement a call, and refusals ------------------------------------------


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Get"
    )


def refuse(monkeypatch, gateway: S3Gateway, operation: str, error: Exception) -> None:
    def raise_error(**_):
        raise error

    monkeypatch.setattr(gateway.client, operation, raise_error)


@pytest.mark.parametrize("code", ["NotImplemented", "NotImplementedError", "XNotImplemented"])
def test_a_store_answering_not_implemented_is_unsupported_not_failed(monkeypatch, gateway, code):
    refuse(monkeypatch, gateway, "get_bucket_ownership_controls", client_error(code, 501))
    found = finding(gateway, "object_ownership")
    assert found.status is Status.UNSUPPORTED
    assert "Not supported by this store" in found.summary and "GetBucketOwnershipControls" in found.summary


def test_a_bare_501_is_unsupported_too(monkeypatch, gateway):
    refuse(monkeypatch, gateway, "get_bucket_cors", client_error("", 501))
    found = finding(gateway, "cors")
    assert found.status is Status.UNSUPPORTED and "mc cors set" in found.alternative


def test_unsupported_lifecycle_makes_both_lifecycle_checks_unsupported_and_nothing_else(monkeypatch, gateway):
    refuse(monkeypatch, gateway, "get_bucket_lifecycle_configuration", client_error("NotImplemented", 501))
    statuses = {f.check: f.status for f in run_review(gateway, ORIGIN)}
    assert statuses["abort_multipart"] is Status.UNSUPPORTED
    assert statuses["noncurrent_expiry"] is Status.UNSUPPORTED
    assert [name for name, status in statuses.items() if status is Status.UNSUPPORTED] == [
        "noncurrent_expiry",
        "abort_multipart",
    ]


def test_access_denied_is_unknown_naming_the_missing_permission(monkeypatch, gateway):
    refuse(monkeypatch, gateway, "get_bucket_encryption", client_error("AccessDenied", 403))
    found = finding(gateway, "encryption")
    assert found.status is Status.UNKNOWN and "s3:GetEncryptionConfiguration" in found.summary


def test_an_unreachable_store_raises_once_instead_of_twelve_unknowns(monkeypatch, gateway):
    refuse(monkeypatch, gateway, "get_public_access_block", EndpointConnectionError(endpoint_url="http://x"))
    with pytest.raises(EndpointUnreachable):
        run_review(gateway, ORIGIN)


def test_readme_names_every_permission_and_check_of_the_review():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for permission in [*PERMISSIONS.values(), "s3:ListBucketMultipartUploads", "s3:AbortMultipartUpload"]:
        assert f"`{permission}`" in readme, permission
    for check in CHECKS:
        assert f"| `{check.name}` |" in readme, check.name
