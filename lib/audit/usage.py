"""Usage: what a bucket holds, where, of which kinds, how old, and how it grew, from a snapshot.

Every function takes a DuckDB connection with a view `objects` in lib.inventory.schema's SCHEMA
(lib.inventory.query.connect gives one) and answers with a small, bounded result: totals as a
dataclass, breakdowns as pandas DataFrames of at most `top` rows. The bucket itself is never held
in memory: DuckDB streams the Parquet files.

"Current" objects are the ones a listing shows: the latest version, not a delete marker. A
snapshot of an unversioned bucket has no `is_latest` (null), which counts as latest. Noncurrent
versions and delete markers are the hidden storage: billed (versions) or slowing listings
(markers), yet not shown anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from lib import mime
from lib.inventory.query import CURRENT, EXTENSION_SQL

NONCURRENT = "NOT coalesce(is_latest, true) AND NOT coalesce(is_delete_marker, false)"
DELETE_MARKER = "coalesce(is_delete_marker, false)"

# Age bands of last_modified_date, youngest first: (label, upper bound in days; None = no bound).
AGE_BANDS: tuple[tuple[str, int | None], ...] = (
    ("< 30 days", 30),
    ("30–90 days", 90),
    ("90 days – 1 year", 365),
    ("> 1 year", None),
)
DEFAULT_TOP = 20
# Keys without an extension are grouped under this label; `family` is lib.mime.kind_of of the extension.
NO_EXTENSION = "(none)"


@dataclass(frozen=True)
class Totals:
    objects: int  # current objects
    bytes: int  # their bytes
    versions: int  # every stored version (current and noncurrent), not delete markers
    version_bytes: int  # bytes of every stored version: what the bucket is billed for
    noncurrent: int
    noncurrent_bytes: int
    delete_markers: int


@dataclass(frozen=True)
class SnapshotPoint:
    """One snapshot's totals at the time it finished (from its manifest, or from its files)."""

    finished: datetime
    objects: int
    bytes: int


def totals(con: duckdb.DuckDBPyConnection) -> Totals:
    row = con.execute(
        f"""
        SELECT
            count(*) FILTER (WHERE {CURRENT}),
            coalesce(sum(size) FILTER (WHERE {CURRENT}), 0),
            count(*) FILTER (WHERE NOT {DELETE_MARKER}),
            coalesce(sum(size) FILTER (WHERE NOT {DELETE_MARKER}), 0),
            count(*) FILTER (WHERE {NONCURRENT}),
            coalesce(sum(size) FILTER (WHERE {NONCURRENT}), 0),
            count(*) FILTER (WHERE {DELETE_MARKER})
        FROM objects
        """
    ).fetchone()
    assert row is not None  # an aggregate always answers one row
    return Totals(*(int(value) for value in row))


def by_prefix(
    con: duckdb.DuckDBPyConnection, prefix: str = "", *, top: int = DEFAULT_TOP, delimiter: str = "/"
) -> pd.DataFrame:
    """The biggest folders one level below `prefix` (current objects): folder, objects, bytes.

    `folder` is the full prefix of each subfolder (ending with the delimiter), or None for the
    objects directly at this level. Drill down by calling again with a row's folder.
    """
    return _folders(con, prefix, CURRENT, top, delimiter).rename(columns={"n": "objects", "b": "bytes"})


def hidden_by_prefix(
    con: duckdb.DuckDBPyConnection, prefix: str = "", *, top: int = DEFAULT_TOP, delimiter: str = "/"
) -> pd.DataFrame:
    """Where the hidden storage is, one level below `prefix`, from a versions snapshot: folder,
    noncurrent (versions), noncurrent_bytes, delete_markers; biggest noncurrent bytes first."""
    scoped = f"NOT coalesce(is_latest, true) OR {DELETE_MARKER}"
    extra = f", count(*) FILTER (WHERE {DELETE_MARKER}) AS delete_markers"
    frame = _folders(con, prefix, scoped, top, delimiter, extra=extra)
    frame = frame.rename(columns={"n": "noncurrent", "b": "noncurrent_bytes"})
    frame["noncurrent"] -= frame["delete_markers"]
    return frame[["folder", "noncurrent", "noncurrent_bytes", "delete_markers"]]


def _folders(
    con: duckdb.DuckDBPyConnection, prefix: str, where: str, top: int, delimiter: str, extra: str = ""
) -> pd.DataFrame:
    # `rest` is the key after the prefix; its first segment (with the delimiter) names the subfolder,
    # "" the objects at this level. Grouping on the segment and adding the prefix to the few groups
    # afterwards is twice as fast as building a full path for every row.
    frame = con.execute(
        f"""
        WITH scoped AS (
            SELECT substr(key, length($prefix) + 1) AS rest, size, is_delete_marker
            FROM objects
            WHERE starts_with(key, $prefix) AND ({where})
        )
        SELECT left(rest, strpos(rest, $delimiter) + length($delimiter) - 1) AS segment,
               count(*) AS n, coalesce(sum(size), 0)::BIGINT AS b {extra}
        FROM scoped
        GROUP BY segment
        ORDER BY b DESC, n DESC, segment
        LIMIT $top
        """,
        {"prefix": prefix, "delimiter": delimiter, "top": top},
    ).df()
    folders = [prefix + segment if segment else None for segment in frame.pop("segment")]
    frame.insert(0, "folder", pd.Series(folders, dtype="object"))
    return frame


