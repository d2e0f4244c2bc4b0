"""Search over a snapshot: every mode treats what people type literally where it should, and only
rows under a user's allowed prefixes ever come back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.errors import BadQuery
from lib.inventory import localdb
from lib.inventory.query import (
    EXTENSION_SQL,
    ObjectQuery,
    RecentWrite,
    connect,
    connect_database,
    count,
    glob_to_regex,
    iter_matches,
    required_literal,
    search,
)
from tests.unit.inventory_helpers import parquet_of

pytestmark = pytest.mark.unit

KEYS = [
    "brand/logo.png",
    "brand/Logo-Final.PNG",
    "brand/old/logo_v1.png",
    "docs/100% done.txt",
    "docs/100 done.txt",
    "docs/file_name.txt",
    "docs/filexname.txt",
    "docs/star*.txt",
    "docs/[draft] plan.pdf",
    'docs/it\'s "quoted".md',
    "deep/a/b/c/d/e/logo-deep.svg",
    "private/hr/salaries.xlsx",
    "private/hr/logo.png",
    ".bucketdesk/thumbs/ab/abc.webp",
]


def rows_of_a_snapshot() -> list[dict]:
    rows = [{"key": key} for key in KEYS]
    rows.append({"key": "brand/logo.png", "version_id": "old", "is_latest": False, "size": 1})
    rows.append({"key": "docs/deleted.txt", "version_id": "dm", "is_delete_marker": True, "size": None})
    rows.append({"key": "cold/archive.zip", "storage_class": "GLACIER", "size": 10**9})
    return rows


@pytest.fixture(params=["parquet", "search database"])
def con(request, tmp_path):
    """Every test of this module runs over a snapshot's Parquet files and over its local search
    database (lib.inventory.localdb): the two must answer alike."""
    files = [parquet_of(tmp_path, rows_of_a_snapshot())]
    if request.param == "parquet":
        return connect(files)
    return connect_database(localdb.build(tmp_path, "snapshot-1", files))


def keys(con, query, allowed=None, **kwargs):
    return search(con, query, allowed, limit=1000, **kwargs).keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "logo",
            [
                "brand/Logo-Final.PNG",
                "brand/logo.png",
                "brand/old/logo_v1.png",
                "deep/a/b/c/d/e/logo-deep.svg",
                "private/hr/logo.png",
            ],
        ),
        ("100%", ["docs/100% done.txt"]),
        ("file_name", ["docs/file_name.txt"]),
        ("star*", ["docs/star*.txt"]),
        ("[draft]", ["docs/[draft] plan.pdf"]),
        ('it\'s "quoted"', ['docs/it\'s "quoted".md']),
        ("'); DROP TABLE objects; --", []),
    ],
)
def test_substring_search_is_literal_and_case_insensitive(con, text, expected):
    assert keys(con, ObjectQuery(text=text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("İstanbul", ["ünï/istanbul.txt", "ünï/İstanbul-ΣΑΣ.txt"]),  # DuckDB lowers both: İ -> i
        ("ISTANBUL", ["ünï/istanbul.txt", "ünï/İstanbul-ΣΑΣ.txt"]),
        ("ΣΑΣ", ["ünï/İstanbul-ΣΑΣ.txt"]),  # Python would lower it to σας (a final sigma) and miss
        ("a\\b", ["ünï/a\\b%.txt"]),  # a backslash is a character too
        ("A\\B%", ["ünï/a\\b%.txt"]),
    ],
)
def test_a_key_is_found_by_its_own_text_in_any_case(tmp_path, text, expected):
    keys_ = ["ünï/İstanbul-ΣΑΣ.txt", "ünï/istanbul.txt", "ünï/a\\b%.txt", "ünï/ab.txt"]
    con = connect([parquet_of(tmp_path, [{"key": k} for k in keys_])])
    assert keys(con, ObjectQuery(text=text)) == expected


def test_substring_can_be_case_sensitive(con):
    assert keys(con, ObjectQuery(text="Logo", case_sensitive=True)) == ["brand/Logo-Final.PNG"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.png", ["brand/Logo-Final.PNG", "brand/logo.png", "brand/old/logo_v1.png", "private/hr/logo.png"]),
        ("brand/*.png", ["brand/Logo-Final.PNG", "brand/logo.png"]),
        (
            "**/logo*",
            [
                "brand/Logo-Final.PNG",
                "brand/logo.png",
                "brand/old/logo_v1.png",
                "deep/a/b/c/d/e/logo-deep.svg",
                "private/hr/logo.png",
            ],
        ),
        ("docs/100%*", ["docs/100% done.txt"]),
        ("docs/file_name.txt", ["docs/file_name.txt"]),
        ("docs/star[*].txt", ["docs/star*.txt"]),
        ("docs/[[]draft*", ["docs/[draft] plan.pdf"]),
        ("docs/it's*", ['docs/it\'s "quoted".md']),
        ("docs/file?name.txt", ["docs/file_name.txt", "docs/filexname.txt"]),
    ],
)
def test_glob_search(con, pattern, expected):
    assert keys(con, ObjectQuery(text=pattern, mode="glob")) == expected


def test_glob_star_stays_within_one_folder():
    import re

    assert re.fullmatch(glob_to_regex("a/*.png", True), "a/x.png")
    assert not re.fullmatch(glob_to_regex("a/*.png", True), "a/b/x.png")
    assert re.fullmatch(glob_to_regex("a/**/x.png", True), "a/x.png")


def test_regex_search_and_bad_patterns_get_sentences(con):
    assert keys(con, ObjectQuery(text=r"^docs/\d+% ", mode="regex")) == ["docs/100% done.txt"]
    assert keys(con, ObjectQuery(text=r"\[draft\]", mode="regex")) == ["docs/[draft] plan.pdf"]
    with pytest.raises(BadQuery, match="regular expression") as caught:
        ObjectQuery(text="logo[", mode="regex").where_sql()
    assert caught.value.hint
    with pytest.raises(BadQuery, match="never closes"):
        ObjectQuery(text="docs/[draft", mode="glob").where_sql()
    with pytest.raises(BadQuery):
        ObjectQuery(text="x", mode="fuzzy").where_sql()


def test_only_rows_under_allowed_prefixes_come_back(con):
    everywhere = keys(con, ObjectQuery(text="logo"))
    assert "private/hr/logo.png" in everywhere
    assert keys(con, ObjectQuery(text="logo"), ["brand/", "deep/"]) == [
        k for k in everywhere if not k.startswith("private/")
    ]
    assert keys(con, ObjectQuery(), []) == []
    # A query prefix can narrow, never widen, what is allowed.
    assert keys(con, ObjectQuery(prefixes=("private/",)), ["brand/"]) == []
    assert count(con, ObjectQuery(text="logo"), ["private/"]) == 1


def test_filters_by_type_size_date_class_and_versions(con):
    assert keys(con, ObjectQuery(extensions=("pdf", ".md"))) == ["docs/[draft] plan.pdf", 'docs/it\'s "quoted".md']
    assert "deep/a/b/c/d/e/logo-deep.svg" in keys(con, ObjectQuery(type_family="image"))
    assert all(k.lower().endswith((".png", ".svg")) for k in keys(con, ObjectQuery(type_family="image")))
    assert keys(con, ObjectQuery(min_size=10**8)) == ["cold/archive.zip"]
    assert keys(con, ObjectQuery(storage_classes=("GLACIER",))) == ["cold/archive.zip"]
    latest = keys(con, ObjectQuery(text="brand/logo.png"))
    every = search(con, ObjectQuery(text="brand/logo.png", versions="all"), limit=10).rows.to_pylist()
    assert latest == ["brand/logo.png"]
    assert [(r["key"], r["is_latest"]) for r in every] == [("brand/logo.png", True), ("brand/logo.png", False)]
    assert "docs/deleted.txt" not in keys(con, ObjectQuery())
    assert "docs/deleted.txt" in keys(con, ObjectQuery(versions="all"))
    assert ".bucketdesk/thumbs/ab/abc.webp" not in keys(con, ObjectQuery())
    with pytest.raises(BadQuery, match="smallest size"):
        ObjectQuery(min_size=5, max_size=1).where_sql()
    with pytest.raises(BadQuery, match="type family"):
        ObjectQuery(type_family="spreadsheets").where_sql()


FAMILY_KEYS = [
    "a/photo.PNG",
    "a/clip.mp4",
    "a/song.flac",
    "a/report.pdf",
    "a/data.jsonl",
    "a/backup.tar.gz",
    "a/bundle.rar",
    "a/setup.exe",
    "a/README",
    "a/.png",  # a hidden file named ".png" has no extension
    "a/dir.png/readme",  # the extension is the last name's
    "a/odd.some-thing",
    "a/shot.heic",
]


def test_type_families_agree_with_mime_and_the_audit_for_every_key(tmp_path):
    from lib import mime
    from lib.audit.usage import family_of

    con = connect([parquet_of(tmp_path, [{"key": k} for k in FAMILY_KEYS])])
    found = {family: set(keys(con, ObjectQuery(type_family=family))) for family in mime.KINDS}
    for key in FAMILY_KEYS:
        families = [family for family, members in found.items() if key in members]
        assert families == [mime.kind_of_name(key)], key
        extension = con.execute(f"SELECT {EXTENSION_SQL} FROM (SELECT ? AS key)", [key]).fetchone()[0]
        assert family_of(extension) == mime.kind_of_name(key), key
    assert found["archive"] == {"a/backup.tar.gz", "a/bundle.rar"}
    assert found["other"] == {"a/setup.exe", "a/README", "a/.png", "a/dir.png/readme", "a/odd.some-thing"}


def test_modified_range(con):
    # Rows are a day apart from 2024-05-01 in KEYS order.
    start = datetime(2024, 5, 4, tzinfo=UTC)
    assert keys(con, ObjectQuery(modified_since=start, modified_until=start.replace(day=5))) == [
        "docs/100 done.txt",
        "docs/100% done.txt",
    ]


def test_pages_are_stable_and_say_when_more_follow(con):
    query = ObjectQuery(versions="all", include_app_files=True)
    every = search(con, query, limit=1000).keys
    assert every == sorted(every)
    pages, offset = [], 0
    while True:
        page = search(con, query, limit=4, offset=offset)
        pages += page.keys
        if not page.has_more:
            break
        offset += 4
    assert pages == every
    assert [b.num_rows for b in iter_matches(con, query, batch_rows=5)][0] <= 5
    assert sum(b.num_rows for b in iter_matches(con, query)) == len(every)


def test_recent_writes_appear_and_vanish_at_once(con):
    now = datetime.now(UTC)
    recent = [
        RecentWrite("brand/new-logo.png", 42, now, '"abc"'),
        RecentWrite("brand/logo.png", deleted=True),
        RecentWrite("brand/old/logo_v1.png", 7, now, "e"),
        RecentWrite("private/hr/logo-2.png", 1, now, "f"),
    ]
    page = search(con, ObjectQuery(text="logo"), ["brand/"], limit=100, recent=recent, bucket="b")
    assert page.keys == ["brand/Logo-Final.PNG", "brand/new-logo.png", "brand/old/logo_v1.png"]
    rows = {r["key"]: r for r in page.rows.to_pylist()}
    assert rows["brand/new-logo.png"]["e_tag"] == "abc" and rows["brand/old/logo_v1.png"]["size"] == 7
    assert page.overlaid == 4
    # A record for a key seen later wins: uploaded again after a delete.
    again = [RecentWrite("brand/logo.png", deleted=True), RecentWrite("brand/logo.png", 9, now, "g")]
    assert "brand/logo.png" in search(con, ObjectQuery(text="logo"), recent=iter(again)).keys


def test_a_count_then_a_search_with_recent_writes_share_one_connection(con):
    """The overlay registers a table on the connection, which DuckDB refuses while a result is unread."""
    recent = [RecentWrite("brand/new-logo.png", 42, datetime.now(UTC), "e")]
    assert count(con, ObjectQuery(text="logo"), recent=recent) == 6
    assert "brand/new-logo.png" in search(con, ObjectQuery(text="logo"), recent=recent).keys


FOLDING_KEYS = [
    "docs/ſtar.txt",  # long s: RE2's (?i)s matches it, lower() keeps it
    "docs/STAR.TXT",
    "docs/\u212aelvin-logo.png",  # Kelvin sign: (?i)k matches it, lower() makes it k
    "docs/ÄRGER-logo.JPG",
    "docs/report_17.pdf",
    "docs/report_x7.pdf",
    "docs/lo-go.png",
    "docs/loooogo.png",
    "a|b/c(d).txt",
]


@pytest.mark.parametrize(
    ("pattern", "case_sensitive", "literal"),
    [
        ("(?:.*/)?logo[^/]*\\.png", False, "logo"),
        ("report_\\d+7\\.pdf$", False, "report_"),
        ("needle-review(-v\\d)?\\.pdf$", False, "needle-review"),
        ("logos?", True, "logo"),
        ("lo+go", True, "go"),
        ("Ab[cd]efgh{2,3}", True, "efg"),
        ("Assets", False, "et"),  # "s" may be the long s: never part of a case-insensitive literal
        ("ÄRGER-logo", True, "ÄRGER-logo"),
        ("ÄRGER-logo", False, "rger-logo"),
        ("a|b", True, ""),  # either side may match
        ("(?i)abc", True, ""),  # flags change what follows
        ("\\x41bc", True, ""),  # an escape it does not spell out
        ("[]abc]def", True, "def"),
    ],
)
def test_the_literal_every_match_contains(pattern, case_sensitive, literal):
    assert required_literal(pattern, case_sensitive) == literal


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("*star*", "glob"),
        ("**/*elvin*", "glob"),
        ("*ärger*", "glob"),
        ("*lo*go*", "glob"),
        ("a[|]b/*", "glob"),
        ("star", "regex"),
        ("kelvin", "regex"),
        ("ärger-logo", "regex"),
        ("report_\\d*7\\.pdf", "regex"),
        ("lo+go", "regex"),
        ("a\\|b/c\\(d\\)", "regex"),
        ("(lo|re)[a-z]*", "regex"),
    ],
)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_globs_and_regexes_find_what_the_expression_alone_finds(tmp_path, text, mode, case_sensitive):
    """The literal checked before the expression only makes it faster: it never loses a match,
    whatever the case folding of RE2 and of lower() do with unusual letters."""
    con = connect([parquet_of(tmp_path, [{"key": k} for k in FOLDING_KEYS])])
    query = ObjectQuery(text=text, mode=mode, case_sensitive=case_sensitive)
    if mode == "glob":
        pattern, function = glob_to_regex(text, case_sensitive), "regexp_full_match"
    else:
        pattern, function = ("" if case_sensitive else "(?i)") + text, "regexp_matches"
    alone = con.execute(f"SELECT key FROM objects WHERE {function}(key, ?) ORDER BY key", [pattern]).fetchall()
    assert keys(con, query) == [key for (key,) in alone]
