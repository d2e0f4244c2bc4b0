"""lib.mime: declared types parsed strictly, stored types normalised, one allow-list for inline links."""

from __future__ import annotations

import pytest

from lib import mime
from lib.errors import BadContentType

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "declared, parsed",
    [
        ("image/png", "image/png"),
        ("IMAGE/PNG", "image/png"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("  video/mp4  ", "video/mp4"),
        ("image/jpg", "image/jpeg"),
        ("application/x-ndjson", mime.JSON_LINES),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", None),
        ("", ""),
    ],
)
def test_declared_types_are_one_lower_case_token_with_aliases_applied(declared, parsed):
    assert mime.parse_declared(declared) == (parsed if parsed is not None else declared)


@pytest.mark.parametrize(
    "declared",
    [
        "video/mp4,text/html",  # browsers take the last of a list
        "video/mp4, text/html",
        "image/png;x=1,text/html",
        "video/ mp4",
        "video /mp4",
        "image png",
        "imagepng",
        "image/",
        "/png",
        "*/*",
        "image/*",
        "text/html\r\nX-Evil: 1",
    ],
)
def test_declared_types_that_are_not_exactly_one_type_are_refused_with_a_sentence(declared):
    with pytest.raises(BadContentType) as raised:
        mime.parse_declared(declared)
    assert raised.value.message.endswith(".") and raised.value.hint


@pytest.mark.parametrize(
    "stored, inline",
    [
        ("image/png", "image/png"),
        ("IMAGE/JPEG; foo=bar", "image/jpeg"),
        ("application/pdf", "application/pdf"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("video/mp4", "video/mp4"),
        ("audio/mpeg", "audio/mpeg"),
        ("text/html", None),
        ("TEXT/HTML; charset=utf-8", None),
        ("application/xhtml+xml", None),
        ("image/svg+xml", None),
        ("application/vnd.foo+xml", None),
        ("video/x-foo+xml", None),
        ("text/xsl", None),
        ("text/xml", None),
        ("multipart/x-mixed-replace", None),
        ("application/unknown", None),
        ("application/octet-stream", None),
        ("*/*", None),
        ("html", None),
        ("", None),
        (None, None),
        ("video/mp4,text/html", None),
        ("text/javascript", None),
    ],
)
def test_only_the_allow_list_opens_inline_under_its_normalised_type(stored, inline):
    assert mime.inline_type(stored) == inline


def test_heic_and_heif_are_one_family():
    assert mime.family("image/heif") == mime.family("image/heic") == "image/heic"
    assert mime.family("image/png") == "image/png"


def test_names_decide_types_the_same_everywhere():
    assert mime.guess_type("a/b/photo.JPG") == "image/jpeg" and mime.guess_type("x.jsonl") == mime.JSON_LINES
    assert mime.guess_type("noext") is None and mime.guess_type("dir.png/readme") is None
    assert mime.extension(".bashrc") == "" and mime.extension("a.tar.gz") == ".gz"


def test_every_known_extension_has_exactly_one_family_computed_from_the_type_tables():
    kinds = mime.kind_extensions()
    assert set(kinds) == set(mime.KINDS)
    every = [ext for exts in kinds.values() for ext in exts]
    assert len(every) == len(set(every))
    assert {"png", "heic", "webp"} <= kinds["image"] and {"gz", "zip", "7z"} <= kinds["archive"]
    assert "pdf" in kinds["pdf"] and "jsonl" in kinds["text"] and "exe" in kinds["other"]
    assert all(mime.kind_of_name("x." + ext) == kind for kind, exts in kinds.items() for ext in exts)


def test_compressed_files_are_archives_whichever_name_the_browser_reports_their_type_by():
    assert mime.guess_type("backup.tar.gz") == mime.parse_declared("application/x-gzip") == "application/gzip"
    assert mime.kind_of_name("logs.zst") == mime.kind_of_name("a.rar") == "archive"
    assert mime.parse_declared("application/x-rar-compressed") == "application/vnd.rar"
