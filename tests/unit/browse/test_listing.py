"""lib.browse.listing: one page per request, every key exactly once, awkward keys intact, errors as sentences."""

from __future__ import annotations

import math
import socket
from datetime import UTC, date, datetime

import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from lib.browse.filters import PageFilter, apply_filter
from lib.browse.listing import (
    PAGE_SIZES,
    ListingQuery,
    Pager,
    as_folder,
    breadcrumbs,
    guess_type,
    kind_of,
    list_page,
    page_frame,
    parent,
)
from lib.config import BucketProfile
from lib.errors import AccessDenied, BucketNotFound, EndpointUnreachable, Throttled
from lib.s3 import S3Gateway
from tests.unit.helpers import REGION

pytestmark = pytest.mark.unit

PAGING_BUCKET = "bucketdesk-unit-paging"
OBJECTS = 2500
FOLDERS = 30
PARTITION = "aws"  # moto keys S3 backends by partition


@pytest.fixture(scope="module")
def paging_bucket(_moto):
    """2,500 objects and 30 folders straight under big/, seeded once for the module."""
    _moto.create_bucket(Bucket=PAGING_BUCKET)
    objects = [f"big/{i:05d}.txt" for i in range(OBJECTS)]
    folders = [f"big/sub-{i:02d}/" for i in range(FOLDERS)]
    # Seeded through moto's backend: 2,560 PutObject requests through boto3 take ~13 s in-process,
    # and how keys got there is not what these tests are about (listing them is).
    backend = s3_backends[DEFAULT_ACCOUNT_ID][PARTITION]
    for key in objects:
        backend.put_object(PAGING_BUCKET, key, b"")
    for folder in folders:
        backend.put_object(PAGING_BUCKET, folder + "inside.txt", b"x")
    assert _moto.list_objects_v2(Bucket=PAGING_BUCKET, Prefix="big/00000")["KeyCount"] == 1
    yield set(objects), set(folders)
    for key in objects + [f + "inside.txt" for f in folders]:
        backend.delete_object(PAGING_BUCKET, key)
    _moto.delete_bucket(Bucket=PAGING_BUCKET)


@pytest.fixture
def paging_gateway(paging_bucket) -> S3Gateway:
    return S3Gateway(BucketProfile(name="paging", bucket=PAGING_BUCKET, region=REGION))


def count_lists(gateway: S3Gateway) -> list:
    """The parameters of every ListObjectsV2 request the gateway sends from now on."""
    calls: list = []
    gateway.client.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: calls.append(dict(params))
    )
    return calls


def walk(gateway: S3Gateway, query: ListingQuery) -> list:
    """Follow Next to the end the way the page does; every page it saw."""
    pager, pages = Pager(query), []
    while True:
        page = list_page(gateway, query, pager.token)
        pages.append(page)
        if not page.has_next:
            return pages
        pager.next(page.next_token)


@pytest.mark.parametrize("page_size", PAGE_SIZES)
def test_paging_over_2500_objects_sees_every_key_exactly_once(paging_gateway, paging_bucket, page_size):
    objects, folders = paging_bucket
    calls = count_lists(paging_gateway)
    pages = walk(paging_gateway, ListingQuery(prefix="big/", page_size=page_size))
    seen = [key for page in pages for key in page.frame["key"]]
    assert len(seen) == len(set(seen)) == OBJECTS + FOLDERS  # nothing twice, nothing lost
    assert set(seen) == objects | folders
    assert len(pages) == math.ceil((OBJECTS + FOLDERS) / page_size) == len(calls)  # one request per page
    assert all(len(page.frame) <= page_size for page in pages)
    assert all(call["MaxKeys"] == page_size and call["Delimiter"] == "/" for call in calls)


def test_each_page_shows_its_folders_first_then_objects_in_key_order(paging_gateway):
    for page in walk(paging_gateway, ListingQuery(prefix="big/", page_size=1000)):
        flags = list(page.frame["is_folder"])
        assert flags == sorted(flags, reverse=True)
        objects = list(page.frame.loc[~page.frame["is_folder"], "key"])
        assert objects == sorted(objects)


