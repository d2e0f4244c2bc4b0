"""Search snapshots with DuckDB: the one home of object filters (search, audit and export reuse it).

`connect(files)` opens an in-memory DuckDB with a view `objects` over a snapshot's Parquet files
(DuckDB's built-in reader; no extension is downloaded); `connect_database(path)` the same view over
the snapshot's local search database (lib.inventory.localdb: the rows sorted in ORDER_BY, where a
page of matches is found without reading them all). Both run in QUERY_MEMORY. `ObjectQuery` says which objects; its
`where_sql(allowed_prefixes)` is a WHERE clause with `?` parameters, so nothing a person types is
ever spliced into SQL. `search` pages through the matches in a stable order (key, then version);
`recent` writes the app made after the snapshot are overlaid so they appear or vanish at once.

Only rows under `allowed_prefixes` ever come back (None means the whole bucket; an empty list
means nothing).
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lib import mime
from lib.errors import BadQuery
from lib.inventory.schema import SCHEMA

MODES = ("substring", "glob", "regex")
VERSION_SCOPES = ("latest", "all")
APP_PREFIX = ".bucketdesk/"  # thumbnails and snapshots the app keeps in the bucket
ORDER_BY = "key, is_latest DESC NULLS LAST, last_modified_date DESC NULLS LAST, version_id NULLS FIRST"
# The objects a listing shows: the latest version, not a delete marker (a snapshot without versions
# has no is_latest: null counts as latest).
CURRENT = "coalesce(is_latest, true) AND NOT coalesce(is_delete_marker, false)"

# A key's extension as the audit groups it (lower case, no dot, "" when none): a dot inside the last
# name, followed by 1-12 letters or digits. Every extension lib.mime knows has that shape, so a
# family filter here and the audit's families (lib.mime.kind_extensions) agree key by key.
EXTENSION_SQL = "lower(regexp_extract(key, '[^/]\\.([A-Za-z0-9]{1,12})$', 1))"
TYPE_FAMILIES: tuple[str, ...] = mime.KINDS


def family_clause(family: str) -> tuple[str, list[Any]]:
    """SQL (with its parameters) true for keys whose extension lib.mime puts in `family`."""
    if family not in TYPE_FAMILIES:
        raise BadQuery(f"There is no type family called {family!r}; choose one of {', '.join(TYPE_FAMILIES)}.")
    kinds = mime.kind_extensions()
    if family == "other":  # unknown extensions and none at all are "other" too
        known = sorted(set().union(*(exts for kind, exts in kinds.items() if kind != "other")))
        return f"NOT list_contains(?, {EXTENSION_SQL})", [known]
    return f"list_contains(?, {EXTENSION_SQL})", [sorted(kinds[family])]


@dataclass(frozen=True)
class ObjectQuery:
    """Which objects: every field narrows; the defaults match every current object."""

    text: str = ""
    mode: str = "substring"  # substring | glob | regex
    case_sensitive: bool = False
    prefixes: tuple[str, ...] = ()  # any of them
    extensions: tuple[str, ...] = ()  # "png" or ".png", any of them
    type_family: str | None = None  # one of TYPE_FAMILIES (lib.mime.KINDS)
    min_size: int | None = None
    max_size: int | None = None
    modified_since: datetime | None = None
    modified_until: datetime | None = None
    storage_classes: tuple[str, ...] = ()
    versions: str = "latest"  # latest: current objects only; all: noncurrent versions and delete markers too
    include_app_files: bool = False  # the app's own .bucketdesk/ files

    def where_sql(self, allowed_prefixes: Sequence[str] | None = None) -> tuple[str, list[Any]]:
        """A WHERE clause over the `objects` columns and its parameters; BadQuery for a bad pattern."""
        clauses: list[str] = []
        params: list[Any] = []

        def add(sql: str, *values: Any) -> None:
            clauses.append(sql)
            params.extend(values)

        if allowed_prefixes is not None:
            _any_prefix(add, tuple(allowed_prefixes))
        if self.prefixes:
            _any_prefix(add, self.prefixes)
        if not self.include_app_files:
            add("NOT starts_with(key, ?)", APP_PREFIX)
        if self.text:
            self._text_clause(add)
        if self.extensions:
            add(f"list_contains(?, {EXTENSION_SQL})", sorted({_extension(e) for e in self.extensions}))
        if self.type_family:
            sql, values = family_clause(self.type_family)
            add(sql, *values)
        self._range_clauses(add)
        if self.storage_classes:
            add("storage_class IN (" + ", ".join("?" * len(self.storage_classes)) + ")", *self.storage_classes)
        if self.versions not in VERSION_SCOPES:
            raise BadQuery(f"Versions must be one of {', '.join(VERSION_SCOPES)}, not {self.versions!r}.")
        if self.versions == "latest":
            add(CURRENT)
        return (" AND ".join(clauses) or "true"), params

    def _range_clauses(self, add) -> None:
        if self.min_size is not None and self.max_size is not None and self.min_size > self.max_size:
            raise BadQuery("The smallest size is larger than the largest size.", "Swap the two sizes.")
        if self.min_size is not None:
            add("size >= ?", self.min_size)
        if self.max_size is not None:
            add("size <= ?", self.max_size)
        if self.modified_since is not None:
            add("last_modified_date >= ?", self.modified_since)
        if self.modified_until is not None:
            add("last_modified_date <= ?", self.modified_until)

    def _text_clause(self, add) -> None:
        if self.mode == "substring":
            if self.case_sensitive:
                add("contains(key, ?)", self.text)
            else:
                _contains_any_case(add, self.text)
        elif self.mode == "glob":
            pattern = _check_regex(glob_to_regex(self.text, self.case_sensitive))
            self._literal_clause(add, glob_to_regex(self.text, case_sensitive=True))
            add("regexp_full_match(key, ?)", pattern)
        elif self.mode == "regex":
            pattern = _check_regex(self.text if self.case_sensitive else "(?i)" + self.text, typed=self.text)
            self._literal_clause(add, self.text)
            add("regexp_matches(key, ?)", pattern)
        else:
            raise BadQuery(f"Search mode must be one of {', '.join(MODES)}, not {self.mode!r}.")

    def _literal_clause(self, add, pattern: str) -> None:
        """A cheap test every match passes, before the regular expression: DuckDB checks it while it
        reads keys, so the expression runs on a few rows and a page of matches is found early."""
        literal = required_literal(pattern, self.case_sensitive)
        if len(literal) >= 2 and self.case_sensitive:
            add("contains(key, ?)", literal)
        elif len(literal) >= 2:
            _contains_any_case(add, literal)


def _contains_any_case(add, text: str) -> None:
    """`lower(key)` contains `lower(text)`, both lowered by DuckDB (Python's lower() differs for a
    few letters, such as a dotted capital I). DuckDB's ILIKE gives the same answer for ~20 % less CPU
    (it folds ASCII case without copying each key), but needs ESCAPE for a % or _, which makes it
    slower than lower() again."""
    if "%" in text or "_" in text:
        add("contains(lower(key), lower(?))", text)
    else:
        add("key ILIKE ?", f"%{text}%")


def _any_prefix(add, prefixes: tuple[str, ...]) -> None:
    if not prefixes:
        add("false")
    elif "" in prefixes:
        return
    else:
        add("(" + " OR ".join(["starts_with(key, ?)"] * len(prefixes)) + ")", *prefixes)


def _extension(extension: str) -> str:
    """ "png", ".PNG" -> "png", as EXTENSION_SQL spells it."""
    return extension.strip().lower().lstrip(".")


def glob_to_regex(pattern: str, case_sensitive: bool = False) -> str:
    """A glob as an RE2 pattern matched against the whole key.

    `*` is any run of characters within one folder name, `**` any run across folders (`**/` also
    matches no folder at all), `?` one character, `[abc]`/`[!abc]` a class. A pattern without `/`
    matches an object's name in any folder (`*.png`); with `/`, the key from its start.
    """
    if not pattern:
        raise BadQuery("The glob pattern is empty.", "Type a pattern such as *.png or photos/**/logo*.")
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = pattern.find("]", index + 2 if pattern[index + 1 : index + 2] in ("!", "]") else index + 1)
            if end == -1:
                raise BadQuery(
                    f"The glob {pattern!r} opens a character class with [ but never closes it with ].",
                    "Close the class (e.g. [abc]) or search in substring mode to find a literal [.",
                )
            body = pattern[index + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = "".join("\\" + c if c in "\\^[]" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    body = "".join(out)
    anchored = body if "/" in pattern else f"(?:.*/)?{body}"
    return ("" if case_sensitive else "(?i)") + anchored


# Characters a case-insensitive literal may keep: RE2's (?i) matches exactly the characters whose
# lower() is the literal's, for printable ASCII but "s" (it also matches U+017F, the long s, whose
# lower() is itself) - checked against every code point.
_FOLD_SAFE = frozenset(chr(c) for c in range(32, 127)) - {"s", "S"}


def required_literal(pattern: str, case_sensitive: bool) -> str:
    """The longest run of plain characters that every match of the RE2 `pattern` contains (lower
    case unless `case_sensitive`), or "" when none is certain. Conservative: an alternative at the
    top level, a flag group or an escape it does not know gives up; a group, a class, an anchor or
    a quantifier ends a run (a quantified character leaves it)."""
    runs, run, index = [], "", 0
    while index < len(pattern):
        char, following = pattern[index], pattern[index + 1 : index + 2]
        step = 1
        if char == "\\":
            if following and following.isascii() and not following.isalnum():
                run += following  # an escaped punctuation character is itself
                index += 2
                continue
            if not following or following not in "dDwWsSbB":
                return ""  # \x41, \pL, \Q…\E: what it spells is not worth parsing here
            runs.append(run)
            run, step = "", 2
        elif char in "?*+{":  # the character before may be absent or repeated
            runs.append(run[:-1])
            run = ""
            if char == "{":
                end = pattern.find("}", index)
                if end == -1:
                    return ""
                step = end - index + 1
            if pattern[index + step : index + step + 1] in ("?", "+"):
                step += 1
        elif char == "|":
            return ""
        elif char in "([":
            if pattern.startswith("(?", index) and not pattern.startswith("(?:", index):
                return ""  # flags such as (?i) or (?s:…) change what the rest means
            closed = (_group_end if char == "(" else _class_end)(pattern, index)
            if closed is None:
                return ""
            runs.append(run)
            run, step = "", closed - index + 1
        elif char in ".^$)]}":
            runs.append(run)
            run = ""
        else:
            run += char
        index += step
    runs.append(run)
    if not case_sensitive:
        pieces = (piece for run in runs for piece in re.split(r"[^\x20-\x7e]|[sS]", run))
        runs = [piece.lower() for piece in pieces if set(piece) <= _FOLD_SAFE]
    return max(runs, key=len, default="")


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the "]" closing the class opened at `start`."""
    index = start + 1
    index += pattern.startswith("^", index)
    index += pattern.startswith("]", index)  # a "]" first is a member
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
        elif pattern.startswith("[:", index):
            close = pattern.find(":]", index + 2)
            if close == -1:
                return None
            index = close + 2
        elif pattern[index] == "]":
            return index
        else:
            index += 1
    return None


