"""Streaming writers: a listing's Arrow record batches in, one file's bytes out.

Each writer takes an iterator of `pyarrow.RecordBatch`es whose columns are exactly `schema`'s (a
subset of the listing schema, plus HEAD columns, in the order the analyst picked) and writes them to
a binary file object as they come: no writer ever holds more than one batch (Parquet: one row
group) of the listing. Each returns the number of rows written.

Choices every format shares:
- Timestamps are UTC. Where a format has no timestamp type (CSV, JSON Lines) they are ISO 8601
  text with milliseconds and a `Z`: `2024-05-01T12:34:56.789Z` (S3 reports milliseconds).
- Sizes are whole numbers, exact (the largest S3 object, 5 TiB, has 13 digits).
- Keys are written exactly as stored: commas, quotes, newlines, tabs, any Unicode, and a leading
  `=`, `+`, `-` or `@` survive every format. The one deliberate exception is CSV with
  `spreadsheet_safe=True`, which changes such cells (see `neutralise`).

`FORMATS` is the one registry of what can be exported: name, file extension, media type, writer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xlsxwriter

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow prints the fraction of a second after %S for ms timestamps
# Excel's hard limit, header row included: https://support.microsoft.com/office/excel-specifications-and-limits
EXCEL_MAX_ROWS = 1_048_576
EXCEL_SHEET_NAME = "objects"
EXCEL_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
# Rows per Parquet row group: large enough for fast scans, small enough to keep memory flat.
PARQUET_ROW_GROUP_ROWS = 128 * 1024
# What a spreadsheet treats as the start of a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Batches = Iterable[pa.RecordBatch]


@dataclass(frozen=True)
class WriteOptions:
    """Knobs some formats read; every format accepts them all."""

    # CSV only: neutralise cells a spreadsheet would run as formulas (changes the data; see neutralise).
    spreadsheet_safe: bool = False
    # Excel only: rows per sheet *including* the header row; Excel's own limit unless a test lowers it.
    rows_per_sheet: int = EXCEL_MAX_ROWS
    # Parquet only.
    row_group_rows: int = PARQUET_ROW_GROUP_ROWS


DEFAULT_OPTIONS = WriteOptions()

Writer = Callable[[Batches, pa.Schema, IO[bytes], WriteOptions], int]


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    media_type: str
    write: Writer
    # Formats a reader can consume line by line, so they may go to stdout.
    streamable: bool
    label: str


def neutralise(text: str) -> str:
    """Prefix `'` to a cell a spreadsheet would evaluate (starts with = + - @ tab or CR), per OWASP.

    This changes the data: `=SUM(A1)` is exported as `'=SUM(A1)` and `-5` as `'-5`. It protects a
    person who opens the CSV in Excel, LibreOffice or Google Sheets; for pandas, DuckDB or a warehouse
    export without it, so keys stay exact."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


# --- CSV ------------------------------------------------------------------------------------------