def test_previous_reads_the_stored_token_and_shows_the_same_page(paging_gateway):
    query = ListingQuery(prefix="big/", page_size=250)
    pager = Pager(query)
    first = list_page(paging_gateway, query, pager.token)
    pager.next(first.next_token)
    second = list_page(paging_gateway, query, pager.token)
    pager.next(second.next_token)
    third = list_page(paging_gateway, query, pager.token)
    assert pager.page_number == 3
    calls = count_lists(paging_gateway)
    pager.previous()
    again = list_page(paging_gateway, query, pager.token)
    assert pager.page_number == 2 and len(calls) == 1  # one request, not a walk from the start
    assert list(again.frame["key"]) == list(second.frame["key"])
    assert not set(third.frame["key"]) & set(second.frame["key"])
    pager.first()
    assert pager.token is None and not pager.has_previous


def test_start_after_jumps_deep_in_one_request(paging_gateway):
    calls = count_lists(paging_gateway)
    page = list_page(paging_gateway, ListingQuery(prefix="big/", page_size=100, start_after="02399.txt"))
    assert len(calls) == 1 and calls[0]["StartAfter"] == "big/02399.txt"
    assert list(page.frame["key"][:2]) == ["big/02400.txt", "big/02401.txt"]
    assert page.has_next  # the 30 folders sort after the digits
    assert Pager(ListingQuery(prefix="big/")).jump("02399.txt").query.start_after == "02399.txt"


def test_flat_listing_reads_every_key_below_without_folders(paging_gateway, paging_bucket):
    objects, folders = paging_bucket
    pages = walk(paging_gateway, ListingQuery(prefix="big/", page_size=1000, flat=True))
    seen = [key for page in pages for key in page.frame["key"]]
    assert len(seen) == len(set(seen)) == OBJECTS + FOLDERS
    assert set(seen) == objects | {folder + "inside.txt" for folder in folders}
    assert not any(page.frame["is_folder"].any() for page in pages)


def test_search_is_a_prefix_the_bucket_applies(paging_gateway):
    calls = count_lists(paging_gateway)
    page = list_page(paging_gateway, ListingQuery(prefix="big/", search="0249", page_size=100))
    assert calls[0]["Prefix"] == "big/0249"
    assert list(page.frame["name"]) == [f"0249{i}.txt" for i in range(10)]
    assert not page.has_next


def test_pager_starts_over_when_the_query_changes():
    pager = Pager(ListingQuery(prefix="a/"))
    pager.next("token-2")
    assert pager.for_query(ListingQuery(prefix="a/")) is pager
    fresh = pager.for_query(ListingQuery(prefix="a/", search="x"))
    assert fresh.page_number == 1 and fresh.token is None
    pager.next(None)  # the last page has no next token: nothing to push
    pager.next("token-2")  # a repeated click does not push the same page twice
    assert pager.page_number == 2


# --- awkward keys ---------------------------------------------------------------------------------

AWKWARD = [
    "odd/with space.txt",
    "odd/plus+sign.txt",
    "odd/100%.txt",
    "odd/%2F-not-a-slash.txt",
    "odd/%20encoded-looking.txt",
    "odd/ünïcödé-名前-🙂.txt",
    "odd/a+b c%d/inside file.txt",
    "odd/trailing/",
    "odd/trailing/inside.txt",
    "odd/marker-only/",
    "odd//double-slash.txt",
    "odd/ends-with-slash-and-space /x.txt",
]


@pytest.fixture
def awkward(s3, gateway):
    for key in AWKWARD:
        s3.put_object(Bucket=gateway.bucket, Key=key, Body=key.encode("utf-8"))
    return gateway


def test_awkward_keys_list_exactly_as_stored(awkward):
    page = list_page(awkward, ListingQuery(prefix="odd/"))
    folders = set(page.frame.loc[page.frame["is_folder"], "name"])
    objects = set(page.frame.loc[~page.frame["is_folder"], "name"])
    assert folders == {"a+b c%d/", "trailing/", "marker-only/", "/", "ends-with-slash-and-space /"}
    assert objects == {
        "with space.txt",
        "plus+sign.txt",
        "100%.txt",
        "%2F-not-a-slash.txt",
        "%20encoded-looking.txt",
        "ünïcödé-名前-🙂.txt",
    }
    for key in page.frame.loc[~page.frame["is_folder"], "key"]:
        assert awkward.read(key) == key.encode("utf-8")  # the listed key is the real key


