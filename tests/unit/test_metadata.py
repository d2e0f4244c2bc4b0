"""lib.metadata: the uploader and file-name metadata bucketdesk pins, and reading it back (old objects too)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lib import metadata
from lib.upload.grants import Grant, sign_upload
from tests.unit.helpers import UPLOADER, declared

pytestmark = pytest.mark.unit

# Request headers Chromium adds by itself to a cross-origin XHR PUT (seen in the browser tier), and
# those a browser may add that a page cannot set. The grant signs host, content-length and the
# content-type the component sets; none of the others may be found inside the signed-header list.
BROWSER_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "cookie",
    "dnt",
    "keep-alive",
    "origin",
    "pragma",
    "priority",
    "referer",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-storage-access",
    "user-agent",
)


def test_an_upload_pins_its_uploader_and_its_file_name_as_filename_percent_encoded():
    assert metadata.for_upload("josé@example.com", "Café ü.png") == {
        "uploaded-by": "jos%C3%A9@example.com",
        "filename": "Caf%C3%A9 %C3%BC.png",
    }
    assert metadata.as_headers({"filename": "a.png"}) == {"x-amz-meta-filename": "a.png"}


def test_reading_back_decodes_both_and_ignores_the_case_of_names():
    read = metadata.read({"Uploaded-By": "jos%C3%A9@example.com", "FileName": "Caf%C3%A9.png", "team": "ops"})
    assert read == metadata.UploadMetadata(uploader="josé@example.com", filename="Café.png")


def test_an_object_stored_before_the_rename_still_has_its_file_name():
    read = metadata.read({"uploaded-by": "bob%40example.com", "original-name": "Vieux%20%C3%A9t%C3%A9.txt"})
    assert read == metadata.UploadMetadata(uploader="bob@example.com", filename="Vieux été.txt")


def test_the_current_name_wins_over_the_legacy_one():
    assert metadata.read({"original-name": "old.txt", "filename": "new.txt"}).filename == "new.txt"


def test_an_object_without_our_metadata_reads_as_none():
    assert metadata.read(None) == metadata.read({"team": "ops"}) == metadata.UploadMetadata(None, None)


def test_no_header_a_browser_sends_is_part_of_a_metadata_name():
    for name in (metadata.UPLOADED_BY, metadata.FILENAME):
        header = metadata.HEADER_PREFIX + name
        assert [sent for sent in BROWSER_HEADERS if sent in header] == [], header


def test_no_header_a_browser_sends_is_part_of_a_put_grants_signed_header_list(make_gateway):
    """LocalStack 4.9.2 treats a request header as signed when its name occurs anywhere in
    X-Amz-SignedHeaders; a browser header found there makes every PUT from a browser fail."""
    grant = sign_upload(make_gateway(upload_method="put", checksums="optional"), UPLOADER, declared())
    assert isinstance(grant, Grant)
    signed = parse_qs(urlsplit(grant.url).query)["X-Amz-SignedHeaders"][0]
    assert "x-amz-meta-filename" in signed.split(";")
    assert [sent for sent in BROWSER_HEADERS if sent in signed] == []


def test_the_legacy_name_would_have_failed_the_check():
    """The check above can fail: the name used before contains "origin"."""
    assert "origin" in metadata.HEADER_PREFIX + metadata.LEGACY_FILENAMES[0]
