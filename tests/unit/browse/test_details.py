"""lib.browse.details and lib.browse.sharing: what HEAD, tags and versions say; previews; share links; delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

import lib.browse.thumbnails as previews
from lib.browse.details import DeleteNotAllowed, object_details, preview_kind, text_preview, versions_frame
from lib.browse.sharing import LinkExpiryError, RowLinks, describe, expiry_seconds, share_link
from lib.errors import AccessDenied
from lib.names import encode_metadata
from tests.unit.helpers import local_desk, recorded

pytestmark = pytest.mark.unit


@pytest.fixture
def notes(s3, gateway):
    key = "docs/notes.txt"
    s3.put_object(
        Bucket=gateway.bucket,
        Key=key,
        Body=b"hello",
        ContentType="text/plain",
        ServerSideEncryption="AES256",
        CacheControl="max-age=60",
        Metadata={
            "uploaded-by": encode_metadata("alice@example.com"),
            "filename": encode_metadata("Nötes 1.txt"),
            "team": "ops",
        },
        Tagging="project=apollo&stage=draft",
    )
    return key


def test_details_carry_everything_head_says(gateway, notes):
    info = object_details(gateway, notes)
    assert info.size == 5 and info.content_type == "text/plain" and len(info.etag) == 32
    assert info.uploader == "alice@example.com" and info.original_name == "Nötes 1.txt" and info.name == "Nötes 1.txt"
    assert info.encryption == "AES256" and info.storage_class == "STANDARD"
    assert info.headers["Cache-Control"] == "max-age=60" and info.headers["Encryption"] == "AES256"
    assert info.metadata == {"uploaded-by": "alice@example.com", "filename": "Nötes 1.txt", "team": "ops"}
    assert info.tags == {"project": "apollo", "stage": "draft"} and not info.tags_error
    assert info.versioning == "" and info.versions == []
    assert info.preview == "text"


def test_an_object_stored_before_the_file_name_metadata_was_renamed_shows_its_name(gateway, s3):
    s3.put_object(
        Bucket=gateway.bucket,
        Key="docs/old.txt",
        Body=b"hello",
        ContentType="text/plain",
        Metadata={"uploaded-by": "bob%40example.com", "original-name": encode_metadata("Vieux été.txt")},
    )
    info = object_details(gateway, "docs/old.txt")
    assert (info.uploader, info.original_name, info.name) == ("bob@example.com", "Vieux été.txt", "Vieux été.txt")


def test_details_of_a_missing_object_is_none(s3, gateway):
    assert object_details(gateway, "nothing/here.txt") is None


def test_refused_tags_do_not_hide_the_rest(gateway, notes, monkeypatch):
    def refuse(key):
        raise AccessDenied("Access was denied while reading the tags.", "", "AccessDenied")

    monkeypatch.setattr(gateway, "tags", refuse)
    info = object_details(gateway, notes)
    assert info.tags is None and "denied" in info.tags_error and info.size == 5


def test_versions_are_listed_when_versioning_is_on(s3, make_gateway):
    bucket = "bucketdesk-unit-versions"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key="v.txt", Body=body)
    s3.put_object(Bucket=bucket, Key="v.txt.bak", Body=b"other key, same prefix")
    gateway = make_gateway(bucket=bucket)
    try:
        info = object_details(gateway, "v.txt")
        assert info.versioning == "Enabled"
        assert [v["Size"] for v in info.versions] == [5, 3, 3]  # newest first, only this key
        frame = versions_frame(info)
        assert list(frame["latest"]) == [True, False, False] and not frame["deleted"].any()
        s3.delete_object(Bucket=bucket, Key="v.txt")  # a delete marker on top
        info = object_details(gateway, "v.txt.bak")
        assert len(info.versions) == 1
    finally:
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []) + s3.list_object_versions(
            Bucket=bucket
        ).get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "content_type, key, kind",
    [
        ("image/png", "a.png", "image"),
        ("image/svg+xml", "a.svg", "text"),  # active content: shown as source, never rendered
        ("video/mp4", "a.mp4", "video"),
        ("audio/mpeg", "a.mp3", "audio"),
        ("application/pdf", "a.pdf", "pdf"),
        ("text/csv", "a.csv", "csv"),
        ("application/octet-stream", "export.csv", "csv"),
        ("application/json; charset=utf-8", "a", "json"),
        ("text/html", "a.html", "text"),  # shown as source, never rendered
        ("application/zip", "a.zip", None),
    ],
)
def test_preview_kinds(content_type, key, kind):
    assert preview_kind(content_type, key) == kind


def test_text_preview_reads_only_the_first_64_kb_and_never_splits_a_character(s3, gateway):
    body = b"x" + ("é" * 40_000).encode("utf-8")  # 2-byte characters from offset 1: byte 65,535 starts one
    s3.put_object(Bucket=gateway.bucket, Key="big.txt", Body=body)
    reads = []
    gateway.client.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: reads.append(params.get("Range"))
    )
    preview = text_preview(gateway, "big.txt", len(body), "text")
    assert reads == ["bytes=0-65535"]
    assert preview.truncated and "\ufffd" not in preview.text
    assert preview.text == "x" + "é" * 32_767


def test_json_and_csv_previews_parse_when_whole(s3, gateway):
    s3.put_object(Bucket=gateway.bucket, Key="a.json", Body=json.dumps({"a": [1, 2]}).encode())
    s3.put_object(Bucket=gateway.bucket, Key="bad.json", Body=b"{nope")
    s3.put_object(Bucket=gateway.bucket, Key="a.csv", Body=b"name,size\nx,1\ny,2\n")
    assert text_preview(gateway, "a.json", len(json.dumps({"a": [1, 2]})), "json").parsed == {"a": [1, 2]}
    bad = text_preview(gateway, "bad.json", 5, "json")
    assert bad.parsed is None and "Not valid JSON" in bad.problem and bad.text == "{nope"
    table = text_preview(gateway, "a.csv", 18, "csv").parsed
    assert list(table.columns) == ["name", "size"] and list(table["name"]) == ["x", "y"]


def test_a_truncated_csv_drops_its_cut_last_line(s3, gateway):
    body = b"n,v\n" + b"".join(f"{i},{'z' * 50}\n".encode() for i in range(2000))
    s3.put_object(Bucket=gateway.bucket, Key="long.csv", Body=body)
    table = text_preview(gateway, "long.csv", len(body), "csv").parsed
    assert all(len(v) == 50 for v in table["v"])  # no half row at the end


# --- share links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, unit, seconds", [(5, "minutes", 300), (1, "hours", 3600), (7, "days", 604800), (1.5, "days", 129600)]
)
def test_expiry_within_five_minutes_and_seven_days(amount, unit, seconds):
    assert expiry_seconds(amount, unit) == seconds


def test_asking_for_more_than_seven_days_is_refused_with_the_reason():
    with pytest.raises(LinkExpiryError) as caught:
        expiry_seconds(8, "days")
    assert "at most 7 days" in caught.value.message and caught.value.hint
    with pytest.raises(LinkExpiryError, match="at least 5 minutes"):
        expiry_seconds(4, "minutes")
    with pytest.raises(LinkExpiryError):
        expiry_seconds(170, "hours")


def test_describe_is_human():
    assert describe(300) == "5 minutes" and describe(3600) == "1 hour" and describe(604800) == "7 days"
    assert describe(93600) == "1 day 2 hours"


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_share_link_inline_or_download_under_the_original_name(s3, gateway, notes):
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    link = share_link(gateway, notes, 7200, download=True, name="Nötes 1.txt", content_type="text/plain", now=now)
    query = query_of(link.url)
    assert query["X-Amz-Expires"] == "7200" and link.expires_at == datetime(2026, 11, 22, 14, tzinfo=UTC)
    assert (
        query["response-content-disposition"]
        == "attachment; filename=\"Notes_1.txt\"; filename*=UTF-8''N%C3%B6tes%201.txt"
    )
    inline = share_link(gateway, notes, 300, download=False, name="Nötes 1.txt", content_type="text/plain")
    assert query_of(inline.url)["response-content-disposition"].startswith("inline;") and not inline.download
    assert query_of(inline.url)["response-content-type"] == "text/plain"


def test_active_content_is_always_a_download(gateway):
    link = share_link(gateway, "x.html", 300, download=False, name="x.html", content_type="text/html")
    query = query_of(link.url)
    assert link.download and query["response-content-disposition"].startswith("attachment;")
    assert "response-content-type" not in query and "not a type bucketdesk opens" in link.note


def test_share_link_refuses_expiries_s3_would_refuse(gateway):
    with pytest.raises(LinkExpiryError):
        share_link(gateway, "k", 604801, download=False, name="k")


def test_row_links_are_reused_so_the_table_stays_stable(gateway, notes, monkeypatch):
    signed = []
    real = gateway.presign_get
    monkeypatch.setattr(gateway, "presign_get", lambda *a, **k: signed.append(a) or real(*a, **k))
    links = RowLinks(gateway)
    first = links.get(notes, "text/plain")
    assert links.get(notes, "text/plain") == first and query_of(first)["X-Amz-Expires"] == "3600" and len(signed) == 1
    monkeypatch.setattr("lib.browse.sharing.time.time", lambda: 10**10)  # far later: signed again
    links.get(notes, "text/plain")
    assert len(signed) == 2
    links.forget(notes)
    assert not [slot for slot in links._links if slot[0] == notes]


# --- delete -----------------------------------------------------------------------------------------


def test_delete_is_off_unless_the_profile_allows_it(s3, gateway, notes, tmp_path):
    desk = local_desk(gateway, tmp_path)
    with pytest.raises(DeleteNotAllowed) as caught:
        desk.delete(notes)
    assert "allow_delete" in caught.value.hint
    assert s3.head_object(Bucket=gateway.bucket, Key=notes)
    assert [(r["action"], r["outcome"]) for r in recorded(desk.events)] == [("delete", "failed")]


def test_delete_removes_the_object_and_its_thumbnail_and_is_audited(s3, make_gateway, tmp_path, monkeypatch):
    monkeypatch.setattr(previews, "_stores", {})
    monkeypatch.chdir(tmp_path)
    gateway = make_gateway(allow_delete=True)
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(out, "PNG")
    s3.put_object(Bucket=gateway.bucket, Key="pics/a.png", Body=out.getvalue(), ContentType="image/png")
    etag = s3.head_object(Bucket=gateway.bucket, Key="pics/a.png")["ETag"].strip('"')
    previews.store_for(gateway).ensure("pics/a.png", etag, len(out.getvalue()))
    thumb = previews.thumb_key("pics/a.png", etag)
    assert s3.head_object(Bucket=gateway.bucket, Key=thumb)
    desk = local_desk(gateway, tmp_path, who="alice@example.com")
    desk.delete("pics/a.png", etag=etag)
    assert s3.list_objects_v2(Bucket=gateway.bucket).get("KeyCount") == 0  # the thumbnail went too
    [record] = recorded(desk.events)
    assert record["action"] == "delete" and record["key"] == "pics/a.png" and record["who"] == "alice@example.com"