@pytest.mark.parametrize(
    "folder, names",
    [
        ("odd/trailing/", ["inside.txt"]),  # the "odd/trailing/" marker is the folder itself
        ("odd/marker-only/", []),
        ("odd//", ["double-slash.txt"]),
        ("odd/a+b c%d/", ["inside file.txt"]),
        ("odd/ends-with-slash-and-space /", ["x.txt"]),
    ],
)
def test_folders_with_awkward_names_open(awkward, folder, names):
    page = list_page(awkward, ListingQuery(prefix=folder))
    assert list(page.frame["name"]) == names
    assert page.hidden == (1 if folder in AWKWARD else 0)


def test_flat_listing_sees_every_awkward_key_once_including_folder_markers(awkward):
    page = list_page(awkward, ListingQuery(prefix="", flat=True, page_size=100))
    assert sorted(page.frame["key"]) == sorted(AWKWARD)


def test_search_matches_awkward_names_by_prefix(awkward):
    page = list_page(awkward, ListingQuery(prefix="odd/", search="plus+"))
    assert list(page.frame["name"]) == ["plus+sign.txt"]
    page = list_page(awkward, ListingQuery(prefix="odd/", search="%2"))
    assert sorted(page.frame["name"]) == ["%20encoded-looking.txt", "%2F-not-a-slash.txt"]


def test_bucketdesks_own_prefix_is_hidden_unless_opened(s3, gateway):
    s3.put_object(Bucket=gateway.bucket, Key=".bucketdesk/thumbs/ab/x.webp", Body=b"t")
    s3.put_object(Bucket=gateway.bucket, Key="visible.txt", Body=b"v")
    top = list_page(gateway, ListingQuery())
    assert list(top.frame["key"]) == ["visible.txt"] and top.hidden == 1
    flat = list_page(gateway, ListingQuery(flat=True))
    assert list(flat.frame["key"]) == ["visible.txt"]
    opened = list_page(gateway, ListingQuery(prefix=".bucketdesk/thumbs/ab/"))
    assert list(opened.frame["name"]) == ["x.webp"]


def test_an_empty_bucket_is_an_empty_page(s3, gateway):
    page = list_page(gateway, ListingQuery())
    assert page.empty and not page.has_next and list(page.frame.columns)[:3] == ["key", "name", "is_folder"]


# --- errors a person can act on -------------------------------------------------------------------


def test_missing_bucket_says_so(s3):
    gateway = S3Gateway(BucketProfile(name="gone", bucket="no-such-bucket-here", region=REGION))
    with pytest.raises(BucketNotFound) as caught:
        list_page(gateway, ListingQuery())
    assert "does not exist" in caught.value.message and "bucket name" in caught.value.hint


def stubbed(code: str, status: int) -> S3Gateway:
    gateway = S3Gateway(BucketProfile(name="stub", bucket="stubbed", region=REGION))
    stubber = Stubber(gateway.client)
    for _ in range(6):  # enough for any retries
        stubber.add_client_error(
            "list_objects_v2", service_error_code=code, service_message=code, http_status_code=status
        )
    stubber.activate()
    return gateway


def test_access_denied_names_the_permission():
    with pytest.raises(AccessDenied) as caught:
        list_page(stubbed("AccessDenied", 403), ListingQuery(prefix="x/"))
    assert "denied" in caught.value.message and "/x/" in caught.value.message
    assert "s3:ListBucket" in caught.value.hint


def test_throttling_says_wait():
    with pytest.raises(Throttled) as caught:
        list_page(stubbed("SlowDown", 503), ListingQuery())
    assert "throttling" in caught.value.message and "try again" in caught.value.hint


def test_unreachable_endpoint_says_what_to_check(monkeypatch):
    # The gateway's five retries really happen; only the back-off sleeps between them are skipped.
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = BucketProfile(
        name="down", bucket="b", region=REGION, endpoint_url=f"http://127.0.0.1:{port}", addressing_style="path"
    )
    with pytest.raises(EndpointUnreachable) as caught:
        list_page(S3Gateway(profile), ListingQuery())
    assert "could not be reached" in caught.value.message and "endpoint" in caught.value.hint


# --- pure helpers ---------------------------------------------------------------------------------


