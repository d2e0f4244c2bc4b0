"""lib.browse.thumbnails: thumbnail size and orientation, bomb and size limits, bad input, where thumbnails live."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

import lib.browse.thumbnails as previews
from lib.browse.thumbnails import (
    MAX_EDGE,
    THUMB_PREFIX,
    PreviewError,
    ThumbnailStore,
    make_thumbnail,
    placeholder_url,
    thumb_key,
    thumbnail_after_upload,
)
from lib.errors import AccessDenied, StorageError
from tests.unit.helpers import png_bytes, png_header_only

pytestmark = pytest.mark.unit


def image_bytes(size, fmt="PNG", colour=(200, 40, 90), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def halves(size=(400, 200), orientation: int | None = None) -> bytes:
    """A JPEG whose left half is red and right half blue, optionally with an EXIF Orientation tag."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def opened(thumb) -> Image.Image:
    image = Image.open(io.BytesIO(thumb.data))
    image.load()
    return image


def is_red(pixel) -> bool:
    return pixel[0] > 180 and pixel[2] < 80


def is_blue(pixel) -> bool:
    return pixel[2] > 180 and pixel[0] < 80


# --- making one ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, expected",
    [
        ((1000, 500), (256, 128)),
        ((500, 1000), (128, 256)),
        ((3000, 3000), (256, 256)),
        ((100, 40), (100, 40)),
        ((1, 1), (1, 1)),
    ],
)
def test_thumbnail_fits_in_256_px_keeps_its_shape_and_never_grows(size, expected):
    thumb = make_thumbnail(image_bytes(size))
    assert (thumb.width, thumb.height) == expected == opened(thumb).size
    assert max(thumb.width, thumb.height) <= MAX_EDGE


def test_thumbnail_is_webp_or_jpeg():
    thumb = make_thumbnail(image_bytes((300, 300)))
    assert thumb.content_type == "image/webp" and opened(thumb).format == "WEBP"
    jpeg = make_thumbnail(image_bytes((300, 300)), fmt="JPEG")
    assert jpeg.content_type == "image/jpeg" and opened(jpeg).format == "JPEG"


