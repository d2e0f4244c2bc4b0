"""lib.upload.verify: is the stored object the one the grant allowed? If not, it is set aside."""

from __future__ import annotations

import io
import struct

import pytest

import lib.upload.verify
from lib.errors import StorageError
from lib.upload.grants import Grant, sign_upload
from lib.upload.verify import decode_image, sniff_type, verify_upload
from tests.support.checksums import sha256_b64
from tests.unit.helpers import UPLOADER, declared, exists, png_bytes, png_header_only, store

pytestmark = pytest.mark.unit


def grant_for(gateway, body: bytes, name: str = "cat.png", type: str = "image/png", uploader: str = UPLOADER) -> Grant:
    grant = sign_upload(gateway, uploader, declared(name=name, size=len(body), type=type))
    assert isinstance(grant, Grant), grant
    return grant


def assert_quarantined(s3, grant: Grant, result) -> None:
    assert not result.ok
    assert result.action == "quarantined"
    assert result.final_key == "quarantine/" + grant.key
    assert not exists(s3, grant.key), "the original must be gone"
    assert exists(s3, "quarantine/" + grant.key), "the quarantined copy must be present"
    assert result.final_key in result.message


def test_correct_png_is_ok_with_its_pixel_size(s3, gateway):
    body = png_bytes(7, 5)
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size == (7, 5)
    assert result.sniffed_type == "image/png"
    assert result.action == "kept" and result.final_key == grant.key
    assert exists(s3, grant.key)
    assert "7×5 px" in result.message


def test_non_ascii_uploader_matches_after_decoding(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body, uploader="josé@example.com")
    store(s3, grant, body)
    assert verify_upload(gateway, grant).ok


def test_wrong_size_is_quarantined(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body + b"\x00" * 10)
    result = verify_upload(gateway, grant)
    assert_quarantined(s3, grant, result)
    assert any(str(len(body)) in p and "size" in p.lower() for p in result.problems)


def test_wrong_content_type_is_quarantined(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body, content_type="text/html")
    result = verify_upload(gateway, grant)
    assert_quarantined(s3, grant, result)
    assert any("text/html" in p for p in result.problems)


def test_wrong_uploader_metadata_is_quarantined(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body, uploader="mallory@example.com")
    result = verify_upload(gateway, grant)
    assert_quarantined(s3, grant, result)
    assert any("uploader" in p for p in result.problems)


def test_missing_uploader_metadata_is_quarantined(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body)
    s3.put_object(Bucket=grant.bucket, Key=grant.key, Body=body, ContentType="image/png")
    assert_quarantined(s3, grant, verify_upload(gateway, grant))


def test_delete_setting_deletes_instead_of_quarantining(s3, make_gateway):
    gateway = make_gateway(on_verify_failure="delete")
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body, uploader="mallory@example.com")
    result = verify_upload(gateway, grant)
    assert not result.ok and result.action == "deleted"
    assert not exists(s3, grant.key)
    assert not exists(s3, "quarantine/" + grant.key)
    assert "deleted" in result.message


def test_custom_quarantine_prefix_is_used(s3, make_gateway):
    gateway = make_gateway(quarantine_prefix="held/")
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body, content_type="image/gif")
    result = verify_upload(gateway, grant)
    assert result.final_key == "held/" + grant.key
    assert exists(s3, "held/" + grant.key) and not exists(s3, grant.key)


def test_html_bytes_declared_as_png_are_caught_by_sniffing(s3, gateway):
    body = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.sniffed_type == "text/html"
    assert any("text/html" in p for p in result.problems)
    assert_quarantined(s3, grant, result)


def test_svg_script_declared_as_plain_text_is_caught(s3, gateway):
    body = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    grant = grant_for(gateway, body, name="notes.txt", type="text/plain")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert not result.ok and result.sniffed_type == "image/svg+xml"


def test_png_bytes_declared_as_jpeg_are_caught(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body, name="photo.jpg", type="image/jpeg")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert not result.ok
    assert any("image/png" in p for p in result.problems)