def _group_end(pattern: str, start: int) -> int | None:
    """The index of the ")" closing the group opened at `start`."""
    depth, index = 0, start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            end = _class_end(pattern, index)
            if end is None:
                return None
            index = end
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


_checker = duckdb.connect()
_checker_lock = threading.Lock()


def _check_regex(pattern: str, typed: str | None = None) -> str:
    """DuckDB's regular expressions are RE2: ask it, so what passes here runs in the search."""
    try:
        with _checker_lock:
            _checker.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        detail = str(exc).split("\n")[0]
        what = f"The regular expression {typed!r}" if typed is not None else "The glob pattern"
        raise BadQuery(
            f"{what} is not valid: {detail}",
            "Check brackets and escapes (RE2 syntax: no look-ahead or back-references), or use substring mode.",
        ) from exc
    return pattern


# --- the view, the search and the overlay ---------------------------------------------------


QUERY_MEMORY = "128MB"  # per connection; sorts and aggregates beyond it spill to QUERY_SPILL_DIR
QUERY_SPILL_DIR = Path(tempfile.gettempdir()) / "bucketdesk-duckdb"


def sql_text(text: str) -> str:
    """A SQL string literal, for the few places DuckDB takes no parameter (our own file paths)."""
    return "'" + text.replace("'", "''") + "'"


