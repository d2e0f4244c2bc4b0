"""`python -m lib.export`: arguments, exit codes (0 done, 2 bad arguments, 1 storage) and sentences."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lib.export.cli import main
from tests.unit.export_rows import row, write_snapshot
from tests.unit.helpers import BUCKET

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
ENV = {"BUCKETDESK_BUCKET": BUCKET}


@pytest.fixture
def seeded(s3):
    for key, size in [
        ("a/small.txt", 10),
        ("a/big.jpg", 5000),
        ("a/=x.jpg", 2000),
        ("b/other.jpg", 3000),
        ("=top.jpg", 100),
    ]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * size, ContentType="image/jpeg")
    return s3


def run(*argv: str, env=ENV) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(argv), env=env, stderr=err)
    return code, err.getvalue()


def test_export_a_filtered_prefix_to_csv(seeded, tmp_path):
    out = tmp_path / "objects.csv"
    code, said = run(
        "--format", "csv", "--output", str(out), "--prefix", "a/", "--min-size", "1kB", "--columns", "key,size"
    )
    assert code == 0, said
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline=""))) == [
        ["key", "size"],
        ["a/=x.jpg", "2000"],
        ["a/big.jpg", "5000"],
    ]
    assert "Exported 2 rows" in said and f"to {out}" in said and "Traceback" not in said


def test_spreadsheet_safe_and_glob_and_parquet(seeded, tmp_path):
    out = tmp_path / "safe.csv"
    assert (
        run("--format", "csv", "--output", str(out), "--glob", "*.jpg", "--columns", "key", "--spreadsheet-safe")[0]
        == 0
    )
    assert out.read_text().splitlines() == ["key", "'=top.jpg", "a/=x.jpg", "a/big.jpg", "b/other.jpg"]
    parquet = tmp_path / "o.parquet"
    assert run("--format", "parquet", "--output", str(parquet), "--regex", r"^b/.*\.jpg$")[0] == 0
    table = pq.read_table(parquet)
    assert table.column_names == ["bucket", "key", "size", "last_modified_date", "e_tag", "storage_class"]
    assert table.column("key").to_pylist() == ["b/other.jpg"]


def test_jsonl_to_stdout_keeps_messages_on_stderr(seeded, capsysbinary):
    code, said = run("--format", "jsonl", "--output", "-", "--match", "big", "--columns", "key,size,content_type")
    assert code == 0, said
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"key": "a/big.jpg", "size": 5000, "content_type": "image/jpeg"}]
    assert "one HEAD request per exported object" in said


def test_an_empty_result_is_a_file_with_a_header_and_exit_0(seeded, tmp_path):
    out = tmp_path / "none.xlsx"
    code, said = run("--format", "csv", "--output", str(out.with_suffix(".csv")), "--prefix", "nothing/")
    assert code == 0 and "Exported 0 rows" in said
    assert out.with_suffix(".csv").read_bytes() == b"bucket,key,size,last_modified_date,e_tag,storage_class\r\n"


def test_export_to_an_s3_object(seeded):
    code, said = run("--format", "jsonl", "--output", f"s3://{BUCKET}/exports/list.jsonl", "--prefix", "b/")
    assert code == 0, said
    body = seeded.get_object(Bucket=BUCKET, Key="exports/list.jsonl")["Body"].read()
    assert json.loads(body)["key"] == "b/other.jpg"


def test_snapshot_source_reads_the_latest_snapshot_and_says_so(gateway, tmp_path):
    # Kept on disk under the working directory's .bucketdesk/inventory, where the command line looks.
    write_snapshot(gateway, [row("z/1", 2**40), row("a/2", 1)])
    out = tmp_path / "snap.csv"
    code, said = run("--format", "csv", "--output", str(out), "--source", "snapshot", "--columns", "key,size")
    assert code == 0, said
    assert out.read_text().splitlines() == ["key,size", "a/2,1", f"z/1,{2**40}"]
    assert "Reading the latest snapshot (taken just now (" in said and "UTC), 2 objects)" in said


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["--format", "docx", "--output", "x"], "Argument --format: invalid choice: 'docx'"),
        (["--format", "csv"], "The following arguments are required: --output"),
        (["--format", "csv", "--output", "x.csv", "--min-size", "lots"], "'lots' is not a size"),
        (["--format", "csv", "--output", "x.csv", "--since", "yesterday"], "'yesterday' is not a date or time"),
        (["--format", "csv", "--output", "x.csv", "--columns", "key,owner"], "Not a column: owner."),
        (["--format", "parquet", "--output", "-"], "Parquet cannot be written to stdout"),
        (["--format", "csv", "--output", "x.csv", "--match", "a", "--glob", "b"], "not allowed with argument"),
        (["--format", "csv", "--output", "x.csv", "--regex", "(unclosed"], "is not a regular expression"),
        (["--format", "csv", "--output", "x.csv", "--min-size", "2MB", "--max-size", "1MB"], "--min-size is larger"),
        (["--format", "csv", "--output", "x.csv", "--source", "yesterday"], "use live, snapshot, or inventory:"),
        (["--format", "csv", "--output", "nowhere/x.csv"], "The folder nowhere does not exist"),
        (["--format", "csv", "--output", "x.csv", "--profile", "other"], "'other' is not configured"),
    ],
)
def test_bad_arguments_exit_2_with_a_sentence(s3, argv, sentence):
    code, said = run(*argv)
    assert code == 2
    assert sentence in said and "Traceback" not in said
    assert not Path("x.csv").exists()


def test_no_bucket_configured_exits_2_and_says_how_to_configure_one():
    code, said = run("--format", "csv", "--output", "x.csv", env={})
    assert code == 2 and "No bucket is configured" in said and "BUCKETDESK_BUCKET" in said


def test_a_storage_error_exits_1_with_a_sentence_and_leaves_no_file(s3):
    code, said = run("--format", "csv", "--output", "x.csv", env={"BUCKETDESK_BUCKET": "no-such-bucket"})
    assert code == 1
    assert "The bucket does not exist" in said and "Traceback" not in said
    assert list(Path.cwd().iterdir()) == []


def test_no_snapshot_yet_exits_1_and_says_how_to_make_one(s3):
    code, said = run("--format", "csv", "--output", "x.csv", "--source", "snapshot")
    assert code == 1 and "has no snapshot yet" in said and "python -m lib.inventory" in said


def test_the_module_runs_as_a_program_and_reports_bad_arguments_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "lib.export", "--format", "csv", "--output", "x.csv", "--max-size", "big"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("python -m lib.export: 'big' is not a size")
    assert "Traceback" not in result.stderr and result.stdout == ""
    helped = subprocess.run(
        [sys.executable, "-m", "lib.export", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert helped.returncode == 0 and "--spreadsheet-safe" in helped.stdout and "examples:" in helped.stdout
