"""The whole configuration review against LocalStack: every check answers with a status (none
raises, whatever LocalStack implements), and the CORS check reads a real bucket's rule."""

from __future__ import annotations

import pytest

from lib.audit.config_review import CHECKS, Status, run_review
from lib.audit.hidden import abort_upload, unfinished_uploads

pytestmark = pytest.mark.enforce


def test_every_check_returns_a_status_against_localstack(gateway, allowed_origin):
    findings = run_review(gateway, allowed_origin)
    assert [f.check for f in findings] == [check.name for check in CHECKS]
    assert all(isinstance(f.status, Status) and f.summary for f in findings)
    # The fixture's rule admits the origin for POST only: PUT (parts of large files) is missing.
    cors = next(f for f in findings if f.check == "cors")
    assert cors.status is Status.FAIL and "does not allow PUT" in cors.summary


def test_a_cors_rule_lacking_expose_etag_is_reported_as_failing_naming_etag(s3, bucket, gateway, allowed_origin):
    rule = {
        "AllowedOrigins": [allowed_origin],
        "AllowedMethods": ["POST", "PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["Location"],
    }
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    cors = next(f for f in run_review(gateway, allowed_origin) if f.check == "cors")
    assert cors.status is Status.FAIL
    assert cors.summary == "CORS rule 1 does not expose ETag."
    assert f"--endpoint-url {gateway.profile.endpoint_url}" in cors.fix_command


def test_an_unfinished_upload_is_listed_and_aborting_it_leaves_nothing(s3, bucket, gateway):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big.bin")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="uploads/big.bin", UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    (found,), _ = unfinished_uploads(gateway)
    assert (found.key, found.parts, found.bytes_stored) == ("uploads/big.bin", 1, 1024)
    assert abort_upload(gateway, "uploads/big.bin", upload_id).bytes_freed == 1024
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