def test_breadcrumbs_parent_and_folder_paths():
    assert breadcrumbs("") == [("", "")]
    assert breadcrumbs("a/b c/") == [("", ""), ("a", "a/"), ("b c", "a/b c/")]
    assert breadcrumbs("a//") == [("", ""), ("a", "a/"), ("(empty name)", "a//")]
    assert parent("a/b/") == "a/" and parent("a/") == "" and parent("") == "" and parent("a//") == "a/"
    assert as_folder("/photos/2026") == "photos/2026/" and as_folder("") == "" and as_folder("x/") == "x/"


def test_types_come_from_names():
    assert guess_type("a/photo.JPG") == "image/jpeg" and kind_of("image/jpeg") == "image"
    assert guess_type("clip.webp") == "image/webp" and guess_type("x.heic") == "image/heic"
    assert kind_of(guess_type("report.pdf")) == "pdf" and kind_of(guess_type("data.json")) == "text"
    assert kind_of(guess_type("x.zip")) == "archive" and kind_of(guess_type("noext")) == "other"
    assert guess_type("folder.png/readme") == "application/octet-stream"


def sample_frame():
    when = lambda day: datetime(2026, 3, day, 12, tzinfo=UTC)  # noqa: E731
    response = {
        "CommonPrefixes": [{"Prefix": "p/Zeta/"}, {"Prefix": "p/alpha/"}],
        "Contents": [
            {"Key": "p/", "Size": 0, "LastModified": when(1), "ETag": '"m"'},
            {"Key": "p/b.png", "Size": 2_000_000, "LastModified": when(2), "ETag": '"1"', "StorageClass": "STANDARD"},
            {"Key": "p/a.txt", "Size": 10, "LastModified": when(5), "ETag": '"2"', "StorageClass": "GLACIER"},
            {"Key": "p/c.mp4", "Size": 50_000_000, "LastModified": when(9), "ETag": '"3"'},
            {"Key": "p/Invoice-2026.pdf", "Size": 300_000, "LastModified": when(7), "ETag": '"4"'},
        ],
    }
    return page_frame(response, "p/")


def test_page_frame_folders_first_marker_hidden_and_typed():
    frame, hidden = sample_frame()
    assert hidden == 1
    assert list(frame["name"]) == ["Zeta/", "alpha/", "b.png", "a.txt", "c.mp4", "Invoice-2026.pdf"]
    assert list(frame["kind"]) == ["folder", "folder", "image", "text", "video", "pdf"]
    assert list(frame["storage_class"])[2:] == ["STANDARD", "GLACIER", "STANDARD", "STANDARD"]
    assert frame["etag"].iloc[2] == "1" and str(frame["size"].dtype) == "Int64"


def test_filters_work_on_the_page_and_keep_folders_first():
    frame, _ = sample_frame()
    names = lambda spec: list(apply_filter(frame, spec)["name"])  # noqa: E731
    assert names(PageFilter()) == ["Zeta/", "alpha/", "Invoice-2026.pdf", "a.txt", "b.png", "c.mp4"]
    assert names(PageFilter(name_contains="INVOICE")) == ["Invoice-2026.pdf"]
    assert names(PageFilter(name_contains="a")) == ["Zeta/", "alpha/", "a.txt"]
    assert names(PageFilter(kinds=("image", "video"))) == ["b.png", "c.mp4"]
    assert names(PageFilter(kinds=("folder",))) == ["Zeta/", "alpha/"]
    assert names(PageFilter(min_size=1_000_000)) == ["b.png", "c.mp4"]  # folders step aside
    assert names(PageFilter(max_size=1_000_000)) == ["Invoice-2026.pdf", "a.txt"]
    assert names(PageFilter(modified_from=date(2026, 3, 5), modified_to=date(2026, 3, 7))) == [
        "Invoice-2026.pdf",
        "a.txt",
    ]
    assert names(PageFilter(modified_to=date(2026, 3, 2))) == ["b.png"]  # the end day is inclusive
    assert names(PageFilter(sort_by="size", descending=True)) == [
        "Zeta/",
        "alpha/",
        "c.mp4",
        "b.png",
        "Invoice-2026.pdf",
        "a.txt",
    ]
    assert names(PageFilter(descending=True)) == ["alpha/", "Zeta/", "c.mp4", "b.png", "a.txt", "Invoice-2026.pdf"]
    assert names(PageFilter(sort_by="modified"))[2:] == ["b.png", "a.txt", "Invoice-2026.pdf", "c.mp4"]
    assert apply_filter(frame, PageFilter(name_contains="nothing")).empty
