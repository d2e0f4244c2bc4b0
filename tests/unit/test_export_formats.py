"""Each format, read back by a reader that is not ours, holds exactly the rows that went in."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter

from lib.export.columns import export_schema
from lib.export.formats import (
    EXCEL_MAX_ROWS,
    FORMATS,
    WriteOptions,
    neutralise,
    sheet_name,
    sheet_position,
    write_csv,
    write_jsonl,
    write_parquet,
    write_xlsx,
)
from lib.inventory.schema import COLUMNS
from tests.unit.export_rows import row

pytestmark = pytest.mark.unit

HOSTILE_KEYS = [
    "plain.txt",
    "comma,in,key.csv",
    'quote"in"key',
    "new\nline",
    "carriage\rreturn",
    "crlf\r\nkey",
    "tab\tkey",
    "ünïcödé/日本語/🙂.png",
    "=SUM(A1:A2)",
    "+1",
    "-2",
    "@cmd",
    "'already quoted",
    " leading and trailing ",
    "folder/",
    "http://example.com/looks-like-a-link",
    "00123",
    "1e5",
    "TRUE",
    "_x000D_ literal escape",
]
SIZES = [0, 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 + 7, 5 * 1024**4, None]
START = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)


def hostile_rows() -> list[dict]:
    rows = []
    for index, key in enumerate(HOSTILE_KEYS):
        size = SIZES[index % len(SIZES)]
        rows.append(
            row(
                key,
                size,
                version_id=None if index % 3 else f"v{index}",
                is_latest=index % 2 == 0,
                is_delete_marker=size is None,
                last_modified_date=START + timedelta(days=index, milliseconds=index),
                storage_class=["STANDARD", "GLACIER", "STANDARD_IA"][index % 3],
                checksum_algorithm="SHA256" if index % 4 == 0 else None,
            )
        )
    return rows


def batches_of(rows: list[dict], columns=COLUMNS, per_batch: int = 7) -> list[pa.RecordBatch]:
    schema = export_schema(columns)
    picked = [{name: r[name] for name in columns} for r in rows]
    return [
        pa.RecordBatch.from_pylist(picked[i : i + per_batch], schema=schema) for i in range(0, len(picked), per_batch)
    ]


def written(writer, rows, columns=COLUMNS, **options) -> bytes:
    out = io.BytesIO()
    count = writer(batches_of(rows, columns), export_schema(columns), out, WriteOptions(**options))
    assert count == len(rows)
    return out.getvalue()


def expected(rows, columns=COLUMNS) -> list[dict]:
    return [{name: r[name] for name in columns} for r in rows]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- Parquet ----------------------------------------------------------------------------------------


def test_parquet_read_by_pyarrow_and_duckdb_equals_the_rows_with_types_kept(tmp_path):
    rows = hostile_rows()
    path = tmp_path / "objects.parquet"
    path.write_bytes(written(write_parquet, rows))
    table = pq.read_table(path)
    assert table.schema.field("size").type == pa.int64()
    assert table.schema.field("last_modified_date").type == pa.timestamp("ms", tz="UTC")
    assert table.to_pylist() == expected(rows)
    from_duckdb = duckdb.sql(f"SELECT key, size FROM read_parquet('{path}')").fetchall()
    assert from_duckdb == [(r["key"], r["size"]) for r in rows]


def test_parquet_writes_row_groups_of_the_chosen_size(tmp_path):
    rows = [row(f"k{i:03d}", i) for i in range(50)]
    path = tmp_path / "groups.parquet"
    path.write_bytes(written(write_parquet, rows, row_group_rows=14))
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [14, 14, 14, 8]
    assert pq.read_table(path).column("key").to_pylist() == [r["key"] for r in rows]


# --- CSV --------------------------------------------------------------------------------------------


def test_csv_read_by_python_csv_and_pandas_equals_the_rows_exactly():
    rows = hostile_rows()
    data = written(write_csv, rows)
    assert data.startswith(b"bucket,key,version_id,")
    assert b"\r\n" in data and not data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed[0] == list(COLUMNS)
    assert [line[1] for line in parsed[1:]] == HOSTILE_KEYS
    assert [line[5] for line in parsed[1:]] == ["" if r["size"] is None else str(r["size"]) for r in rows]
    assert [line[6] for line in parsed[1:]] == [iso(r["last_modified_date"]) for r in rows]
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert frame["key"].tolist() == HOSTILE_KEYS
    assert frame["is_latest"].tolist() == ["true" if r["is_latest"] else "false" for r in rows]


def test_csv_read_by_duckdb_gives_exact_keys_sizes_and_instants(tmp_path):
    rows = hostile_rows()
    path = tmp_path / "objects.csv"
    path.write_bytes(written(write_csv, rows, columns=("key", "size", "last_modified_date")))
    got = duckdb.sql(
        f"SELECT key, size, last_modified_date FROM read_csv('{path}', header=true, quote='\"', escape='\"', "
        "columns={'key': 'VARCHAR', 'size': 'BIGINT', 'last_modified_date': 'TIMESTAMPTZ'}) "
    ).fetchall()
    assert [g[0] for g in got] == HOSTILE_KEYS
    assert [g[1] for g in got] == [r["size"] for r in rows]
    assert [g[2].astimezone(UTC) for g in got] == [r["last_modified_date"] for r in rows]


def test_csv_spreadsheet_safe_prefixes_formula_cells_and_nothing_else():
    rows = hostile_rows()
    data = written(write_csv, rows, columns=("key", "size"), spreadsheet_safe=True)
    keys = [line[0] for line in list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]]
    changed = {original: got for original, got in zip(HOSTILE_KEYS, keys, strict=True) if original != got}
    assert changed == {"=SUM(A1:A2)": "'=SUM(A1:A2)", "+1": "'+1", "-2": "'-2", "@cmd": "'@cmd"}
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx" and neutralise("a=b") == "a=b"


def test_csv_is_exact_by_default_even_for_formula_looking_keys():
    data = written(write_csv, [row('=HYPERLINK("http://x")')], columns=("key",))
    assert data == b'key\r\n"=HYPERLINK(""http://x"")"\r\n'


# --- JSON Lines -------------------------------------------------------------------------------------


def test_jsonl_read_by_json_and_duckdb_equals_the_rows(tmp_path):
    rows = hostile_rows()
    data = written(write_jsonl, rows)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == len(rows) + 1
    parsed = [json.loads(line) for line in lines[:-1]]
    want = [dict(r, last_modified_date=iso(r["last_modified_date"])) for r in expected(rows)]
    assert parsed == want
    assert list(parsed[0]) == list(COLUMNS)
    path = tmp_path / "objects.jsonl"
    path.write_bytes(data)
    got = duckdb.sql(f"SELECT key, size FROM read_json('{path}', format='newline_delimited')").fetchall()
    assert got == [(r["key"], r["size"]) for r in rows]


# --- Excel ------------------------------------------------------------------------------------------


def _xstring(text):
    """Undo ECMA-376's _xHHHH_ escapes, which XlsxWriter writes (for CR, controls and a literal _x…_)
    and Excel decodes, but openpyxl leaves as they are."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text) if isinstance(text, str) else text