def test_text_that_is_not_a_pdf_is_caught(s3, gateway):
    body = b"just some words, not a PDF"
    grant = grant_for(gateway, body, name="report.pdf", type="application/pdf")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert not result.ok and any("application/pdf" in p for p in result.problems)


def test_binary_declared_as_text_is_caught(s3, gateway):
    body = b"col1,col2\n\x00\x01\x02"
    grant = grant_for(gateway, body, name="data.csv", type="text/csv")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert not result.ok and any("binary" in p for p in result.problems)


def test_plain_text_is_ok_without_decoding(s3, gateway):
    body = b"region,amount\nnorth,1\n"
    grant = grant_for(gateway, body, name="data.csv", type="text/csv")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok and result.image_size is None


def test_favicon_is_verified_not_quarantined(s3, gateway):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(out, "ICO")
    body = out.getvalue()
    grant = grant_for(gateway, body, name="favicon.ico", type="image/vnd.microsoft.icon")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size == (32, 32)


def test_truncated_png_does_not_decode(s3, gateway):
    whole = png_bytes(64, 64, noise=True)
    body = whole[: len(whole) * 6 // 10]
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.sniffed_type == "image/png"
    assert any("does not decode" in p for p in result.problems), result.problems
    assert_quarantined(s3, grant, result)


def test_png_larger_than_sniff_window_is_read_whole_and_decoded(s3, gateway):
    body = png_bytes(120, 90, noise=True)
    assert len(body) > lib.upload.verify.SNIFF_BYTES
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size == (120, 90)


def test_decompression_bomb_header_is_refused_without_decoding(s3, gateway, monkeypatch):
    body = png_header_only(100_000, 100_000)

    def never(*args, **kwargs):
        raise AssertionError("a bomb must be refused before any pixel is decoded")

    monkeypatch.setattr("PIL.Image.Image.load", never)
    monkeypatch.setattr("PIL.PngImagePlugin.PngImageFile.load", never, raising=False)
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert any("too large to decode safely" in p for p in result.problems), result.problems
    assert_quarantined(s3, grant, result)


def test_image_over_the_pixel_limit_passes_undecoded_with_a_note(s3, gateway, monkeypatch):
    monkeypatch.setattr(lib.upload.verify, "MAX_IMAGE_PIXELS", 100)
    body = png_bytes(20, 20)
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size == (20, 20) and "Not decoded" in result.message and exists(s3, grant.key)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) claims width×height: a huge photo's shape, cheaply."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_100_megapixel_jpeg_is_a_good_upload_said_not_decoded(s3, gateway, monkeypatch):
    body = jpeg_claiming(10_000, 10_000)

    def never(*args, **kwargs):
        raise AssertionError("a 100-megapixel image is not decoded")

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", never)
    grant = grant_for(gateway, body, name="huge.jpg", type="image/jpeg")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size == (10_000, 10_000) and exists(s3, grant.key)
    assert "Not decoded: 10000×10000 px" in result.message


def test_eps_bytes_named_png_are_refused_without_running_any_eps_code(s3, gateway, monkeypatch):
    from PIL import EpsImagePlugin

    def never(*args, **kwargs):
        raise AssertionError("the EPS decoder (Ghostscript) must never be reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", never)
    body = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    grant = grant_for(gateway, body, name="pic.png", type="image/png")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert not result.ok and "does not look like image/png" in result.message
    with pytest.raises(ValueError, match="does not decode"):
        decode_image(body, "image/png")


def test_heif_bytes_declared_as_heif_are_one_family_with_heic(s3, gateway):
    body = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    grant = grant_for(gateway, body, name="photo.heif", type="image/heif")
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems


def test_a_quarantined_copy_keeps_type_disposition_and_metadata_above_the_copy_threshold(s3, gateway):
    body = png_bytes() + b"\x00" * (9 * 1024 * 1024)  # above boto3's 8 MiB multipart copy threshold
    grant = grant_for(gateway, png_bytes())
    s3.put_object(
        Bucket=grant.bucket,
        Key=grant.key,
        Body=body,
        ContentType="image/png",
        ContentDisposition='attachment; filename="cat.png"',
        Metadata={"uploaded-by": "alice%40example.com", "filename": "cat.png"},
    )
    result = verify_upload(gateway, grant)  # the size differs from the grant's
    assert result.action == "quarantined"
    head = s3.head_object(Bucket=grant.bucket, Key=result.final_key)
    assert head["ContentType"] == "image/png" and head["ContentDisposition"] == 'attachment; filename="cat.png"'
    assert head["Metadata"] == {"uploaded-by": "alice%40example.com", "filename": "cat.png"}
    assert head["ContentLength"] == len(body)


def test_reads_are_pinned_to_the_etag_just_checked(s3, gateway):
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    etag = s3.head_object(Bucket=grant.bucket, Key=grant.key)["ETag"]
    assert gateway.read(grant.key, 0, 3, etag=etag) == body[:4]
    with pytest.raises(StorageError) as raised:
        gateway.read(grant.key, 0, 3, etag='"0123456789abcdef0123456789abcdef"')
    assert raised.value.code in {"PreconditionFailed", "412"}


def test_pillow_global_pixel_limit_is_restored_after_decoding(monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 12345)
    decode_image(png_bytes())
    with pytest.raises(ValueError):
        decode_image(png_header_only(100_000, 100_000))
    assert Image.MAX_IMAGE_PIXELS == 12345


def test_missing_object_is_reported_missing(s3, gateway):
    grant = grant_for(gateway, png_bytes())
    result = verify_upload(gateway, grant)
    assert not result.ok and result.action == "missing"
    assert "did not arrive" in result.message
    assert not exists(s3, "quarantine/" + grant.key)


def test_image_over_verify_max_image_bytes_is_ok_with_a_note_and_not_decoded(s3, make_gateway, monkeypatch):
    gateway = make_gateway(verify_max_image_bytes=64)
    body = png_bytes(30, 30, noise=True)
    assert len(body) > 64

    def never(data):
        raise AssertionError("must not decode an image over verify_max_image_bytes")

    monkeypatch.setattr(lib.upload.verify, "decode_image", never)
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert result.image_size is None
    assert any("verify_max_image_bytes" in note for note in result.notes)
    assert exists(s3, grant.key)


def test_failure_to_set_aside_keeps_the_object_and_says_so(s3, gateway, monkeypatch):
    body = png_bytes()
    grant = grant_for(gateway, body)
    store(s3, grant, body, uploader="mallory@example.com")

    def refuse(key, new_key):
        raise StorageError("Access was denied while moving it.", "Grant s3:DeleteObject.", "AccessDenied")

    monkeypatch.setattr(gateway, "move", refuse)
    result = verify_upload(gateway, grant)
    assert not result.ok and result.action == "kept" and result.final_key == grant.key
    assert any("by hand" in p and grant.key in p for p in result.problems)


def test_empty_object_declared_as_an_image_is_not_verified(s3, gateway):
    grant = grant_for(gateway, b"")
    store(s3, grant, b"")
    result = verify_upload(gateway, grant)
    assert not result.ok
    assert any("does not look like image/png" in p for p in result.problems), result.problems


def test_empty_text_file_is_ok(s3, gateway):
    grant = grant_for(gateway, b"", name="empty.txt", type="text/plain")
    store(s3, grant, b"")
    assert verify_upload(gateway, grant).ok


def test_checksum_stored_by_s3_is_carried(s3, gateway):

    body = png_bytes()
    grant = grant_for(gateway, body)
    digest = sha256_b64(body)
    s3.put_object(
        Bucket=grant.bucket,
        Key=grant.key,
        Body=body,
        ContentType="image/png",
        Metadata={"uploaded-by": UPLOADER},
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=digest,
    )
    # S3 (and moto) return a stored checksum from HeadObject only when asked with ChecksumMode=ENABLED.
    result = verify_upload(gateway, grant)
    assert result.ok
    assert result.checksum_sha256 == digest


SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 8, "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM" + b"\x00" * 10, "image/bmp"),
    (b"\x00\x00\x01\x00\x01\x00", "image/vnd.microsoft.icon"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
    (b"\x00\x00\x00\x1cftypavif", "image/avif"),
    (b"\x00\x00\x00\x18ftypheic", "image/heic"),
    (b"\x00\x00\x00\x20ftypM4A ", "audio/mp4"),
    (b"\x00\x00\x00\x14ftypqt  ", "video/quicktime"),
    (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (b"ID3\x03", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"\x1aE\xdf\xa3", "video/x-matroska"),
    (b"\x7fELF\x02", "application/x-executable"),
    (b"MZ\x90\x00", "application/x-msdownload"),
    (b"  \n<!DOCTYPE html><html>", "text/html"),
    (b"<HTML><body>", "text/html"),
    (b"<script>alert(1)</script>", "text/html"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    (b"<?xml version='1.0'?>\n<svg/>", "image/svg+xml"),
    (b"<?xml version='1.0'?>\n<feed/>", None),
    (b"hello, world", None),
    (b"", None),
    (b"RIFF\x00\x00\x00\x00XXXX", None),
]


@pytest.mark.parametrize("head, expected", SIGNATURES, ids=[repr(h[:12]) for h, _ in SIGNATURES])
def test_sniff_type_recognises_common_formats(head, expected):
    assert sniff_type(head) == expected


def requests_made(gateway) -> list[str]:
    """The S3 operations `gateway` sends from now on, in order."""
    made: list[str] = []
    gateway.client.meta.events.register("before-call.s3", lambda model, **_: made.append(model.name))
    return made


def test_a_small_upload_is_verified_with_one_request(s3, gateway):
    body = b"hello, plain text\n" * 1000  # 18 KB: past the sniff window, under the whole-read size
    grant = grant_for(gateway, body, name="notes.txt", type="text/plain")
    store(s3, grant, body)
    made = requests_made(gateway)
    result = verify_upload(gateway, grant)
    assert result.ok, result.problems
    assert made == ["GetObject"], "headers and bytes of a small object come from one GET"


def test_an_image_is_decoded_from_the_one_read_that_checked_its_headers(s3, gateway):
    body = png_bytes(120, 90, noise=True)
    assert len(body) > lib.upload.verify.SNIFF_BYTES
    grant = grant_for(gateway, body)
    store(s3, grant, body)
    made = requests_made(gateway)
    result = verify_upload(gateway, grant)
    assert result.ok and result.image_size == (120, 90), result.problems
    assert made == ["GetObject"]


def test_a_large_upload_is_checked_by_head_before_any_byte_is_read(s3, gateway, monkeypatch):
    monkeypatch.setattr(lib.upload.verify, "WHOLE_READ_BYTES", 1000)
    body = b"plain text " * 200
    grant = grant_for(gateway, body, name="notes.txt", type="text/plain")
    store(s3, grant, body, content_type="text/csv")  # the wrong type: nothing needs reading
    made = requests_made(gateway)
    result = verify_upload(gateway, grant)
    assert not result.ok and "text/csv" in result.message
    assert made[0] == "HeadObject" and "GetObject" not in made


def test_a_stored_object_larger_than_signed_is_read_no_further_than_signed(s3, gateway):
    signed = b"plain text\n" * 100
    grant = grant_for(gateway, signed, name="notes.txt", type="text/plain")
    store(s3, grant, signed * 50)  # a store that enforces nothing kept 50 times what was signed
    head, held = gateway.peek(grant.key, grant.size)
    assert head["ContentLength"] == len(signed) * 50 and held == signed
    result = verify_upload(gateway, grant)
    assert_quarantined(s3, grant, result)
    assert f"but {len(signed)} were signed" in result.message


def test_peek_at_a_missing_object_is_none(gateway):
    assert gateway.peek("no/such/key.txt", 100) is None
