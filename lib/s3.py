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

from lib import s3_listing
from lib.config import BucketProfile
from lib.errors import (
    BadCredentials,
    NotFound,
    StorageError,
    storage_error_for,
)

# Bucket configurations the audit reads: name -> (boto3 operation, error codes meaning "none set").
BUCKET_CONFIGURATIONS: dict[str, tuple[str, frozenset[str]]] = {
    "public_access_block": ("get_public_access_block", frozenset({"NoSuchPublicAccessBlockConfiguration"})),
    "policy": ("get_bucket_policy", frozenset({"NoSuchBucketPolicy"})),
    "acl": ("get_bucket_acl", frozenset()),
    "ownership_controls": ("get_bucket_ownership_controls", frozenset({"OwnershipControlsNotFoundError"})),
    "encryption": ("get_bucket_encryption", frozenset({"ServerSideEncryptionConfigurationNotFoundError"})),
    "versioning": ("get_bucket_versioning", frozenset()),
    "object_lock": ("get_object_lock_configuration", frozenset({"ObjectLockConfigurationNotFoundError"})),
    "lifecycle": ("get_bucket_lifecycle_configuration", frozenset({"NoSuchLifecycleConfiguration"})),
    "logging": ("get_bucket_logging", frozenset()),
    "cors": ("get_bucket_cors", frozenset({"NoSuchCORSConfiguration"})),
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
        # Enough connections for a parallel listing's workers, so it shares this client instead of
        # building a second one (a client costs 0.2-0.6 s of CPU to make).
        pool = max(10, self.profile.listing_concurrency)
        return make_client(self.profile, self.profile.endpoint_url, max_pool_connections=pool)

    @cached_property
    def signer(self):
        """Signs for the browser's endpoint; the same client when the browser reaches the same one."""
        if not self.profile.public_endpoint_url or self.profile.public_endpoint_url == self.profile.endpoint_url:
            return self.client
        return make_client(self.profile, self.profile.public_endpoint_url)

    @property
    def bucket(self) -> str:
        return self.profile.bucket

    def head(self, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """HEAD an object (a given version of it, when named); None when it does not exist."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        try:
            with storage_errors(f"reading {key}"):
                # ChecksumMode: without it S3 leaves out the object's stored SHA-256.
                return self.client.head_object(**params, ChecksumMode="ENABLED")
        except NotFound:
            return None

    def read(self, key: str, first: int = 0, last: int | None = None, *, etag: str | None = None) -> bytes:
        """Bytes first..last (inclusive) of an object; the whole object when last is None.

        With `etag`, only that version is read (IfMatch): an object swapped since it was listed or
        checked fails with PreconditionFailed instead of being read whole."""
        kwargs: dict[str, Any] = {}
        if first or last is not None:
            kwargs["Range"] = f"bytes={first}-{'' if last is None else last}"
        if etag:
            kwargs["IfMatch"] = etag if etag.startswith('"') else f'"{etag}"'
        with storage_errors(f"reading {key}"):
            return self.client.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"].read()

    def peek(self, key: str, max_bytes: int) -> tuple[dict[str, Any], bytes] | None:
        """An object's headers (the fields `head` gives) and its first `max_bytes` bytes, from one GET; None
        when it does not exist. Headers and bytes come from one response, so they are of one version; an
        object larger than `max_bytes` is not read further (its connection is dropped, not drained)."""
        try:
            with storage_errors(f"reading {key}"):
                response = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
                body = response.pop("Body")
                length = response.get("ContentLength")
                if isinstance(length, int) and length <= max_bytes:
                    data = body.read()  # to its end: the connection goes back to the pool
                else:
                    try:
                        data = body.read(max_bytes) if max_bytes > 0 else b""
                    finally:
                        body.close()
        except NotFound:
            return None
        return response, data

    def delete(self, key: str) -> None:
        with storage_errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def move(self, key: str, new_key: str) -> None:
        """Copy then delete (S3 has no rename); managed copy handles objects over 5 GiB.

        A managed copy above its multipart threshold (8 MiB) starts a new upload that carries none
        of the source's headers, so Content-Type, Content-Disposition and metadata are passed along."""
        with storage_errors(f"moving {key}"):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            extra: dict[str, Any] = {"Metadata": head.get("Metadata") or {}, "MetadataDirective": "REPLACE"}
            for header in ("ContentType", "ContentDisposition", "ContentEncoding", "ContentLanguage", "CacheControl"):
                if head.get(header):
                    extra[header] = head[header]
            self.client.copy({"Bucket": self.bucket, "Key": key}, self.bucket, new_key, ExtraArgs=extra)
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def presign_get(
        self,
        key: str,
        expires_in: int = 3600,
        disposition: str | None = None,
        *,
        content_type: str | None = None,
    ) -> str:
        """A signed GET; `disposition` and `content_type` override what the object was stored with.

        Callers decide both through lib.browse.sharing.link_headers (one allow-list for inline)."""
        params = {"Bucket": self.bucket, "Key": key}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        if content_type:
            params["ResponseContentType"] = content_type
        with storage_errors(f"signing a link to {key}"):
            return self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def presign_post(self, key: str, fields: dict, conditions: list, expires_in: int) -> dict:
        with storage_errors(f"signing an upload to {key}"):
            return self.signer.generate_presigned_post(
                Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
            )

    def presign_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        content_disposition: str,
        metadata: dict[str, str],
        sha256: str | None,
        expires_in: int,
    ) -> tuple[str, dict[str, str]]:
        """A PutObject URL and the headers it signs. Content-Length, Content-Type, Content-Disposition,
        each `x-amz-meta-*` and (with `sha256`) `x-amz-checksum-sha256` become signed headers, so the
        bucket refuses a request whose body length or any of those headers differ from what was signed."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentLength": size,
            "ContentType": content_type,
            "ContentDisposition": content_disposition,
            "Metadata": metadata,
        }
        headers = {"Content-Type": content_type, "Content-Disposition": content_disposition}
        headers.update({f"x-amz-meta-{name}": value for name, value in metadata.items()})
        if sha256:
            params["ChecksumSHA256"] = sha256
            headers["x-amz-checksum-sha256"] = sha256
        with storage_errors(f"signing an upload to {key}"):
            url = self.signer.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)
        return url, headers

    def check_bucket(self) -> None:
        """Raise a specific StorageError when the bucket is missing, forbidden or unreachable."""
        action = f"opening bucket {self.bucket}"
        try:
            with storage_errors(action):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound as exc:  # HEAD has no body: a missing bucket is a bare 404
            raise storage_error_for("NoSuchBucket", action) from exc

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

    def presign_upload_part(
        self, key: str, upload_id: str, number: int, sha256: str | None, expires_in: int, *, size: int
    ) -> str:
        """A PUT URL for one part of exactly `size` bytes: Content-Length is a signed header, so the
        bucket refuses a body of any other length. With `sha256`, `x-amz-checksum-sha256` is signed
        too: the browser must send exactly that value, and the bucket checks the part's bytes against it."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": size,
        }
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

    # --- Audit: bucket configuration (lib/audit/config_review.py) ------------------------------
    # Read-only calls. "Not configured" is an answer, not an error: it comes back as None.

    def bucket_configuration(self, name: str) -> dict[str, Any] | None:
        """One of the bucket's configurations (a key of BUCKET_CONFIGURATIONS) as S3 returns it,
        without ResponseMetadata; None when the bucket has none. Stores that do not implement the
        call raise a StorageError whose code is NotImplemented (or 501)."""
        operation, not_configured = BUCKET_CONFIGURATIONS[name]
        try:
            with storage_errors(f"reading the {name.replace('_', ' ')} of bucket {self.bucket}"):
                response = getattr(self.client, operation)(Bucket=self.bucket)
        except StorageError as exc:
            if exc.code in not_configured:
                return None
            raise
        response.pop("ResponseMetadata", None)
        return response