@pytest.mark.parametrize(
    "orientation, size, first, last",
    [
        (None, (256, 128), "red", "blue"),  # left red, right blue, as stored
        (1, (256, 128), "red", "blue"),
        (3, (256, 128), "blue", "red"),  # upside down: the halves swap
        (6, (128, 256), "red", "blue"),  # shot rotated: red ends up on top
        (8, (128, 256), "blue", "red"),
    ],
)
def test_exif_orientation_is_respected(orientation, size, first, last):
    thumb = opened(make_thumbnail(halves(orientation=orientation)))
    assert thumb.size == size
    portrait = size[1] > size[0]
    start = thumb.getpixel((size[0] // 2, 10) if portrait else (10, size[1] // 2))
    end = thumb.getpixel((size[0] // 2, size[1] - 10) if portrait else (size[0] - 10, size[1] // 2))
    assert {"red": is_red, "blue": is_blue}[first](start), start
    assert {"red": is_red, "blue": is_blue}[last](end), end


def test_transparency_survives_in_webp_and_becomes_white_in_jpeg():
    data = image_bytes((64, 64), colour=(0, 0, 0, 0), mode="RGBA")
    assert opened(make_thumbnail(data)).getpixel((5, 5))[3] == 0
    assert opened(make_thumbnail(data, fmt="JPEG")).getpixel((5, 5))[:3] >= (250, 250, 250)


@pytest.mark.parametrize(
    "data",
    [
        image_bytes((40, 30), "GIF", colour=3, mode="P"),
        image_bytes((40, 30), "BMP"),
        image_bytes((40, 30), "TIFF"),
        image_bytes((40, 30), "PNG", colour=65535, mode="I;16"),
        image_bytes((40, 30), "PNG", colour=(10, 200), mode="LA"),
        image_bytes((40, 30), "JPEG", colour=(10, 20, 30, 40), mode="CMYK"),
    ],
    ids=["gif-palette", "bmp", "tiff", "png-16-bit", "png-grey-alpha", "jpeg-cmyk"],
)
def test_common_formats_and_modes_make_thumbnails(data):
    assert opened(make_thumbnail(data)).size == (40, 30)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_header_only(30_000, 30_000)  # 900 Mpx claimed in a few bytes
    started = time.perf_counter()
    with pytest.raises(PreviewError, match="too large to preview"):
        make_thumbnail(bomb)
    assert time.perf_counter() - started < 1
    with pytest.raises(PreviewError, match="too large"):
        make_thumbnail(image_bytes((200, 200)), max_pixels=10_000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        png_bytes(40, 30)[:60],
        image_bytes((80, 80), "JPEG")[:200],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    ],
    ids=["empty", "text", "truncated-png", "truncated-jpeg", "png-magic-then-garbage"],
)
def test_undecodable_input_is_a_preview_error_not_a_crash(data):
    with pytest.raises(PreviewError) as caught:
        make_thumbnail(data)
    assert caught.value.message and caught.value.hint


def test_placeholder_is_a_small_png_data_url():
    url = placeholder_url()
    assert url.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (128, 128)


def test_thumbnail_key_is_hidden_and_changes_with_the_object():
    key = thumb_key("photos/a b+c%/é.png", '"etag1"')
    assert key.startswith(THUMB_PREFIX) and key.endswith(".webp") and len(key) < 120
    assert key == thumb_key("photos/a b+c%/é.png", "etag1")  # quotes or not, same ETag
    assert key != thumb_key("photos/a b+c%/é.png", "etag2") != thumb_key("photos/other.png", "etag1")
    assert thumb_key("x" * 1024, "e").startswith(THUMB_PREFIX)  # any key length fits


# --- the store --------------------------------------------------------------------------------------


def put(s3, gateway, key, data, content_type="image/png"):
    s3.put_object(Bucket=gateway.bucket, Key=key, Body=data, ContentType=content_type)
    head = s3.head_object(Bucket=gateway.bucket, Key=key)
    return key, head["ETag"].strip('"'), head["ContentLength"]


@pytest.fixture
def store(gateway, tmp_path):
    made = ThumbnailStore(gateway, cache_dir=tmp_path / "thumbs")
    yield made
    made._pool.shutdown(wait=True)


def count_gets(gateway) -> list:
    """Keys of the GetObject requests the gateway sends from now on (presigning sends none)."""
    calls: list = []

    def record(params, context, **_):
        if not context.get("is_presign_request"):
            calls.append(params["Key"])

    gateway.client.meta.events.register("provide-client-params.s3.GetObject", record)
    return calls


def test_thumbnail_is_made_once_stored_in_the_bucket_and_signed(s3, gateway, store):
    row = put(s3, gateway, "photos/big.png", image_bytes((900, 600)))
    gets = count_gets(gateway)
    urls, waiting = store.urls([row])
    assert waiting == 0
    name = thumb_key(row[0], row[1])
    assert name in urls[row[0]] and "X-Amz-Signature" in urls[row[0]]
    again, _ = store.urls([row])
    assert again == urls and gets == ["photos/big.png"]  # made once; the same URL, so browsers cache it
    stored = s3.get_object(Bucket=gateway.bucket, Key=name)
    assert stored["ContentType"] == "image/webp" and "immutable" in stored["CacheControl"]
    assert Image.open(stored["Body"]).size == (256, 171)


def test_a_thumbnail_already_in_the_bucket_is_found_not_remade(s3, gateway, tmp_path, store):
    row = put(s3, gateway, "photos/a.png", image_bytes((300, 300)))
    store.urls([row])
    fresh = ThumbnailStore(gateway, cache_dir=tmp_path / "other")  # another process, say
    gets = count_gets(gateway)
    urls, _ = fresh.urls([row])
    assert thumb_key(*row[:2]) in urls[row[0]] and gets == []


def test_falls_back_to_disk_when_the_bucket_refuses_the_write(s3, gateway, store, monkeypatch):
    row = put(s3, gateway, "photos/b.png", image_bytes((512, 512)))

    def refuse(*args, **kwargs):
        raise AccessDenied("Access was denied while writing.", "", "AccessDenied")

    monkeypatch.setattr(gateway, "put", refuse)
    urls, _ = store.urls([row])
    assert urls[row[0]].startswith("data:image/webp;base64,")
    assert store.bucket_writable is False
    files = list(store.cache_dir.glob("*.webp"))
    assert len(files) == 1 and Image.open(files[0]).size == (256, 256)
    assert "Contents" not in s3.list_objects_v2(Bucket=gateway.bucket, Prefix=THUMB_PREFIX)


def test_disk_mode_never_writes_to_the_bucket(s3, gateway, tmp_path):
    row = put(s3, gateway, "photos/c.png", image_bytes((100, 100)))
    disk = ThumbnailStore(gateway, mode="disk", cache_dir=tmp_path / "d")
    assert disk.url(*row).startswith("data:image/webp")
    assert "Contents" not in s3.list_objects_v2(Bucket=gateway.bucket, Prefix=THUMB_PREFIX)


def test_bucket_mode_reports_a_refused_write_instead_of_hiding_it(s3, gateway, tmp_path, monkeypatch):
    row = put(s3, gateway, "photos/d.png", image_bytes((100, 100)))
    monkeypatch.setattr(
        gateway, "put", lambda *a, **k: (_ for _ in ()).throw(AccessDenied("denied", "", "AccessDenied"))
    )
    strict = ThumbnailStore(gateway, mode="bucket", cache_dir=tmp_path / "b")
    with pytest.raises(AccessDenied):
        strict.ensure(*row)
    assert strict.url(*row) == placeholder_url()  # the page still shows a tile, never an error


def test_undecodable_image_gets_the_placeholder_and_is_not_fetched_again(s3, gateway, store):
    row = put(s3, gateway, "photos/broken.png", b"\x89PNG\r\n\x1a\n garbage")
    gets = count_gets(gateway)
    assert store.url(*row) == placeholder_url()
    assert store.url(*row) == placeholder_url()
    assert gets == ["photos/broken.png"]
    assert list(store.cache_dir.glob("*.failed"))  # remembered across restarts too


def test_image_over_the_size_limit_is_not_downloaded(s3, gateway, tmp_path):
    row = put(s3, gateway, "photos/huge.png", image_bytes((64, 64)))
    small = ThumbnailStore(gateway, cache_dir=tmp_path / "s", max_source_bytes=10)
    gets = count_gets(gateway)
    assert small.url(*row) == placeholder_url() and gets == []


def test_a_page_of_thumbnails_is_made_in_parallel_within_the_budget(s3, gateway, store):
    rows = [put(s3, gateway, f"many/{i:02d}.png", image_bytes((300, 200), colour=(i, 2 * i, 3 * i))) for i in range(24)]
    urls, waiting = store.urls(rows, budget_seconds=30)
    assert waiting == 0 and len(urls) == 24 and len(set(urls.values())) == 24
    assert len(s3.list_objects_v2(Bucket=gateway.bucket, Prefix=THUMB_PREFIX)["Contents"]) == 24


def test_a_short_budget_answers_with_what_is_ready_and_keeps_working(s3, gateway, store, monkeypatch):
    row = put(s3, gateway, "slow/a.png", image_bytes((300, 200)))
    real = previews.make_thumbnail

    def slow(data, **kwargs):
        time.sleep(0.5)
        return real(data, **kwargs)

    monkeypatch.setattr(previews, "make_thumbnail", slow)
    urls, waiting = store.urls([row], budget_seconds=0)
    assert urls == {} and waiting == 1
    deadline = time.time() + 10
    while store.urls([row], budget_seconds=0)[1] and time.time() < deadline:
        time.sleep(0.05)
    urls, waiting = store.urls([row], budget_seconds=0)
    assert waiting == 0 and thumb_key(*row[:2]) in urls[row[0]]


def test_forget_removes_the_thumbnail(s3, gateway, store):
    row = put(s3, gateway, "gone/a.png", image_bytes((50, 50)))
    store.url(*row)
    store.forget(row[0], row[1])
    assert "Contents" not in s3.list_objects_v2(Bucket=gateway.bucket, Prefix=THUMB_PREFIX)


# --- right after an upload ---------------------------------------------------------------------


@pytest.fixture
def fresh_stores(monkeypatch, tmp_path):
    """store_for() builds new stores (disk cache under tmp) instead of reusing the process's."""
    monkeypatch.setattr(previews, "_stores", {})
    monkeypatch.chdir(tmp_path)


def test_thumbnail_after_upload_makes_it_now(s3, gateway, fresh_stores):
    key, etag, _ = put(s3, gateway, "uploads/x/cat.png", image_bytes((800, 800)))
    assert thumbnail_after_upload(gateway, key, "image/png") is True
    assert s3.head_object(Bucket=gateway.bucket, Key=thumb_key(key, etag))["ContentType"] == "image/webp"


def test_thumbnail_after_upload_never_raises(s3, gateway, fresh_stores, monkeypatch):
    key, _, _ = put(s3, gateway, "uploads/x/broken.png", b"not a png")
    assert thumbnail_after_upload(gateway, key, "image/png") is False
    assert thumbnail_after_upload(gateway, key, "application/pdf") is False  # not an image: nothing to do

    def down(*args, **kwargs):
        raise StorageError("The S3 endpoint could not be reached.")

    monkeypatch.setattr(gateway, "head", down)
    assert thumbnail_after_upload(gateway, "uploads/x/other.png", "image/png") is False


def test_a_verified_upload_gets_its_thumbnail(s3, gateway, fresh_stores):
    from lib.components.uploader import parse_done, parse_sign
    from lib.upload.session import UploadSession
    from tests.unit.helpers import FILE_ID, SHA256_B64, UPLOADER
    from tests.unit.helpers import store as store_as_browser

    body = image_bytes((640, 480))
    session = UploadSession(bucket=gateway.bucket)
    session.sign(
        gateway,
        UPLOADER,
        parse_sign(
            {
                "files": [
                    {
                        "id": FILE_ID,
                        "name": "cat.png",
                        "size": len(body),
                        "type": "image/png",
                        "signSeq": 0,
                        "sha256": SHA256_B64,
                    }
                ]
            }
        ),
    )
    grant = session.grants[FILE_ID]
    store_as_browser(s3, grant, body)
    [outcome] = session.finish(
        gateway, parse_done({"results": [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 201}]})
    )
    assert outcome.ok
    etag = s3.head_object(Bucket=gateway.bucket, Key=grant.key)["ETag"]
    thumb = s3.get_object(Bucket=gateway.bucket, Key=thumb_key(grant.key, etag))
    assert Image.open(thumb["Body"]).size == (256, 192)


def test_eps_bytes_named_png_get_no_thumbnail_and_no_eps_code_runs(monkeypatch):
    from PIL import EpsImagePlugin

    def never(*args, **kwargs):
        raise AssertionError("the EPS decoder (Ghostscript) must never be reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", never)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(PreviewError, match="does not decode"):
        make_thumbnail(eps)


def test_thumbnail_links_force_the_thumbnails_own_type(gateway):
    from urllib.parse import parse_qs, urlsplit

    store = previews.ThumbnailStore(gateway, mode="bucket")
    url = store._signed(".bucketdesk/thumbs/ab/abc.webp")
    assert parse_qs(urlsplit(url).query)["response-content-type"] == [previews.output_format()[1]]
