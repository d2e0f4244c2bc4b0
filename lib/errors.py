"""One exception hierarchy. Every error carries a sentence a person can act on.

Pages catch `BucketdeskError`, show `.message` with st.error and `.hint` below it; anything else
reaching the UI is a bug.
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


class StorageError(BucketdeskError):
    """S3 refused or could not be reached; `code` is S3's error code when there is one."""

    def __init__(self, message: str, hint: str = "", code: str | None = None):
        super().__init__(message, hint)
        self.code = code


class BucketNotFound(StorageError):
    pass


class AccessDenied(StorageError):
    pass


class EndpointUnreachable(StorageError):
    pass


class Throttled(StorageError):
    pass


class BadCredentials(StorageError):
    pass


class UploadIncomplete(BucketdeskError):
    """A multipart upload could not be completed as the browser reported it.

    `resumable` is True when its parts stay in the bucket, so choosing the same file again continues
    from them; False when the upload was aborted (its parts can never make the declared file)."""

    def __init__(self, message: str, hint: str | None = None, *, resumable: bool):
        super().__init__(message, hint)
        self.resumable = resumable


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
