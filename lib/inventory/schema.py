"""The one schema of a bucket listing: S3 Inventory's fields under Athena's column names.

Snapshots (parallel listings or imported S3 Inventory reports), searches, the audit page and
exports all speak these columns, so the same Parquet files can be queried by DuckDB here and by
Athena, Trino or Spark elsewhere without renaming anything.
"""

from __future__ import annotations

import pyarrow as pa

# Timestamps are UTC instants; S3 reports milliseconds.
TIMESTAMP = pa.timestamp("ms", tz="UTC")

SCHEMA = pa.schema(
    [
        pa.field("bucket", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        # None for a bucket that never had versioning (S3 says "null").
        pa.field("version_id", pa.string()),
        pa.field("is_latest", pa.bool_()),
        pa.field("is_delete_marker", pa.bool_()),
        # Null for delete markers, which hold no bytes.
        pa.field("size", pa.int64()),
        pa.field("last_modified_date", TIMESTAMP),
        # Without quotes. A multipart ETag ("<md5 of md5s>-<parts>") is not a content hash.
        pa.field("e_tag", pa.string()),
        pa.field("storage_class", pa.string()),
        pa.field("is_multipart_uploaded", pa.bool_()),
        # e.g. SHA256 when the object carries a checksum the bucket verified; null when none.
        pa.field("checksum_algorithm", pa.string()),
    ]
)

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

# What an export shows unless the analyst picks other columns.
DEFAULT_EXPORT_COLUMNS: tuple[str, ...] = ("bucket", "key", "size", "last_modified_date", "e_tag", "storage_class")
