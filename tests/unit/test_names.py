"""lib.names: hostile file names become harmless keys; the person's wording survives for display."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from lib.config import DEFAULT_KEY_TEMPLATE
from lib.names import (
    FALLBACK_NAME,
    MAX_FOLDER_DEPTH,
    code_span,
    content_disposition,
    decode_metadata,
    display_name,
    encode_metadata,
    escape_markdown,
    relative_path,
    render_key,
    safe_folder,
    safe_name,
    static_prefix,
    template_problems,
    user_segment,
)

pytestmark = pytest.mark.unit

HOSTILE_NAMES = {
    "traversal": "../../etc/passwd",
    "separators": "a/b\\c.png",
    "html": "<img src=x onerror=alert(1)>.png",
    "rtl_override": "\u202egnp.exe",
    "ten_thousand_chars": "x" * 10_000,
    "ten_thousand_wide_chars": "\U00020000" * 10_000,  # 4 UTF-8 bytes each
    "nul_inside": "a\x00b.png",
    "empty": "",
    "only_dots": "...",
    "dots_then_ext": "....png",
    "windows_reserved": "CON.txt",
    "nfd_unicode": "Cafe\u0301.png",
    "zero_width": "\u200b\u200d.png",
    "newlines": "a\r\nb.png",
    "dot_dot_inside": "a..b.png",
    "leading_dot": ".htaccess",
    "emoji_only": "😀😀😀",
    "bom": "\ufeff",
    "slashes_only": "///",
    "backslash_traversal": "..\\..\\windows\\system32",
}
TEMPLATES = [
    DEFAULT_KEY_TEMPLATE,
    "teams/{user}/{uuid}/{safe_name}",
    "{uuid}-{safe_name}",
    "in/{uuid}/{yyyy}{mm}{dd}_{safe_name}",
]
HOSTILE_USERS = ["alice@example.com", "../../root", "a/b\\c", "\u202eexe", "", "Ünïcode Ñame"]


def assert_contained(key: str, template: str) -> None:
    segments = key.split("/")
    assert key.startswith(static_prefix(template)), key
    assert ".." not in segments and "." not in segments, key
    assert ".." not in key, key
    assert "\\" not in key, key
    assert not [c for c in key if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"}], repr(key)
    assert key.count("/") == template.count("/"), key
    assert len(key.encode("utf-8")) <= 1024, len(key.encode("utf-8"))
    assert segments[-1] and segments[-1].strip("."), key
    assert unicodedata.is_normalized("NFC", key)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_name_never_escapes_prefix(name, template):
    assert_contained(render_key(template, original_name=name, user="alice@example.com"), template)


@pytest.mark.parametrize("user", HOSTILE_USERS)
def test_hostile_identity_never_escapes_prefix(user):
    template = "teams/{user}/{uuid}/{safe_name}"
    key = render_key(template, original_name="a.png", user=user)
    assert_contained(key, template)
    assert key.split("/")[1] and key.split("/")[1] not in {".", ".."}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_safe_name_is_one_short_plain_segment(name):
    result = safe_name(name)
    assert result
    assert re.fullmatch(r"[\w.()\-]+", result), result
    assert ".." not in result and not result.startswith(".") and not result.endswith(".")
    assert len(result) <= 100


def test_traversal_keeps_only_the_harmless_words():
    assert safe_name("../../etc/passwd") == "etc_passwd"


def test_rtl_override_cannot_disguise_the_real_extension():
    assert safe_name("\u202egnp.exe") == "gnp.exe"
    assert display_name("\u202egnp.exe") == "gnp.exe"


def test_nul_and_control_characters_are_removed():
    assert safe_name("a\x00b.png") == "ab.png"
    assert "\x00" not in display_name("a\x00b.png")


@pytest.mark.parametrize("name", ["", "...", ".", "..", "   ", "\u200b", "😀"])
def test_names_with_nothing_usable_fall_back_to_a_plain_word(name):
    assert safe_name(name) == FALLBACK_NAME


def test_only_dots_then_extension_keeps_the_extension():
    assert safe_name("....png") == "file.png"


@pytest.mark.parametrize(
    "name, expected",
    [("CON.txt", "_CON.txt"), ("con", "_con"), ("com1.log", "_com1.log"), ("NUL.tar.gz", "_NUL.tar.gz")],
)
def test_windows_reserved_names_are_defused(name, expected):
    # Windows treats "NUL.tar.gz" as NUL too: the reserved word before the *first* dot counts.
    assert safe_name(name) == expected


def test_long_name_is_capped_but_keeps_its_extension():
    result = safe_name("x" * 10_000 + ".png")
    assert len(result) == 100 and result.endswith(".png")


def test_nfd_input_becomes_nfc():
    nfd = "Cafe\u0301.png"
    assert safe_name(nfd) == "Caf\u00e9.png"
    assert display_name(nfd) == "Caf\u00e9.png"


def test_extension_is_lowercased_in_the_key():
    assert safe_name("Holiday.JPG") == "Holiday.jpg"


def test_display_name_keeps_readable_text():
    assert display_name("<img src=x onerror=alert(1)>.png") == "<img src=x onerror=alert(1)>.png"
    assert display_name("Résumé (final) 2.pdf") == "Résumé (final) 2.pdf"
    assert display_name("名前.png") == "名前.png"


def test_display_name_drops_invisible_characters_and_separators():
    assert display_name("in\u200bvis\u2066ible\u202e.png") == "invisible.png"
    assert display_name("a/b\\c.png") == "a_b_c.png"


def test_display_name_is_capped_and_never_empty():
    assert len(display_name("y" * 10_000)) == 255
    assert display_name("") == FALLBACK_NAME
    assert display_name("\u202e\u200b") == FALLBACK_NAME


@pytest.mark.parametrize("name", [*HOSTILE_NAMES.values(), 'say "hi".txt', "Résumé.pdf", "a\r\nSet-Cookie: x=1.png"])
def test_content_disposition_has_an_ascii_fallback_and_the_exact_utf8_name(name):
    header = content_disposition(name)
    assert header.isascii()
    assert "\r" not in header and "\n" not in header
    match = re.fullmatch(r'attachment; filename="([^"\\]+)"; filename\*=UTF-8\'\'(\S+)', header)
    assert match, header
    assert match.group(1).isascii() and match.group(1).strip()
    assert unquote(match.group(2)) == display_name(name)


def test_content_disposition_folds_accents_in_the_fallback():
    assert content_disposition("Résumé.pdf").startswith('attachment; filename="Resume.pdf";')


def test_content_disposition_can_be_inline():
    assert content_disposition("a.png", "inline").startswith('inline; filename="a.png"')


def test_metadata_encoding_is_ascii_and_round_trips():
    original = "Café 名前 100%.png"
    encoded = encode_metadata(original)
    assert encoded.isascii()
    assert decode_metadata(encoded) == original


MARKDOWN_ATTACKS = [
    "[x](javascript:alert(1))",
    "**b**",
    "<img src=x onerror=alert(1)>",
    "![i](http://evil/x.png)",
    "`code` _em_ # h",
]


@pytest.mark.parametrize("text", MARKDOWN_ATTACKS)
def test_escape_markdown_neutralises_markup(text):
    escaped = escape_markdown(text)
    # Every character Markdown gives meaning to is preceded by a backslash …
    assert not re.search(r"(?<!\\)[\[\]()<>*_`#!]", re.sub(r"\\.", "", escaped)), escaped
    assert "](" not in escaped and "**" not in escaped
    # … and nothing else changed: removing the escapes gives the text back.
    assert re.sub(r"\\(.)", r"\1", escaped) == text


def test_valid_template_has_no_problems():
    assert template_problems(DEFAULT_KEY_TEMPLATE) == []
    assert template_problems("teams/{user}/{uuid}/{safe_name}") == []


def test_template_problems_name_unknown_placeholders():
    problems = template_problems("u/{uuid}/{colour}/{safe_name}")
    assert len(problems) == 1 and "{colour}" in problems[0]


def test_template_without_uuid_is_a_problem():
    problems = template_problems("u/{user}/{safe_name}")
    assert any("{uuid}" in p for p in problems)


@pytest.mark.parametrize("template", ["../{uuid}/{safe_name}", "/abs/{uuid}", "a/../{uuid}"])
def test_template_that_climbs_or_is_absolute_is_a_problem(template):
    assert template_problems(template)


def test_template_that_does_not_parse_is_a_problem():
    problems = template_problems("u/{uuid")
    assert problems and "not a valid template" in problems[0]


def test_render_key_fills_every_placeholder():
    now = datetime(2026, 3, 4, tzinfo=UTC)
    key = render_key(
        "t/{user}/{yyyy}/{mm}/{dd}/{uuid}/{safe_name}",
        original_name="My File.PNG",
        user="Bob@Example.com",
        now=now,
        unique="u1",
    )
    assert re.fullmatch(r"t/bob_example\.com-[0-9a-f]{10}/2026/03/04/u1/My_File\.png", key), key


def test_user_segment_keeps_a_plain_identity_and_tells_lossy_ones_apart():
    assert user_segment("Builder") == "builder"  # nothing lost: no hash
    # Sanitising maps both to bob_1_x.com; the hash keeps two people out of one folder.
    assert user_segment("bob+1@x.com") != user_segment("bob_1@x.com")
    assert user_segment("Bob@Example.com") == user_segment("bob@example.com ")


def test_render_key_is_unique_without_a_given_uuid():
    keys = {render_key(DEFAULT_KEY_TEMPLATE, original_name="a.png", user="x") for _ in range(50)}
    assert len(keys) == 50


def test_user_segment_has_no_brackets_and_is_lowercase():
    segment = user_segment("Eve (Admin)")
    assert segment.startswith("eve_") and "admin" in segment
    assert "(" not in segment and ")" not in segment and "/" not in segment


# --- folders: {relative_path} -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("shoot/raw", "shoot/raw"),
        ("shoot\\raw\\", "shoot/raw"),
        ("../../etc", "etc"),
        ("a/./b//c", "a/b/c"),
        ("Fotos März/<script>", "Fotos_März/script"),
        ("", ""),
        ("/", ""),
    ],
)
def test_folder_paths_become_sanitised_key_segments_without_traversal(folder, expected):
    assert safe_folder(folder) == expected


def test_a_deep_folder_is_cut_to_max_depth_and_keys_stay_short():
    deep = "/".join(f"level{n}" * 20 for n in range(40))
    segments = safe_folder(deep).split("/")
    assert len(segments) == MAX_FOLDER_DEPTH and all(len(s) <= 64 for s in segments)
    key = render_key(DEFAULT_KEY_TEMPLATE, original_name="x" * 500 + ".png", user="a", folder=deep)
    assert len(key.encode()) < 1024


def test_relative_path_is_the_safe_name_for_a_single_file_and_the_path_inside_a_folder():
    assert relative_path("", "My Photo.PNG") == "My_Photo.png"
    assert relative_path("shoot/raw", "img 001.jpg") == "shoot/raw/img_001.jpg"
    assert render_key("uploads/{uuid}/{relative_path}", original_name="a.png", user="u", unique="U", folder="x/y") == (
        "uploads/U/x/y/a.png"
    )


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`lead", "trail`", "", "two\nlines"])
def test_code_span_fences_any_backticks_the_text_holds(text):
    span = code_span(text)
    fence = span[: len(span) - len(span.lstrip("`"))]
    assert fence and fence not in text and span.endswith(fence)
    assert span[len(fence) : -len(fence)].strip(" ") == text.replace("\n", " ").strip(" ") or not text.strip()
