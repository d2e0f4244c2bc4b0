"""Exports land whole or not at all: local files, s3:// objects, and the page's download-or-link rule."""

from __future__ import annotations

import io
from urllib.parse import quote

import pyarrow as pa
import pytest

from lib.export.columns import export_schema
from lib.export.destinations import (
    BadDestination,
    Download,
    LocalFile,
    S3Object,
    SignedLink,
    Stdout,
    deliver,
    export_key,
    parse_output,
)
from lib.export.formats import FORMATS
from lib.export.pipeline import export
from lib.names import user_segment
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit
SCHEMA = export_schema(("key", "size"))


def rows(n: int):
    return [pa.RecordBatch.from_pylist([{"key": f"k{i}", "size": i} for i in range(n)], schema=SCHEMA)]


def failing_rows():
    yield from rows(3)
    raise OSError(28, "No space left on device")


def test_a_local_export_appears_only_when_complete_and_a_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "objects.csv"
    summary = export(rows(3), SCHEMA, FORMATS["csv"], LocalFile(target), filter="all")
    assert target.read_bytes() == b"key,size\r\nk0,0\r\nk1,1\r\nk2,2\r\n"
    assert (summary.rows, summary.bytes, summary.where, summary.format) == (
        3,
        target.stat().st_size,
        str(target),
        "csv",
    )
    with pytest.raises(OSError):
        export(failing_rows(), SCHEMA, FORMATS["csv"], LocalFile(target))
    assert target.read_bytes().endswith(b"k2,2\r\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["objects.csv"]  # no partial file left


def test_parse_output_refuses_binary_formats_on_stdout_and_unusable_targets(tmp_path):
    no_client = lambda: None  # noqa: E731
    assert isinstance(parse_output("-", FORMATS["jsonl"], no_client), Stdout)
    with pytest.raises(BadDestination, match="Parquet cannot be written to stdout"):
        parse_output("-", FORMATS["parquet"], no_client)
    with pytest.raises(BadDestination, match="does not exist"):
        parse_output(str(tmp_path / "missing" / "x.csv"), FORMATS["csv"], no_client)
    with pytest.raises(BadDestination, match="is a folder"):
        parse_output(str(tmp_path), FORMATS["csv"], no_client)
    with pytest.raises(BadDestination, match="does not name an object"):
        parse_output("s3://bucket-only", FORMATS["csv"], no_client)
    assert parse_output("s3://b/dir/x.csv", FORMATS["csv"], lambda: "client") == S3Object(
        "client", "b", "dir/x.csv", FORMATS["csv"].media_type
    )


def test_an_s3_export_is_uploaded_from_disk_with_its_media_type(gateway, s3):
    destination = parse_output(f"s3://{BUCKET}/reports/objects.jsonl", FORMATS["jsonl"], lambda: gateway.client)
    summary = export(rows(2), SCHEMA, FORMATS["jsonl"], destination)
    stored = s3.get_object(Bucket=BUCKET, Key="reports/objects.jsonl")
    assert stored["Body"].read() == b'{"key":"k0","size":0}\n{"key":"k1","size":1}\n'
    assert stored["ContentType"] == "application/x-ndjson"
    assert summary.where == f"s3://{BUCKET}/reports/objects.jsonl" and summary.bytes == 44


def test_a_failed_s3_export_uploads_nothing(gateway, s3):
    destination = S3Object(gateway.client, BUCKET, "reports/broken.csv", "text/csv")
    with pytest.raises(OSError):
        export(failing_rows(), SCHEMA, FORMATS["csv"], destination)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/")


def test_a_small_export_is_a_download_and_a_large_one_a_signed_link_under_the_users_prefix(gateway, s3, tmp_path):
    path = tmp_path / "done.csv"
    path.write_bytes(b"key,size\r\n" + b"k,1\r\n" * 100)
    small = deliver(
        path,
        FORMATS["csv"],
        gateway=gateway,
        user="Zoë@Example.com",
        export_prefix="exports/{user}/",
        download_max_bytes=1000,
    )
    assert isinstance(small, Download) and small.size == 510 and small.filename.endswith(".csv")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")
    large = deliver(
        path,
        FORMATS["csv"],
        gateway=gateway,
        user="Zoë@Example.com",
        export_prefix="exports/{user}/",
        download_max_bytes=510,
        filename="x.csv",
    )
    assert isinstance(large, SignedLink)
    own = user_segment("Zoë@Example.com")  # the same {user} folder the access rules and uploads use
    assert large.key == export_key("exports/{user}/", "Zoë@Example.com", "x.csv") == f"exports/{own}/x.csv"
    assert own.startswith("zoë_example.com-")
    assert s3.get_object(Bucket=BUCKET, Key=large.key)["Body"].read() == path.read_bytes()
    assert f"/{quote(large.key)}?" in large.url and "X-Amz-Signature=" in large.url and large.size == 510


def test_counting_matches_the_bytes_that_reach_stdout(monkeypatch):
    sink = io.BytesIO()
    monkeypatch.setattr("sys.stdout", type("Out", (), {"buffer": sink})())
    summary = export(rows(2), SCHEMA, FORMATS["csv"], Stdout())
    assert summary.bytes == len(sink.getvalue()) == len(b"key,size\r\nk0,0\r\nk1,1\r\n")
    assert summary.where == "stdout"
