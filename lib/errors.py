"""One exception hierarchy. Every error carries a sentence a person can act on.

Pages catch `BucketdeskError`, show `.message` with st.error and `.hint` below it; anything else
reaching the UI is a bug.

    BucketdeskError
    ├── ConfigError            the settings are wrong (all problems at once)
    ├── PermissionDenied       this person may not do this here (lib.access)
    ├── BadContentType         a declared media type is not one type/subtype
    ├── LinkExpiryError        a link lifetime outside what S3 signs
    ├── DeleteNotAllowed       deleting is turned off for the bucket
    ├── PreviewError           no thumbnail for this image (the placeholder stands in)
    ├── UploadIncomplete       a multipart upload could not be completed as reported
    ├── BadQuery               a search that cannot run (broken regular expression or glob)
    ├── InventoryError         a snapshot could not be built, imported, found or read
    │   ├── NoSnapshot
    │   └── BuildCancelled
    └── StorageError           S3 refused or could not be reached (`code`: S3's error code)
        ├── NotFound           no such key or upload (HTTP 404)
        │   └── BucketNotFound
        ├── AccessDenied
        ├── BadCredentials
        ├── Throttled
        └── EndpointUnreachable

S3's error codes map to these classes by one table, `S3_ERROR_CLASSES` (lib.s3 applies it).
"""

from __future__ import annotations


class BucketdeskError(Exception):
    """Base class: `message` says what happened, `hint` says what to check or do."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint


class ConfigError(BucketdeskError):
    """The configuration is wrong; `problems` names every bad setting at once."""

    hint = "Fix these settings in .streamlit/secrets.toml or the BUCKETDESK_* environment variables, then restart."

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("bucketdesk's configuration has problems:\n" + "\n".join(f"- {p}" for p in self.problems))


class PermissionDenied(BucketdeskError):
    """The signed-in person may not do this here (their role or prefixes do not allow it)."""

    hint = "Ask an admin of this bucketdesk for access."


class BadContentType(BucketdeskError):
    """A declared media type is not exactly one `type/subtype`."""

    hint = "Rename the file with the right extension, or let the browser choose its type."


class LinkExpiryError(BucketdeskError):
    """The asked-for link lifetime is outside what S3 signs."""


class DeleteNotAllowed(BucketdeskError):
    hint = "An admin can turn it on with allow_delete = true in the bucket's profile (BUCKETDESK_ALLOW_DELETE)."


class PreviewError(BucketdeskError):
    """This image gets no thumbnail (too big, a bomb, or does not decode); the placeholder stands in."""

    hint = "The object itself is unchanged; open it with its signed link."


class UploadIncomplete(BucketdeskError):
    """A multipart upload could not be completed as the browser reported it.

    `resumable` is True when its parts stay in the bucket, so choosing the same file again continues
    from them; False when the upload was aborted (its parts can never make the declared file)."""

    def __init__(self, message: str, hint: str | None = None, *, resumable: bool):
        super().__init__(message, hint)
        self.resumable = resumable


class StorageError(BucketdeskError):
    """S3 refused or could not be reached; `code` is S3's error code when there is one.

    `summary` is the sentence for an action ("reading photos/cat.png"): subclasses say it their way."""

    summary = "S3 refused while {action}: {detail}"

    def __init__(self, message: str, hint: str | None = None, code: str | None = None):
        super().__init__(message, hint)
        self.code = code


class NotFound(StorageError):
    summary = "Nothing was found while {action}."
    hint = "It may have been deleted or moved; refresh and try again."


class BucketNotFound(NotFound):
    summary = "The bucket does not exist ({action})."
    hint = "Check the bucket name and region of the profile."


class AccessDenied(StorageError):
    summary = "Access was denied while {action}."
    hint = "The app's credentials need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on this bucket."


class BadCredentials(StorageError):
    summary = "The bucket rejected the app's credentials while {action} ({code})."
    hint = "Check the access key, secret and session token, and that the server's clock is right."


class Throttled(StorageError):
    summary = "The bucket is throttling requests ({action})."
    hint = "Wait a moment and try again; the app already retried with backoff."


class EndpointUnreachable(StorageError):
    summary = "The S3 endpoint could not be reached while {action}."
    hint = "Check the endpoint URL (AWS_ENDPOINT_URL_S3 or the profile's endpoint_url), the network, and that the service is running."


# S3 error code (or bare HTTP status, as HEAD requests carry no body) -> the class that explains it.
S3_ERROR_CLASSES: dict[str, type[StorageError]] = {
    "404": NotFound,
    "NoSuchKey": NotFound,
    "NotFound": NotFound,
    "NoSuchUpload": NotFound,
    "NoSuchBucket": BucketNotFound,
    "403": AccessDenied,
    "AccessDenied": AccessDenied,
    "AllAccessDisabled": AccessDenied,
    "InvalidAccessKeyId": BadCredentials,
    "SignatureDoesNotMatch": BadCredentials,
    "ExpiredToken": BadCredentials,
    "InvalidToken": BadCredentials,
    "TokenRefreshRequired": BadCredentials,
    "SlowDown": Throttled,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "RequestLimitExceeded": Throttled,
    "503": Throttled,
    "ServiceUnavailable": Throttled,
    "EndpointUnreachable": EndpointUnreachable,  # bucketdesk's own code for a connection that failed
}


def storage_error_for(code: str, action: str, detail: str = "") -> StorageError:
    """The StorageError subclass for S3's `code`, with its sentence for `action`."""
    cls = S3_ERROR_CLASSES.get(code, StorageError)
    message = cls.summary.format(action=action, code=code, detail=detail or code)
    return cls(message, cls.hint, code)


class InventoryError(BucketdeskError):
    """A snapshot could not be built, imported, found or read."""


class NoSnapshot(InventoryError):
    hint = "Build one first (Browse > Update index, or `python -m lib.inventory build`)."


class BuildCancelled(InventoryError):
    """Someone cancelled a snapshot build; the previous snapshot is still the latest."""

    hint = "Start the build again when you want a fresh index; the previous one is still in use."


class BadQuery(BucketdeskError):
    """A search the user typed cannot run (a broken regular expression or glob, a bad range)."""

    hint = "Check the search text; choose substring mode to search for the characters literally."
