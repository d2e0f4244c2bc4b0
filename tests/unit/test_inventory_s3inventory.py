"""An AWS S3 Inventory report becomes a snapshot without listing: CSV (URL-encoded keys) and Parquet."""

from __future__ import annotations

import gzip
import json
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lib.errors import InventoryError
from lib.inventory.s3inventory import csv_column
from lib.inventory.schema import SCHEMA
from lib.inventory.store import SnapshotStore
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit

REPORT = "inventory/source-bucket/daily/2024-05-01T01-00Z/"
CSV_SCHEMA = (
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
    "IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ChecksumAlgorithm"
)
KEYS = ["photos/summer 2024/logo+final.png", "100%/done.txt", "日本/ファイル.pdf", 'a,b/quote"d.txt']


def csv_line(key: str, n: int, deleted: bool = False) -> str:
    size = "" if deleted else str(1000 + n)
    fields = [
        "source-bucket",
        quote_plus(key, safe="/"),
        f"v{n}",
        "true",
        str(deleted).lower(),
        size,
        "2024-04-30T12:00:00.000Z",
        "" if deleted else f"etag{n}",
        "STANDARD",
        "false",
        "",
        "SSE-S3",
        "SHA256",
    ]
    return ",".join(f'"{f}"' if "," in f or '"' in f else f for f in (x.replace('"', '""') for x in fields))


def put_manifest(s3, file_format: str, schema: str, files: list[str]) -> str:
    manifest = {
        "sourceBucket": "source-bucket",
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": "1714525200000",
        "fileFormat": file_format,
        "fileSchema": schema,
        "files": [{"key": key, "size": 1, "MD5checksum": "x"} for key in files],
    }
    key = REPORT + "manifest.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(manifest).encode())
    return key


def test_csv_fields_become_athena_columns():
    assert [csv_column(n) for n in ("LastModifiedDate", "ETag", "IsMultipartUploaded", "VersionId")] == [
        "last_modified_date",
        "e_tag",
        "is_multipart_uploaded",
        "version_id",
    ]


def test_a_gzipped_csv_report_with_url_encoded_keys_is_imported(s3, gateway, tmp_path):
    lines = [csv_line(key, n) for n, key in enumerate(KEYS)] + [csv_line("gone/old.txt", 9, deleted=True)]
    files = []
    for n, chunk in enumerate([lines[:2], lines[2:]]):
        key = f"{REPORT}data/{n}.csv.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(("\n".join(chunk) + "\n").encode()))
        files.append(key)
    manifest_key = put_manifest(s3, "CSV", CSV_SCHEMA, files)
    snapshot = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path).import_report(manifest_key)
    assert (snapshot.manifest.source, snapshot.manifest.report, snapshot.manifest.rows) == (
        "s3-inventory",
        manifest_key,
        5,
    )
    table = pq.read_table(snapshot.local_files())
    assert table.schema.equals(SCHEMA)
    rows = {r["key"]: r for r in table.to_pylist()}
    assert set(rows) == {*KEYS, "gone/old.txt"}
    logo = rows[KEYS[0]]
    assert (logo["size"], logo["e_tag"], logo["is_latest"], logo["checksum_algorithm"]) == (
        1000,
        "etag0",
        True,
        "SHA256",
    )
    assert logo["bucket"] == "source-bucket" and logo["last_modified_date"].year == 2024
    gone = rows["gone/old.txt"]
    assert gone["is_delete_marker"] is True and gone["size"] is None and gone["e_tag"] is None


def test_a_parquet_report_is_imported(s3, gateway, tmp_path):
    table = pa.table(
        {
            "bucket": ["source-bucket"] * 2,
            "key": ["x/1.png", "y/2.png"],
            "size": pa.array([5, 6], pa.int64()),
            "last_modified_date": pa.array([1714525200000, 1714525300000], pa.timestamp("ms")),
            "e_tag": ["a", "b"],
            "storage_class": ["STANDARD", "GLACIER"],
            "intelligent_tiering_access_tier": [None, None],
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    key = f"{REPORT}data/0.parquet"
    s3.put_object(Bucket=BUCKET, Key=key, Body=sink.getvalue().to_pybytes())
    manifest_key = put_manifest(s3, "Parquet", "message s3.inventory { required binary bucket; }", [key])
    snapshot = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path).import_report(manifest_key)
    rows = pq.read_table(snapshot.local_files()).to_pylist()
    assert [(r["key"], r["size"], r["storage_class"]) for r in rows] == [
        ("x/1.png", 5, "STANDARD"),
        ("y/2.png", 6, "GLACIER"),
    ]
    assert rows[0]["last_modified_date"].tzinfo is not None and rows[0]["version_id"] is None


def test_a_missing_or_foreign_manifest_gets_a_sentence(s3, gateway, tmp_path):
    store = SnapshotStore(gateway, mode="disk", cache_dir=tmp_path)
    with pytest.raises(InventoryError, match="no S3 Inventory manifest"):
        store.import_report("inventory/nope/manifest.json")
    s3.put_object(Bucket=BUCKET, Key="not-a-manifest.json", Body=b'{"hello": 1}')
    with pytest.raises(InventoryError, match="not an S3 Inventory manifest"):
        store.import_report("not-a-manifest.json")
    assert store.latest() is None
