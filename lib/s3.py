"""The one gateway to S3: clients (retries, timeouts, endpoints) and the calls bucketdesk makes.

Two clients per profile: `client` talks to the endpoint the *server* reaches; `signer` signs
grants for the endpoint the *browser* reaches (`public_endpoint_url`), because a presigned URL's
host is part of its signature. Every botocore failure leaves this module as a `StorageError`
subclass carrying a sentence and a hint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from lib.config import BucketProfile
from lib.errors import (
    AccessDenied,
    BadCredentials,
    BucketNotFound,
    EndpointUnreachable,
    StorageError,
    Throttled,
)

_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503", "ServiceUnavailable"}
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}


def make_client(profile: BucketProfile, endpoint_url: str | None = None, *, max_pool_connections: int = 10):
    """A boto3 S3 client for the profile; endpoint None means boto3's own chain decides.

    `max_pool_connections` (botocore's default is 10) must cover the threads that share the client,
    or the extra threads queue for a connection (a parallel listing uses one per worker)."""
    session = boto3.session.Session(
        profile_name=profile.aws_profile,
        aws_access_key_id=profile.access_key_id,
        aws_secret_access_key=profile.secret_access_key,
        region_name=profile.region,
    )
    config = Config(
        signature_version="s3v4",
        # Adaptive retries back off on SlowDown/503 instead of hammering a throttled bucket.
        retries={"max_attempts": 5, "mode": "adaptive"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": profile.addressing_style},
        # Checksums only when an operation requires them: not every S3-compatible store speaks CRC32.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        return session.client(
            "s3", endpoint_url=endpoint_url, region_name=session.region_name or "us-east-1", config=config
        )
    except BotoCoreError as exc:  # e.g. an unknown aws_profile
        raise storage_error(exc, f"connecting to bucket {profile.bucket}") from exc


@dataclass
class S3Gateway:
    profile: BucketProfile

    @cached_property
    def client(self):
        return make_client(self.profile, self.profile.endpoint_url)

    @cached_property
    def signer(self):
        """Signs for the browser's endpoint; the same client when the browser reaches the same one."""
        if not self.profile.public_endpoint_url or self.profile.public_endpoint_url == self.profile.endpoint_url:
            return self.client
        return make_client(self.profile, self.profile.public_endpoint_url)

    @property
    def bucket(self) -> str:
        return self.profile.bucket

    def head(self, key: str) -> dict[str, Any] | None:
        """HEAD an object; None when it does not exist."""
        try:
            with storage_errors(f"reading {key}"):
                # ChecksumMode: without it S3 leaves out the object's stored SHA-256.
                return self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except StorageError as exc:
            if exc.code in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def read(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        """Bytes first..last (inclusive) of an object; the whole object when last is None."""
        kwargs = {"Range": f"bytes={first}-{'' if last is None else last}"} if (first or last is not None) else {}
        with storage_errors(f"reading {key}"):
            return self.client.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"].read()

    def delete(self, key: str) -> None:
        with storage_errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def move(self, key: str, new_key: str) -> None:
        """Copy then delete (S3 has no rename); managed copy handles objects over 5 GiB."""
        with storage_errors(f"moving {key}"):
            self.client.copy({"Bucket": self.bucket, "Key": key}, self.bucket, new_key)
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def presign_get(self, key: str, expires_in: int = 3600, disposition: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        with storage_errors(f"signing a link to {key}"):
            return self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def presign_post(self, key: str, fields: dict, conditions: list, expires_in: int) -> dict:
        with storage_errors(f"signing an upload to {key}"):
            return self.signer.generate_presigned_post(
                Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
            )

    def check_bucket(self) -> None:
        """Raise a specific StorageError when the bucket is missing, forbidden or unreachable."""
        with storage_errors(f"opening bucket {self.bucket}"):
            self.client.head_bucket(Bucket=self.bucket)

    # --- Browse: listings, details, thumbnails -------------------------------------------------

    def list_page(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = "/",
        max_keys: int = 1000,
        token: str | None = None,
        start_after: str | None = None,
    ) -> dict[str, Any]:
        """One ListObjectsV2 request: at most `max_keys` keys and common prefixes, in key order.

        `token` (a NextContinuationToken) or `start_after` (a key) says where the page begins; S3
        seeks there in its index, so the request costs the same wherever it starts. boto3 asks for
        URL-encoded keys and decodes them, so keys with spaces, `+`, `%` or control characters
        arrive exactly as stored.
        """
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if delimiter:
            params["Delimiter"] = delimiter
        if token:
            params["ContinuationToken"] = token
        elif start_after:
            params["StartAfter"] = start_after
        where = f"/{prefix}" if prefix else "the top level"
        with storage_errors(f"listing {where} of bucket {self.bucket}"):
            return self.client.list_objects_v2(**params)

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        metadata: dict[str, str] | None = None,
        cache_control: str | None = None,
    ) -> None:
        """Store a small object the app itself made (a thumbnail); never used for user files."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body, "ContentType": content_type}
        if metadata:
            params["Metadata"] = metadata
        if cache_control:
            params["CacheControl"] = cache_control
        with storage_errors(f"writing {key}"):
            self.client.put_object(**params)

    def tags(self, key: str) -> dict[str, str]:
        """The object's tags (s3:GetObjectTagging)."""
        with storage_errors(f"reading the tags of {key}"):
            response = self.client.get_object_tagging(Bucket=self.bucket, Key=key)
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    def versioning(self) -> str:
        """`Enabled`, `Suspended`, or "" for a bucket that never had versioning."""
        with storage_errors(f"reading the versioning setting of bucket {self.bucket}"):
            return self.client.get_bucket_versioning(Bucket=self.bucket).get("Status", "")

    def versions(self, key: str, limit: int = 100) -> tuple[list[dict[str, Any]], bool]:
        """Versions and delete markers of exactly `key`, newest first; True when more than `limit` exist.

        S3 lists versions by prefix, so other keys that start with this one are skipped; listing
        stops as soon as it passes the key (versions come in key order).
        """
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key, "MaxKeys": min(1000, limit + 1)}
        with storage_errors(f"listing the versions of {key}"):
            while True:
                response = self.client.list_object_versions(**params)
                entries = [dict(v, IsDeleteMarker=False) for v in response.get("Versions", [])]
                entries += [dict(m, IsDeleteMarker=True) for m in response.get("DeleteMarkers", [])]
                mine = [entry for entry in entries if entry.get("Key") == key]
                found.extend(mine)
                passed = any(entry.get("Key", "") > key for entry in entries)
                if len(found) > limit or passed or not response.get("IsTruncated"):
                    break
                params["KeyMarker"] = response.get("NextKeyMarker")
                params["VersionIdMarker"] = response.get("NextVersionIdMarker")
        found.sort(key=lambda entry: (bool(entry.get("IsLatest")), str(entry.get("LastModified", ""))), reverse=True)
        return found[:limit], len(found) > limit

    # --- Multipart uploads (large files: lib/multipart.py) -------------------------------------
    # The browser sends the parts to presigned URLs; the server starts, lists, completes and aborts.

    def create_multipart(
        self,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
        content_disposition: str,
        checksum: bool,
    ) -> str:
        """CreateMultipartUpload with the same pins a POST grant has; returns the upload id.

        With `checksum`, every part must carry its SHA-256 and the object gets a composite one."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentDisposition": content_disposition,
            "Metadata": metadata,
        }
        if checksum:
            params["ChecksumAlgorithm"] = "SHA256"
        with storage_errors(f"starting a multipart upload to {key}"):
            return self.client.create_multipart_upload(**params)["UploadId"]

    def presign_upload_part(self, key: str, upload_id: str, number: int, sha256: str | None, expires_in: int) -> str:
        """A PUT URL for one part. With `sha256`, `x-amz-checksum-sha256` is a signed header: the
        browser must send exactly that value, and the bucket checks the part's bytes against it."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": number}
        if sha256:
            params["ChecksumSHA256"] = sha256
        with storage_errors(f"signing part {number} of {key}"):
            return self.signer.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        """Every part the bucket holds for an upload (ListParts, all pages), in part-number order."""
        parts: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "MaxParts": 1000}
        with storage_errors(f"listing the parts of {key}"):
            while True:
                response = self.client.list_parts(**params)
                parts.extend(response.get("Parts", []))
                if not response.get("IsTruncated"):
                    break
                params["PartNumberMarker"] = response["NextPartNumberMarker"]
        return sorted(parts, key=lambda part: part["PartNumber"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """CompleteMultipartUpload; `parts` are {PartNumber, ETag[, ChecksumSHA256]} in order."""
        with storage_errors(f"completing the upload of {key}"):
            return self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload: the parts are deleted and the upload id stops working."""
        with storage_errors(f"aborting the upload of {key}"):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def list_multipart_uploads(self, prefix: str = "") -> list[dict[str, Any]]:
        """Uploads started and neither completed nor aborted (for the audit page), all pages."""
        uploads: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        with storage_errors(f"listing unfinished uploads in bucket {self.bucket}"):
            while True:
                response = self.client.list_multipart_uploads(**params)
                uploads.extend(response.get("Uploads", []))
                if not response.get("IsTruncated"):
                    break
                params["KeyMarker"] = response.get("NextKeyMarker")
                params["UploadIdMarker"] = response.get("NextUploadIdMarker")
        return uploads


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Translate botocore exceptions raised inside into StorageError subclasses with sentences."""
    try:
        yield
    except StorageError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def storage_error(exc: Exception, action: str) -> StorageError:
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return BadCredentials(
            f"No AWS credentials were found while {action}.",
            "Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role for the app server.",
            code="NoCredentials",
        )
    if isinstance(exc, NoRegionError):
        return StorageError(f"No AWS region is configured while {action}.", "Set AWS_REGION or the profile's region.")
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError)):
        return EndpointUnreachable(
            f"The S3 endpoint could not be reached while {action}.",
            "Check the endpoint URL (AWS_ENDPOINT_URL_S3 or the profile's endpoint_url), the network, and that the service is running.",
            code="EndpointUnreachable",
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        detail = error.get("Message") or code
        if code in {"NoSuchBucket"}:
            return BucketNotFound(
                f"The bucket does not exist ({action}).", "Check the bucket name and region of the profile.", code
            )
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return AccessDenied(
                f"Access was denied while {action}.",
                "The app's credentials need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on this bucket.",
                code,
            )
        if code in _CREDENTIAL_CODES:
            return BadCredentials(
                f"The bucket rejected the app's credentials while {action} ({code}).",
                "Check the access key, secret and session token, and that the server's clock is right.",
                code,
            )
        if code in _THROTTLE_CODES:
            return Throttled(
                f"The bucket is throttling requests ({action}).",
                "Wait a moment and try again; the app already retried with backoff.",
                code,
            )
        if code == "404" and action.startswith("opening bucket"):
            return BucketNotFound(
                f"The bucket does not exist ({action}).", "Check the bucket name and region of the profile.", code
            )
        return StorageError(f"S3 refused while {action}: {detail}", "", code)
    return StorageError(
        f"S3 failed while {action}: {exc}", "Try again; if it persists, check the endpoint and credentials."
    )
