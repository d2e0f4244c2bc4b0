"""A snapshot's local search database: its rows in one DuckDB file, sorted in search order.

Why: a search shows one page of matches in key order. Over the snapshot's Parquet files (zstd, rows in
the order the walk found them) every search decodes every row of every column and top-N-sorts all
matches: seconds at 10 million rows. The same rows in DuckDB's own format, sorted by
`query.ORDER_BY`, let the same SQL stop early: once DuckDB's top-N holds a page, its running
"key <= last key on the page" filter skips every later row group by its min/max key, and a prefix
(an allowed prefix, a folder filter) becomes a key range that skips row groups too. Only a term that
matches (almost) nothing still reads every key, from plain strings instead of zstd pages.
Queries stay `ObjectQuery`'s; only the table under the `objects` view changes.

The database is a copy, never the snapshot: built once per snapshot from its local Parquet files,
next to them (so pruning a snapshot removes it), written under a temporary name and renamed into
place, so a reader never sees half of one. A file that is missing, unreadable or built for another
snapshot or layout is simply built again. Building sorts under `BUILD_MEMORY` and spills to the
system's temp folder beyond it, so memory stays bounded at any snapshot size.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from lib.inventory.query import ORDER_BY, sql_text
from lib.inventory.schema import COLUMNS

FILE = "objects.duckdb"
LAYOUT = 2  # bump when the table's layout changes: older files are rebuilt
BUILD_MEMORY = "256MB"
SPILL_DIR = Path(tempfile.gettempdir()) / "bucketdesk-duckdb"
_PARTIAL = ".building"
_STALE_PARTIAL_SECONDS = 3_600  # a build that died (a killed server) leaves its partial file


def path_in(folder: Path) -> Path:
    return folder / FILE


def is_current(path: Path, snapshot_id: str) -> bool:
    """Is `path` a complete database of this snapshot in this layout? False for anything else,
    a corrupt file included."""
    if not path.is_file():
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            found = con.execute("SELECT snapshot_id, layout FROM bucketdesk_snapshot").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return False
    return found == (snapshot_id, LAYOUT)


def build(folder: Path, snapshot_id: str, files: Sequence[Path]) -> Path:
    """Write the database of these Parquet files (one snapshot) into `folder`; returns its path."""
    target = path_in(folder)
    _remove_stale_partials(folder)
    partial = folder / f"{FILE}.{secrets.token_hex(4)}{_PARTIAL}"
    try:
        con = duckdb.connect(str(partial))
        try:
            SPILL_DIR.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET memory_limit = '{BUILD_MEMORY}'")
            con.execute(f"SET temp_directory = {sql_text(str(SPILL_DIR))}")
            con.execute("SET preserve_insertion_order = true")  # the sort's order is the table's order
            listed = ", ".join(sql_text(str(path)) for path in files)
            source = f"SELECT {', '.join(COLUMNS)} FROM read_parquet([{listed}])"
            con.execute(f"CREATE TABLE objects ({_columns(con, source)})")
            con.execute(f"INSERT INTO objects {source} ORDER BY {ORDER_BY}")
            con.execute("CREATE TABLE bucketdesk_snapshot (snapshot_id VARCHAR, layout INTEGER)")
            con.execute("INSERT INTO bucketdesk_snapshot VALUES (?, ?)", [snapshot_id, LAYOUT])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(partial, target)
    finally:
        for leftover in (partial, partial.with_name(partial.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return target


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """The table's columns, typed as DuckDB reads them from the Parquet files (so both paths answer
    in the same types), with `key` stored uncompressed: a search for a term that matches almost
    nothing reads every key, and decompressing FSST strings was ~40 % of its CPU (measured at 10
    million keys: 0.80 s against 0.50 s), for about twice the disk of the Parquet files."""
    described = con.execute(f"DESCRIBE {source}").fetchall()
    return ", ".join(
        f"{name} {kind}" + (" USING COMPRESSION uncompressed" if name == "key" else "") for name, kind, *_ in described
    )


def _remove_stale_partials(folder: Path) -> None:
    cutoff = time.time() - _STALE_PARTIAL_SECONDS
    for path in folder.glob(f"{FILE}.*{_PARTIAL}*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
