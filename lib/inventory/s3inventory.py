"""Import an AWS S3 Inventory report as a snapshot, without listing anything.

A report is a `manifest.json` naming its data files and their schema (`fileSchema`): gzipped CSV
with no header and URL-encoded keys, or Parquet or ORC with Athena's column names already. Each
file is downloaded to a temporary file and streamed batch by batch into SCHEMA, so memory stays
flat however large the report is.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lib.errors import InventoryError
from lib.inventory.schema import SCHEMA
from lib.s3 import S3Gateway, storage_errors

FORMATS = ("CSV", "Parquet", "ORC")
_BLOCK_BYTES = 8 * 1024 * 1024  # CSV read in blocks of this size: bounded memory per batch


def csv_column(name: str) -> str:
    """An S3 Inventory CSV field as its Athena column: LastModifiedDate -> last_modified_date, ETag -> e_tag."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip()).lower()


def read_manifest(gateway: S3Gateway, manifest_key: str) -> dict[str, Any]:
    """The report's manifest.json, checked for what an import needs."""
    if gateway.head(manifest_key) is None:
        raise InventoryError(
            f"There is no S3 Inventory manifest at {manifest_key} in bucket {gateway.bucket}.",
            "Give the key of the report's manifest.json, e.g. inventory/<bucket>/<config>/2024-05-01T01-00Z/manifest.json.",
        )
    try:
        manifest = json.loads(gateway.read(manifest_key))
        file_format = manifest["fileFormat"]
        files = manifest["files"]
        schema = manifest["fileSchema"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InventoryError(
            f"{manifest_key} is not an S3 Inventory manifest (it needs fileFormat, fileSchema and files).",
            "Point at the manifest.json S3 Inventory wrote, not at one of its data files.",
        ) from exc
    if file_format not in FORMATS:
        raise InventoryError(f"S3 Inventory format {file_format!r} is not supported; CSV, Parquet and ORC are.")
    if not isinstance(files, list) or not isinstance(schema, str):
        raise InventoryError(f"{manifest_key} has an unexpected shape (files must be a list, fileSchema a string).")
    return manifest


def report_batches(gateway: S3Gateway, manifest_key: str, manifest: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """Every row of the report's files, as batches in SCHEMA."""
    file_format = manifest["fileFormat"]
    source_bucket = manifest.get("sourceBucket") or gateway.bucket
    # Data files live in the destination bucket; usually the one holding the manifest.
    destination = str(manifest.get("destinationBucket") or gateway.bucket).rsplit(":", 1)[-1]
    columns = [csv_column(name) for name in manifest["fileSchema"].split(",")] if file_format == "CSV" else []
    with tempfile.TemporaryDirectory(prefix="bucketdesk-s3inv-") as folder:
        for number, entry in enumerate(manifest["files"]):
            key = entry["key"]
            local = Path(folder) / f"{number}"
            with storage_errors(f"downloading the S3 Inventory file {key}"):
                gateway.client.download_file(destination, key, str(local))
            try:
                if file_format == "CSV":
                    yield from _csv_batches(local, columns, source_bucket)
                elif file_format == "Parquet":
                    for batch in pq.ParquetFile(local).iter_batches(batch_size=100_000):
                        yield _conform(pa.Table.from_batches([batch]), source_bucket)
                else:
                    yield from _orc_batches(local, source_bucket)
            except (pa.ArrowException, ValueError) as exc:
                raise InventoryError(
                    f"The S3 Inventory file {key} could not be read as {file_format}: {exc}",
                    "Check that the report is complete and that its manifest names the right format.",
                ) from exc
            local.unlink()


def _csv_batches(path: Path, columns: list[str], bucket: str) -> Iterator[pa.RecordBatch]:
    read = pacsv.ReadOptions(column_names=columns, block_size=_BLOCK_BYTES)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in columns},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    stream = pa.input_stream(str(path), compression="gzip")
    with pacsv.open_csv(stream, read_options=read, convert_options=convert) as reader:
        for batch in reader:
            yield _csv_to_schema(batch, bucket)


def _csv_to_schema(batch: pa.RecordBatch, bucket: str) -> pa.RecordBatch:
    """CSV text as typed columns: keys URL-decoded, booleans, sizes, ISO 8601 times."""
    data = {name: batch.column(name).to_pylist() for name in batch.schema.names}
    rows = batch.num_rows

    def text(name: str) -> list[str | None]:
        return [value or None for value in data.get(name, [None] * rows)]

    def flag(name: str) -> list[bool | None]:
        return [None if not v else v.lower() == "true" for v in data.get(name, [None] * rows)]

    columns = {
        "bucket": [b or bucket for b in data.get("bucket", [bucket] * rows)],
        "key": [unquote_plus(k) for k in data["key"]],
        "version_id": text("version_id"),
        "is_latest": flag("is_latest"),
        "is_delete_marker": flag("is_delete_marker"),
        "size": [int(s) if s else None for s in data.get("size", [None] * rows)],
        "last_modified_date": [_instant(v) for v in data.get("last_modified_date", [None] * rows)],
        "e_tag": [v.strip('"') if v else None for v in data.get("e_tag", [None] * rows)],
        "storage_class": text("storage_class"),
        "is_multipart_uploaded": flag("is_multipart_uploaded"),
        "checksum_algorithm": text("checksum_algorithm"),
    }
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _orc_batches(path: Path, bucket: str) -> Iterator[pa.RecordBatch]:
    from pyarrow import orc

    reader = orc.ORCFile(str(path))
    for stripe in range(reader.nstripes):
        yield _conform(pa.Table.from_batches([reader.read_stripe(stripe)]), bucket)


def _conform(table: pa.Table, bucket: str) -> pa.RecordBatch:
    """A Parquet/ORC report's table in SCHEMA: columns it lacks are null, extra ones are dropped."""
    names = {name.lower(): name for name in table.schema.names}
    arrays = []
    for field in SCHEMA:
        if field.name in names:
            column = table.column(names[field.name])
            if pa.types.is_timestamp(column.type) and column.type.tz is None:
                column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
            arrays.append(column.cast(field.type))
        elif field.name == "bucket":
            arrays.append(pa.chunked_array([pa.array([bucket] * table.num_rows, pa.string())]))
        else:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, field.type)]))
    conformed = pa.Table.from_arrays(arrays, schema=SCHEMA).combine_chunks()
    batches = conformed.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=SCHEMA)


def has_versions(manifest: dict[str, Any]) -> bool:
    schema = manifest.get("fileSchema", "")
    return "VersionId" in schema or "version_id" in schema