def list_objects_v2(client, params: dict[str, Any], action: str) -> dict[str, Any]:
    """One ListObjectsV2 page, as `client.list_objects_v2(**params)` returns it, parsed ~6x cheaper.

    The lean path (lib.s3_listing: botocore signs, ElementTree parses) is tried first on each
    client; when its first request fails in any way but a dropped connection (a store that refuses
    query-string signatures or answers something other than S3's XML), that client lists through
    boto3 from then on, and this request is repeated there, so a real error (a missing bucket, bad
    credentials) is reported by boto3 itself. Once the lean path has answered, its failures are
    errors like any other (after the same retries boto3 makes)."""
    lean = getattr(client, "_bucketdesk_lean", None)
    if lean is False:
        with storage_errors(action):
            return client.list_objects_v2(**params)
    try:
        response = s3_listing.list_objects_v2(client, params)
    except (BotoCoreError, s3_listing.LeanS3Error, s3_listing.LeanUnavailable) as exc:
        if lean or isinstance(exc, BotoCoreError):
            raise _lean_error(exc, action) from exc
    except Exception:  # e.g. a botocore without the pieces the lean path uses
        if lean:
            raise
    else:
        client._bucketdesk_lean = True
        return response
    with storage_errors(action):
        response = client.list_objects_v2(**params)
    client._bucketdesk_lean = False  # boto3 listed where the lean path could not: keep to boto3
    return response


def _lean_error(exc: Exception, action: str) -> StorageError:
    if isinstance(exc, s3_listing.LeanS3Error):
        return storage_error_for(exc.code, action, exc.message)
    if isinstance(exc, s3_listing.LeanUnavailable):
        return StorageError(
            f"The bucket answered a listing with something other than S3's XML while {action}.",
            "Check the endpoint URL; a proxy in between may be answering instead of the store.",
        )
    return storage_error(exc, action)


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
        return storage_error_for("EndpointUnreachable", action)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return storage_error_for(code, action, error.get("Message") or "")
    return StorageError(
        f"S3 failed while {action}: {exc}", "Try again; if it persists, check the endpoint and credentials."
    )
