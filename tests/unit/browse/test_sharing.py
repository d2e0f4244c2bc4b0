"""lib.browse.sharing: one decision for every signed GET link (inline only for lib.mime's allow-list)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lib.browse.sharing import RowLinks, link_headers, share_link, signed_link

pytestmark = pytest.mark.unit


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(
    "stored, forced",
    [
        ("image/png", "image/png"),
        ("Image/PNG; q=1", "image/png"),
        ("application/pdf", "application/pdf"),
        ("video/mp4", "video/mp4"),
    ],
)
def test_safe_types_open_inline_under_their_normalised_type(stored, forced):
    headers = link_headers(stored, "a", inline=True)
    assert headers.content_type == forced and headers.disposition.startswith("inline;")


@pytest.mark.parametrize(
    "stored",
    ["text/html", "video/mp4,text/html", "image/svg+xml", "application/atom+xml", "text/xsl", "*/*", "", None, "x"],
)
def test_everything_else_is_an_attachment_whatever_was_asked(stored):
    for inline in (True, None):
        headers = link_headers(stored, "page.html", inline=inline)
        assert headers.content_type is None and headers.disposition.startswith("attachment;")


def test_a_quarantined_object_is_never_inline(gateway):
    key = gateway.profile.quarantine_prefix + "uploads/cat.png"
    url = signed_link(gateway, key, 600, "image/png", "cat.png", inline=True)
    assert query_of(url)["response-content-disposition"].startswith("attachment;")
    assert "response-content-type" not in query_of(url)
    made = share_link(gateway, key, 600, download=False, name="cat.png", content_type="image/png")
    assert made.download and made.note


def test_row_links_force_the_type_of_safe_rows_and_download_the_rest(gateway):
    links = RowLinks(gateway)
    picture = query_of(links.get("a/cat.png", "image/png"))
    assert picture["response-content-type"] == "image/png" and "response-content-disposition" not in picture
    page = query_of(links.get("a/page", "application/octet-stream"))
    assert page["response-content-disposition"].startswith("attachment;") and "response-content-type" not in page