def read_xlsx(data: bytes) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {
        sheet.title: [tuple(_xstring(v) for v in values) for values in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


def test_xlsx_read_by_openpyxl_holds_every_value_as_data():
    rows = hostile_rows()
    data = written(write_xlsx, rows)
    sheets = read_xlsx(data)
    assert list(sheets) == ["objects"]
    header, *cells = sheets["objects"]
    assert header == COLUMNS
    for got, want in zip(cells, expected(rows), strict=True):
        want = dict(want, last_modified_date=want["last_modified_date"].replace(tzinfo=None))
        assert dict(zip(COLUMNS, got, strict=True)) == want
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    kinds = {cell.data_type for line in workbook["objects"].iter_rows(min_row=2) for cell in line}
    assert "f" not in kinds  # no formula cell anywhere, though keys start with = + - @
    size_cell = workbook["objects"].cell(row=5, column=COLUMNS.index("size") + 1)
    assert size_cell.value == 2**31 and size_cell.data_type == "n"


def test_xlsx_continues_on_new_sheets_each_with_its_header():
    rows = [row(f"key-{i:02d}", i) for i in range(10)]
    sheets = read_xlsx(written(write_xlsx, rows, columns=("key", "size"), rows_per_sheet=4))
    assert list(sheets) == ["objects", "objects 2", "objects 3", "objects 4"]
    assert all(sheet[0] == ("key", "size") for sheet in sheets.values())
    assert [len(sheet) for sheet in sheets.values()] == [4, 4, 4, 2]
    data_rows = [line for sheet in sheets.values() for line in sheet[1:]]
    assert data_rows == [(r["key"], r["size"]) for r in rows]


def test_excel_row_limit_is_excels_own_and_the_last_row_fills_it():
    # The real boundary without writing a million rows: the default is Excel's limit, the last data
    # row of a sheet lands on Excel's last row (which XlsxWriter accepts), the next one on a new sheet.
    assert EXCEL_MAX_ROWS == 1_048_576 == WriteOptions().rows_per_sheet
    assert sheet_position(0) == (0, 1)
    assert sheet_position(EXCEL_MAX_ROWS - 2) == (0, EXCEL_MAX_ROWS - 1)
    assert sheet_position(EXCEL_MAX_ROWS - 1) == (1, 1)
    assert sheet_name(0) == "objects" and sheet_name(1) == "objects 2"
    sheet = xlsxwriter.Workbook(io.BytesIO(), {"constant_memory": True}).add_worksheet()
    assert sheet.write_string(EXCEL_MAX_ROWS - 1, 0, "last") == 0
    assert sheet.write_string(EXCEL_MAX_ROWS, 0, "beyond") == -1


# --- Shared -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [("size", "key"), ("last_modified_date", "storage_class", "key", "bucket")])
def test_every_format_keeps_the_chosen_columns_in_the_chosen_order(tmp_path, columns):
    rows = hostile_rows()[:5]
    csv_header = written(write_csv, rows, columns).split(b"\r\n", 1)[0].decode()
    assert csv_header == ",".join(columns)
    assert list(json.loads(written(write_jsonl, rows, columns).split(b"\n", 1)[0])) == list(columns)
    path = tmp_path / "c.parquet"
    path.write_bytes(written(write_parquet, rows, columns))
    assert pq.read_table(path).column_names == list(columns)
    assert read_xlsx(written(write_xlsx, rows, columns))["objects"][0] == columns


def test_an_empty_export_is_a_header_or_no_lines(tmp_path):
    schema = export_schema(("key", "size"))
    out = {name: io.BytesIO() for name in FORMATS}
    for name, fmt in FORMATS.items():
        assert fmt.write(iter([]), schema, out[name], WriteOptions()) == 0
    assert out["csv"].getvalue() == b"key,size\r\n"
    assert out["jsonl"].getvalue() == b""
    path = tmp_path / "empty.parquet"
    path.write_bytes(out["parquet"].getvalue())
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.column_names == ["key", "size"]
    assert read_xlsx(out["xlsx"].getvalue()) == {"objects": [("key", "size")]}


def test_a_batch_with_other_columns_is_refused_not_written_under_the_wrong_header():
    schema = export_schema(("key", "size"))
    wrong = pa.RecordBatch.from_pylist([{"size": 1, "key": "a"}], schema=export_schema(("size", "key")))
    with pytest.raises(ValueError, match="differ"):
        write_csv([wrong], schema, io.BytesIO())


def test_the_registry_names_extension_and_media_type_of_each_format():
    assert {name: (f.extension, f.streamable) for name, f in FORMATS.items()} == {
        "csv": (".csv", True),
        "parquet": (".parquet", False),
        "jsonl": (".jsonl", True),
        "xlsx": (".xlsx", False),
    }
    assert FORMATS["xlsx"].media_type.endswith("spreadsheetml.sheet")
