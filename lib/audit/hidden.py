"""Storage that is billed but shown nowhere: unfinished multipart uploads, and duplicate objects.

Unfinished uploads come from live calls (ListMultipartUploads, then ListParts for what each has
stored); when bucketdesk started one, its open-upload record (lib/upload/resume.py, read only) says
who and which file. `abort_upload` is the one action: lib.desk checks the user's permission, calls
it, records the event and forgets the open-upload record.

Duplicates come from a snapshot in DuckDB (the `objects` view, as in lib.audit.usage): the same
SHA-256 (from bucketdesk's own upload records) or the same ETag among single-part uploads. A
multipart ETag ("<md5 of the parts' md5s>-<parts>") depends on how the file was cut, so it is never
compared: two equal files uploaded with different part sizes differ, and it is not a content hash.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb
import pandas as pd
import pyarrow as pa

from lib.audit.usage import CURRENT, DEFAULT_TOP
from lib.errors import StorageError
from lib.s3 import S3Gateway

GONE_CODES = {"NoSuchUpload", "404", "NoSuchKey"}
EXAMPLE_KEYS = 5  # keys shown per duplicate group
_BATCH = 50_000  # checksum pairs handed to DuckDB at a time


class UploadRecord(Protocol):
    """What bucketdesk remembers of an upload it started (lib.upload.resume.OpenUpload has these)."""

    upload_id: str
    user: str
    name: str
    size: int
    created: float


@dataclass(frozen=True)
class UnfinishedUpload:
    key: str
    upload_id: str
    started: datetime | None
    initiator: str  # as the store reports it (an account or role); "" when it does not say
    started_by: str | None  # the bucketdesk user, when bucketdesk started the upload
    file_name: str | None  # the file's name as chosen, when bucketdesk started the upload
    declared_size: int | None  # the whole file's size, when bucketdesk started the upload
    parts: int  # parts already stored
    bytes_stored: int  # their bytes: billed until the upload is completed or aborted
    storage_class: str


@dataclass(frozen=True)
class AbortedUpload:
    key: str
    upload_id: str
    parts: int  # parts deleted
    bytes_freed: int
    already_gone: bool  # completed or aborted before this call: nothing was deleted


def unfinished_uploads(
    gateway: S3Gateway, records: Iterable[UploadRecord] = (), *, prefix: str = "", limit: int = 200
) -> tuple[list[UnfinishedUpload], bool]:
    """The unfinished uploads under `prefix`, oldest first, with what each has stored, and True
    when there are more than `limit` (each costs one ListParts request, hence the bound)."""
    by_id = {record.upload_id: record for record in records}
    listed = sorted(gateway.list_multipart_uploads(prefix), key=lambda u: (_when(u.get("Initiated")), u["Key"]))
    found = []
    for upload in listed[:limit]:
        try:
            parts = gateway.list_parts(upload["Key"], upload["UploadId"])
        except StorageError as exc:
            if exc.code in GONE_CODES:  # completed or aborted since the listing
                continue
            raise
        found.append(_unfinished(upload, parts, by_id.get(upload["UploadId"])))
    return found, len(listed) > limit


def _unfinished(upload: dict[str, Any], parts: list[dict[str, Any]], record: UploadRecord | None) -> UnfinishedUpload:
    initiator = upload.get("Initiator") or {}
    return UnfinishedUpload(
        key=upload["Key"],
        upload_id=upload["UploadId"],
        started=upload.get("Initiated"),
        initiator=str(initiator.get("DisplayName") or initiator.get("ID") or ""),
        started_by=record.user if record else None,
        file_name=record.name if record else None,
        declared_size=record.size if record else None,
        parts=len(parts),
        bytes_stored=sum(int(part.get("Size") or 0) for part in parts),
        storage_class=str(upload.get("StorageClass") or "STANDARD"),
    )


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.max.replace(tzinfo=UTC)


def abort_upload(gateway: S3Gateway, key: str, upload_id: str) -> AbortedUpload:
    """Abort one unfinished upload: its parts are deleted. An upload already completed or aborted
    is reported as `already_gone` rather than as an error (two admins may click at once)."""
    try:
        parts = gateway.list_parts(key, upload_id)
        gateway.abort_multipart(key, upload_id)
    except StorageError as exc:
        if exc.code in GONE_CODES:
            return AbortedUpload(key, upload_id, 0, 0, already_gone=True)
        raise
    return AbortedUpload(key, upload_id, len(parts), sum(int(p.get("Size") or 0) for p in parts), already_gone=False)


# --- Duplicates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duplicates:
    groups: pd.DataFrame  # the `top` groups wasting most: digest, copies, size, wasted_bytes, keys
    total_groups: int  # every group, not only those shown
    total_wasted_bytes: int  # the sum of sizes minus one copy per group, over every group


def duplicates_by_etag(con: duckdb.DuckDBPyConnection, *, top: int = DEFAULT_TOP) -> Duplicates:
    """Current objects with the same ETag and size, among single-part uploads only (empty objects
    waste nothing and are left out)."""
    source = f"""
        SELECT key, size, e_tag AS digest FROM objects
        WHERE {CURRENT} AND e_tag IS NOT NULL AND size > 0
          AND NOT coalesce(is_multipart_uploaded, false)
          AND NOT contains(e_tag, '-')  -- an MD5 in hex has none; a multipart ETag ends -<parts>
    """
    return _groups(con, source, top)


def duplicates_by_checksum(
    con: duckdb.DuckDBPyConnection, checksums: Iterable[tuple[str, str]], *, top: int = DEFAULT_TOP
) -> Duplicates:
    """Current objects whose whole-file SHA-256 (from bucketdesk's upload records, as (key,
    sha256) pairs) is the same; keys no longer in the snapshot are ignored. The pairs stream into a
    temporary table in batches, so any number of records fits."""
    table = f"audit_checksums_{uuid.uuid4().hex}"
    con.execute(f"CREATE TEMP TABLE {table} (key VARCHAR, sha256 VARCHAR)")
    try:
        pairs = iter(checksums)
        while batch := list(itertools.islice(pairs, _BATCH)):
            keys, digests = zip(*batch, strict=True)
            arrow = pa.table({"key": pa.array(keys, pa.string()), "sha256": pa.array(digests, pa.string())})
            con.register("audit_batch", arrow)
            con.execute(f"INSERT INTO {table} SELECT * FROM audit_batch")
            con.unregister("audit_batch")
        source = f"""
            SELECT o.key, o.size, c.sha256 AS digest
            FROM objects o JOIN (SELECT key, any_value(sha256) AS sha256 FROM {table} GROUP BY key) c
              ON o.key = c.key
            WHERE {CURRENT} AND o.size > 0
        """
        return _groups(con, source, top)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _groups(con: duckdb.DuckDBPyConnection, source: str, top: int) -> Duplicates:
    # Totals ride along as window columns over the (few) duplicate groups; example keys are
    # gathered afterwards for the shown groups only, not for every digest in the bucket.
    frame = con.execute(
        f"""
        WITH grouped AS (
            SELECT digest, count(*) AS copies, max(size)::BIGINT AS size,
                   (sum(size) - max(size))::BIGINT AS wasted_bytes
            FROM ({source}) GROUP BY digest HAVING count(*) > 1
        )
        SELECT *, count(*) OVER () AS total_groups, sum(wasted_bytes) OVER () AS total_wasted
        FROM grouped ORDER BY wasted_bytes DESC, digest LIMIT $top
        """,
        {"top": top},
    ).df()
    total_groups = int(frame["total_groups"].iloc[0]) if len(frame) else 0
    total_wasted = int(frame["total_wasted"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns=["total_groups", "total_wasted"])
    keys = dict(
        con.execute(
            f"""
            SELECT digest, list(key ORDER BY key)[1:{EXAMPLE_KEYS}]
            FROM ({source}) WHERE digest IN (SELECT unnest($digests)) GROUP BY digest
            """,
            {"digests": list(frame["digest"])},
        ).fetchall()
    )
    frame["keys"] = [keys.get(digest, []) for digest in frame["digest"]]
    return Duplicates(frame, total_groups, total_wasted)