def write_csv(batches: Batches, schema: pa.Schema, out: IO[bytes], options: WriteOptions = DEFAULT_OPTIONS) -> int:
    """RFC 4180 CSV in UTF-8 (no byte-order mark): a header row of the column names, CRLF line ends,
    fields quoted only when they hold a comma, a quote, CR or LF (quotes doubled). Nulls are empty
    fields; booleans `true`/`false`; timestamps ISO 8601 UTC."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(schema.names)
        rows = 0
        for batch in _checked(batches, schema):
            columns = [_text_column(batch.column(i), options.spreadsheet_safe) for i in range(batch.num_columns)]
            writer.writerows(zip(*columns, strict=True))
            rows += batch.num_rows
        text.flush()
        return rows
    finally:
        text.detach()  # leave `out` open: its owner closes it


def _text_column(array: pa.Array, spreadsheet_safe: bool) -> list[Any]:
    if pa.types.is_timestamp(array.type):
        return pc.strftime(array, format=ISO_FORMAT).to_pylist()
    if pa.types.is_boolean(array.type):
        return [None if value is None else ("true" if value else "false") for value in array.to_pylist()]
    values = array.to_pylist()
    if spreadsheet_safe and pa.types.is_string(array.type):
        return [None if value is None else neutralise(value) for value in values]
    return values


# --- JSON Lines -----------------------------------------------------------------------------------


def write_jsonl(batches: Batches, schema: pa.Schema, out: IO[bytes], options: WriteOptions = DEFAULT_OPTIONS) -> int:
    """One JSON object per line (UTF-8, `\\n`), keys in column order; nulls as null, sizes as
    integers, booleans as true/false, timestamps as ISO 8601 UTC strings. An empty export is an
    empty file."""
    rows = 0
    for batch in _checked(batches, schema):
        batch = _timestamps_as_text(batch)
        lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in batch.to_pylist()]
        if lines:
            out.write(("\n".join(lines) + "\n").encode("utf-8"))
        rows += batch.num_rows
    return rows


def _timestamps_as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = [
        pc.strftime(column, format=ISO_FORMAT) if pa.types.is_timestamp(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


# --- Parquet --------------------------------------------------------------------------------------


def write_parquet(batches: Batches, schema: pa.Schema, out: IO[bytes], options: WriteOptions = DEFAULT_OPTIONS) -> int:
    """Parquet with the listing's types (timestamps as UTC millisecond timestamps, sizes as int64),
    zstd-compressed, in row groups of `options.row_group_rows`; batches are gathered only up to one
    row group, so memory stays flat however many rows come."""
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in _checked(batches, schema):
            pending.append(batch)
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if pending_rows >= options.row_group_rows:
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=options.row_group_rows)
                pending, pending_rows = [], 0
        if pending_rows:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=options.row_group_rows)
    return rows


# --- Excel ----------------------------------------------------------------------------------------


def sheet_position(index: int, rows_per_sheet: int = EXCEL_MAX_ROWS) -> tuple[int, int]:
    """Where data row `index` (0-based) goes: (sheet number from 0, row on that sheet from 0).

    Row 0 of every sheet is the header, so a sheet holds `rows_per_sheet - 1` data rows."""
    per_sheet = rows_per_sheet - 1
    return index // per_sheet, index % per_sheet + 1


def sheet_name(number: int) -> str:
    """`objects`, `objects 2`, `objects 3`, …"""
    return EXCEL_SHEET_NAME if number == 0 else f"{EXCEL_SHEET_NAME} {number + 1}"


def write_xlsx(batches: Batches, schema: pa.Schema, out: IO[bytes], options: WriteOptions = DEFAULT_OPTIONS) -> int:
    """Excel .xlsx in XlsxWriter's constant-memory mode (each row goes to disk as it is written).

    Every cell is data: strings with write_string (never a formula, number or link, whatever they
    start with), sizes as numbers (exact: Excel keeps 15 digits), timestamps as Excel date-times
    in UTC with a millisecond format, booleans as TRUE/FALSE, nulls as empty cells. A sheet holds at
    most 1,048,576 rows including its header; more rows continue on sheets `objects 2`, `objects 3`,
    … each with the header again."""
    if options.rows_per_sheet < 2:
        raise ValueError("a sheet needs room for the header and at least one row")
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "remove_timezone": True,
        },
    )
    datetime_format = workbook.add_format({"num_format": EXCEL_DATETIME_FORMAT})
    cell_writers = [_cell_writer(field.type, datetime_format) for field in schema]
    sheet = _new_sheet(workbook, 0, schema)
    sheets = 1
    rows = 0
    try:
        for batch in _checked(batches, schema):
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                number, row = sheet_position(rows, options.rows_per_sheet)
                if number == sheets:
                    sheet = _new_sheet(workbook, number, schema)
                    sheets += 1
                for col, value in enumerate(values):
                    if value is not None:
                        cell_writers[col](sheet, row, col, value)
                rows += 1
    finally:
        workbook.close()
    return rows


def _new_sheet(workbook: Any, number: int, schema: pa.Schema) -> Any:
    sheet = workbook.add_worksheet(sheet_name(number))
    for col, name in enumerate(schema.names):
        sheet.write_string(0, col, name)
    sheet.freeze_panes(1, 0)
    return sheet


def _cell_writer(kind: pa.DataType, datetime_format: Any) -> Callable[[Any, int, int, Any], Any]:
    if pa.types.is_timestamp(kind):
        return lambda sheet, row, col, value: sheet.write_datetime(row, col, _naive_utc(value), datetime_format)
    if pa.types.is_boolean(kind):
        return lambda sheet, row, col, value: sheet.write_boolean(row, col, value)
    if pa.types.is_integer(kind):
        return lambda sheet, row, col, value: sheet.write_number(row, col, value)
    return lambda sheet, row, col, value: sheet.write_string(row, col, str(value))


def _naive_utc(value: datetime) -> datetime:
    # Excel has no time zones; the column holds UTC (says the docs), so drop the zone, not the hours.
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


# --- Shared ---------------------------------------------------------------------------------------


def _checked(batches: Batches, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.schema.names != schema.names:
            raise ValueError(f"batch columns {batch.schema.names} differ from the export's {schema.names}")
        yield batch


FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("csv", ".csv", "text/csv; charset=utf-8", write_csv, True, "CSV"),
        Format("parquet", ".parquet", "application/vnd.apache.parquet", write_parquet, False, "Parquet"),
        Format("jsonl", ".jsonl", "application/x-ndjson", write_jsonl, True, "JSON Lines"),
        Format(
            "xlsx",
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            write_xlsx,
            False,
            "Excel",
        ),
    )
}