def by_extension(con: duckdb.DuckDBPyConnection, *, top: int = DEFAULT_TOP) -> pd.DataFrame:
    """Current objects by file extension (lower-cased): extension, family, objects, bytes."""
    frame = con.execute(
        f"""
        SELECT
            coalesce(nullif({EXTENSION_SQL}, ''), '{NO_EXTENSION}') AS extension,
            count(*) AS objects,
            coalesce(sum(size), 0)::BIGINT AS bytes
        FROM objects
        WHERE {CURRENT}
        GROUP BY extension
        ORDER BY bytes DESC, objects DESC, extension
        LIMIT $top
        """,
        {"top": top},
    ).df()
    frame.insert(1, "family", [family_of(extension) for extension in frame["extension"]])
    return frame


def by_family(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current objects by type family (image, video, audio, pdf, text, archive, other).

    Extensions are grouped in DuckDB first, so only one row per distinct extension reaches Python.
    """
    frame = by_extension(con, top=1_000_000)
    grouped = frame.groupby("family", as_index=False)[["objects", "bytes"]].sum()
    return grouped.sort_values(["bytes", "objects"], ascending=False, ignore_index=True)


def family_of(extension: str) -> str:
    """The family people filter by (lib.mime.kind_of) that an extension usually has, or "other"."""
    return mime.kind_of_name(f"x.{extension}")


def by_storage_class(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current objects by storage class (STANDARD when the listing leaves it out)."""
    return con.execute(
        f"""
        SELECT coalesce(storage_class, 'STANDARD') AS storage_class, count(*) AS objects,
               coalesce(sum(size), 0)::BIGINT AS bytes
        FROM objects WHERE {CURRENT}
        GROUP BY 1 ORDER BY bytes DESC, objects DESC, storage_class
        """
    ).df()


def by_age(con: duckdb.DuckDBPyConnection, now: datetime) -> pd.DataFrame:
    """Current objects by age of last modification at `now`: one row per band of AGE_BANDS, in
    order, bands with nothing included (zeros), so a chart's axis never shifts."""
    cases = " ".join(
        f"WHEN last_modified_date > $now - INTERVAL {days} DAY THEN {index}"
        for index, (_, days) in enumerate(AGE_BANDS)
        if days is not None
    )
    counted = con.execute(
        f"""
        SELECT CASE {cases} ELSE {len(AGE_BANDS) - 1} END AS band, count(*) AS objects,
               coalesce(sum(size), 0)::BIGINT AS bytes
        FROM objects WHERE {CURRENT} AND last_modified_date IS NOT NULL
        GROUP BY band
        """,
        {"now": now},
    ).fetchall()
    found = {band: (objects, size) for band, objects, size in counted}
    rows = [(label, *found.get(index, (0, 0))) for index, (label, _) in enumerate(AGE_BANDS)]
    return pd.DataFrame(rows, columns=["age", "objects", "bytes"])


def largest(con: duckdb.DuckDBPyConnection, *, top: int = DEFAULT_TOP) -> pd.DataFrame:
    """The `top` largest current objects: key, size, last_modified_date, storage_class."""
    return con.execute(
        f"""
        SELECT key, size, last_modified_date, storage_class
        FROM objects WHERE {CURRENT}
        ORDER BY size DESC NULLS LAST, key
        LIMIT $top
        """,
        {"top": top},
    ).df()


def growth(points: Iterable[SnapshotPoint]) -> pd.DataFrame:
    """Totals over time, oldest first, with the change since the previous snapshot:
    finished, objects, bytes, objects_added, bytes_added (None for the first)."""
    ordered = sorted(points, key=lambda point: point.finished)
    frame = pd.DataFrame([(p.finished, p.objects, p.bytes) for p in ordered], columns=["finished", "objects", "bytes"])
    frame["objects_added"] = frame["objects"].diff().astype("Int64")
    frame["bytes_added"] = frame["bytes"].diff().astype("Int64")
    return frame


def growth_from_snapshots(snapshots: Sequence[tuple[datetime, duckdb.DuckDBPyConnection]]) -> pd.DataFrame:
    """growth() over snapshots given as (finished, connection): current objects and their bytes."""
    points = []
    for finished, con in snapshots:
        counted = totals(con)
        points.append(SnapshotPoint(finished, counted.objects, counted.bytes))
    return growth(points)
