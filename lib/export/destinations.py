"""Where an export's bytes go: a local file, stdout, an s3:// object, or (for the page) a download
or a signed link.

Nothing here holds an export in memory. A local file is written next to its final name and renamed
into place only when complete, so a failed export leaves no half file and never clobbers an older
one. An `s3://` target is written to a temporary file on disk, then sent with boto3's managed
upload (multipart for large files). The page's rule (`deliver`): an export under
`export_download_max_bytes` is offered as a download; a larger one is stored in the bucket under
`export_prefix` and handed out as a signed link.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from lib.errors import BucketdeskError
from lib.export.formats import Format
from lib.names import content_disposition, user_segment
from lib.s3 import storage_errors

# How long a signed link to a large export stays valid.
EXPORT_LINK_SECONDS = 24 * 3600


class BadDestination(BucketdeskError):
    hint = "Use --output PATH, --output - (stdout, csv or jsonl only) or --output s3://bucket/key."


class CountingWriter(io.RawIOBase):
    """Passes bytes through to `target` and counts them (stdout cannot be asked for its size)."""

    def __init__(self, target: IO[bytes]):
        self.target = target
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        count = self.target.write(data)
        count = len(data) if count is None else count
        self.written += count
        return count

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        self.target.flush()


class Destination:
    """A place an export is written to: `open()` gives a binary file; `where` says it in words."""

    where: str = ""

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        raise NotImplementedError
        yield


@dataclass
class LocalFile(Destination):
    path: Path

    @property
    def where(self) -> str:  # type: ignore[override]
        return str(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        directory = self.path.parent
        if not directory.is_dir():
            raise BadDestination(f"The folder {directory} does not exist, so {self.path.name} cannot be written there.")
        handle, partial = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                yield out
            os.replace(partial, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise


class Stdout(Destination):
    where = "stdout"

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        out = sys.stdout.buffer
        yield out
        out.flush()


@dataclass
class S3Object(Destination):
    """An object in any bucket the credentials can write (not only the profile's)."""

    client: Any
    bucket: str
    key: str
    media_type: str

    @property
    def where(self) -> str:  # type: ignore[override]
        return f"s3://{self.bucket}/{self.key}"

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with tempfile.NamedTemporaryFile(prefix="bucketdesk-export-", suffix=".partial") as spool:
            yield spool
            spool.flush()
            with storage_errors(f"uploading the export to {self.where}"):
                self.client.upload_file(spool.name, self.bucket, self.key, ExtraArgs={"ContentType": self.media_type})


def parse_output(target: str, fmt: Format, client_for_s3: Any) -> Destination:
    """`--output`: a path, `-` for stdout (formats a reader can stream only), or s3://bucket/key."""
    if target == "-":
        if not fmt.streamable:
            raise BadDestination(
                f"{fmt.label} cannot be written to stdout (it is not a line-by-line format).",
                "Give --output a file name, or choose --format csv or jsonl for stdout.",
            )
        return Stdout()
    if target.startswith("s3://"):
        bucket, _, key = target[len("s3://") :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise BadDestination(
                f"{target!r} does not name an object; write it as s3://bucket/path/file{fmt.extension}."
            )
        return S3Object(client_for_s3(), bucket, key, fmt.media_type)
    path = Path(target).expanduser()
    if path.is_dir():
        raise BadDestination(f"{path} is a folder; give a file name, e.g. {path / ('objects' + fmt.extension)}.")
    if not path.parent.is_dir():
        raise BadDestination(f"The folder {path.parent} does not exist, so {path.name} cannot be written there.")
    return LocalFile(path)


# --- The page's rule: a download, or a signed link to the bucket ----------------------------------


@dataclass(frozen=True)
class Download:
    """Small enough to hand to the browser from the app server (the page reads `path`)."""

    path: Path
    filename: str
    media_type: str
    size: int

    @property
    def where(self) -> str:
        return "download"


@dataclass(frozen=True)
class SignedLink:
    """Stored in the bucket; the browser fetches it from there, never through the app server."""

    url: str
    bucket: str
    key: str
    size: int
    expires_at: datetime

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def export_filename(bucket: str, fmt: Format, now: datetime | None = None) -> str:
    """`<bucket>-objects-<UTC time>-<short id><ext>`: readable, sortable, never the same twice."""
    now = now or datetime.now(UTC)
    return f"{bucket}-objects-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}{fmt.extension}"


def export_key(export_prefix: str, user: str, filename: str) -> str:
    """The key of a large export: the `export_prefix` template with `{user}` filled in, then the name."""
    prefix = export_prefix.format(user=user_segment(user))
    return (prefix if prefix.endswith("/") else prefix + "/") + filename


def deliver(
    path: Path,
    fmt: Format,
    *,
    gateway: Any,
    user: str,
    export_prefix: str,
    download_max_bytes: int,
    filename: str | None = None,
    link_seconds: int = EXPORT_LINK_SECONDS,
) -> Download | SignedLink:
    """Hand a finished export (a file on the app server's disk) to the person who asked for it.

    Under `download_max_bytes` it is a Download (the page serves it and deletes it). Otherwise it is
    uploaded into the profile's bucket under `export_prefix` and a signed GET link is returned
    (the caller deletes `path` afterwards), so the app server never holds a large file in memory."""
    size = path.stat().st_size
    filename = filename or export_filename(gateway.bucket, fmt)
    if size < download_max_bytes:
        return Download(path, filename, fmt.media_type, size)
    key = export_key(export_prefix, user, filename)
    extra = {"ContentType": fmt.media_type, "ContentDisposition": content_disposition(filename)}
    with storage_errors(f"storing the export as {key}"):
        gateway.client.upload_file(str(path), gateway.bucket, key, ExtraArgs=extra)
    url = gateway.presign_get(key, expires_in=link_seconds, disposition=content_disposition(filename))
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=link_seconds)
    return SignedLink(url, gateway.bucket, key, size, expires_at)