def _bounded() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that stays within QUERY_MEMORY (DuckDB's default is 80 % of the machine)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{QUERY_MEMORY}'")
    # Not DuckDB's default (.tmp in the working directory): spills belong in the system's temp.
    con.execute(f"SET temp_directory = {sql_text(str(QUERY_SPILL_DIR))}")
    return con


def connect(files: Iterable[Path | str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view `objects` over these Parquet files (in SCHEMA)."""
    paths = [str(path) for path in files]
    con = _bounded()
    if not paths:
        con.register("_empty_objects", pa.Table.from_batches([], schema=SCHEMA))
        con.execute("CREATE VIEW objects AS SELECT * FROM _empty_objects")
        return con
    listed = ", ".join(sql_text(path) for path in paths)  # our own cache paths
    con.execute(f"CREATE VIEW objects AS SELECT * FROM read_parquet([{listed}])")
    return con


def count_current(cursor: duckdb.DuckDBPyConnection) -> int:
    """How many current objects the view `objects` holds (a versions snapshot has more rows)."""
    row = cursor.execute(f"SELECT count(*) FROM objects WHERE {CURRENT}").fetchone()
    return int(row[0]) if row else 0


def connect_database(path: Path | str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view `objects` over a snapshot's local search database (read only;
    lib.inventory.localdb builds it)."""
    con = _bounded()
    con.execute(f"ATTACH {sql_text(str(path))} AS snapshot (READ_ONLY)")
    con.execute("CREATE VIEW objects AS SELECT * FROM snapshot.objects")
    return con


@dataclass(frozen=True)
class RecentWrite:
    """An object the app uploaded (or deleted) itself, possibly after the snapshot was taken."""

    key: str
    size: int | None = None
    last_modified: datetime | None = None
    e_tag: str | None = None
    deleted: bool = False
    storage_class: str | None = "STANDARD"


@dataclass
class SearchPage:
    rows: pa.Table  # in SCHEMA
    offset: int
    has_more: bool
    overlaid: int = 0  # recent writes taken into account

    @property
    def keys(self) -> list[str]:
        return self.rows.column("key").to_pylist()


@dataclass
class _Overlay:
    table: pa.Table
    keys: set[str] = field(default_factory=set)


def search(
    con: duckdb.DuckDBPyConnection,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    *,
    recent: Iterable[RecentWrite] = (),
    bucket: str | None = None,
) -> SearchPage:
    """One page of matches in a stable order (key, then version), with recent writes overlaid."""
    if limit <= 0 or offset < 0:
        raise BadQuery("A page needs a positive size and an offset of 0 or more.")
    where, params = query.where_sql(allowed_prefixes)
    recent_writes = _latest_by_key(recent)
    source, name = _source(con, recent_writes.values(), bucket)
    try:
        sql = f"SELECT * FROM {source} WHERE {where} ORDER BY {ORDER_BY} LIMIT ? OFFSET ?"
        rows = con.sql(sql, params=[*params, limit + 1, offset]).to_arrow_table()
        assert rows is not None
    except duckdb.InvalidInputException as exc:
        raise BadQuery(f"The search could not run: {str(exc).splitlines()[0]}") from exc
    finally:
        if name:
            con.unregister(name)
    overlaid = len(recent_writes) if name else 0
    return SearchPage(rows.slice(0, limit).cast(SCHEMA), offset, rows.num_rows > limit, overlaid)


def iter_matches(
    con: duckdb.DuckDBPyConnection,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None = None,
    *,
    batch_rows: int = 50_000,
) -> Iterator[pa.RecordBatch]:
    """Every match in the same stable order, streamed batch by batch (for the CLI and exports)."""
    where, params = query.where_sql(allowed_prefixes)
    sql = f"SELECT * FROM objects WHERE {where} ORDER BY {ORDER_BY}"
    reader = con.sql(sql, params=params).to_arrow_reader(batch_rows)
    assert reader is not None
    yield from reader


def count(
    con: duckdb.DuckDBPyConnection,
    query: ObjectQuery,
    allowed_prefixes: Sequence[str] | None = None,
    *,
    recent: Iterable[RecentWrite] = (),
    bucket: str | None = None,
) -> int:
    where, params = query.where_sql(allowed_prefixes)
    source, name = _source(con, recent, bucket)
    try:
        # fetchall, not fetchone: DuckDB refuses other work on a connection with an unfinished result.
        return con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchall()[0][0]
    finally:
        if name:
            con.unregister(name)


def _source(con: duckdb.DuckDBPyConnection, recent: Iterable[RecentWrite], bucket: str | None) -> tuple[str, str]:
    """`objects`, or `objects` with recent writes overlaid: their keys' rows replaced by theirs."""
    latest = _latest_by_key(recent)
    if not latest:
        return "objects", ""
    name = f"_recent_{threading.get_ident()}_{id(latest)}"
    con.register(name, overlay_table(latest.values(), bucket or ""))
    source = (
        f"(SELECT * FROM objects WHERE key NOT IN (SELECT key FROM {name}) "
        f"UNION ALL BY NAME SELECT * EXCLUDE (deleted) FROM {name} WHERE NOT deleted)"
    )
    return source, name


def _latest_by_key(recent: Iterable[RecentWrite]) -> dict[str, RecentWrite]:
    """The last record of each key wins (records arrive in the order the app made the writes)."""
    latest: dict[str, RecentWrite] = {}
    for record in recent:
        latest[record.key] = record
    return latest


def overlay_table(records: Iterable[RecentWrite], bucket: str) -> pa.Table:
    """Recent writes as rows in SCHEMA plus a `deleted` column."""
    rows = list(records)
    e_tags = [(r.e_tag or "").strip('"') or None for r in rows]
    columns = {
        "bucket": [bucket] * len(rows),
        "key": [r.key for r in rows],
        "version_id": [None] * len(rows),
        "is_latest": [True] * len(rows),
        "is_delete_marker": [False] * len(rows),
        "size": [r.size for r in rows],
        "last_modified_date": [r.last_modified for r in rows],
        "e_tag": e_tags,
        "storage_class": [r.storage_class for r in rows],
        "is_multipart_uploaded": [None if t is None else "-" in t for t in e_tags],
        "checksum_algorithm": [None] * len(rows),
    }
    table = pa.Table.from_pydict(columns, schema=SCHEMA)
    return table.append_column("deleted", pa.array([r.deleted for r in rows], pa.bool_()))
