"""lib.desk: every action is checked (role and prefix) before S3 is touched, and recorded either way;
whole-bucket search answers only inside a person's prefixes, with the app's own writes laid over it."""

from __future__ import annotations

import pytest

from lib.access import Action, parse_rules
from lib.browse.listing import ListingQuery
from lib.components.uploader import parse_done, parse_parts, parse_sign
from lib.config import MiB, Settings
from lib.desk import Desk
from lib.errors import BadQuery, PermissionDenied
from lib.events import Delete, EventStore, Upload
from lib.export.request import ExportRequest
from lib.identity import Identity
from lib.inventory import jobs
from lib.inventory.query import ObjectQuery
from lib.names import user_segment
from lib.upload.grants import Grant, Refusal
from lib.upload.multipart import MultipartGrant
from lib.upload.resume import OpenUploadStore
from lib.upload.session import UploadSession
from tests.unit.helpers import BUCKET, FILE_ID, png_bytes, recorded, sha256_b64
from tests.unit.helpers import store as store_as_browser

pytestmark = pytest.mark.unit

BODY = png_bytes(9, 4)
RULES = [
    {"who": ["group:ops"], "roles": ["admin"]},
    {"who": ["group:design"], "roles": ["viewer", "uploader"], "prefixes": ["design/", "uploads/{user}/"]},
    {"who": ["*@example.com"], "roles": ["viewer"], "prefixes": ["public/"]},
    {"who": ["up@example.com"], "roles": ["uploader"], "prefixes": ["drop/"]},
    {"who": ["ana@example.com"], "roles": ["analyst"], "prefixes": ["design/"]},
]
ADMIN = Identity("root@example.com", "Root", "login", frozenset({"ops"}))
DESIGNER = Identity("dee@example.com", "Dee", "login", frozenset({"design"}))
VIEWER = Identity("vic@example.com", "Vic", "login")  # public/ only
UPLOADER_ONLY = Identity("up@example.com", "Up", "login")  # viewer of public/, uploader to drop/
STRANGER = Identity("eve@evil.io", "Eve", "login")
ANALYST = Identity("ana@example.com", "Ana", "login")  # exports design/ only


@pytest.fixture
def seeded(s3):
    for key in ["design/a.txt", "design/sub/b.txt", "design-old/c.txt", "public/p.txt", "secret/s.txt"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"hello", ContentType="text/plain")
    return s3


@pytest.fixture
def desk_for(make_gateway, tmp_path):
    store = EventStore(tmp_path / "events.db")
    built: dict[str, object] = {}

    def build(identity: Identity, **profile) -> Desk:
        gateway = make_gateway(allow_delete=True, **profile)
        rules, problems = parse_rules(RULES, "bucketdesk.access", [gateway.profile.name])
        assert problems == []
        settings = Settings(profiles={gateway.profile.name: gateway.profile}, default_profile="unit", access=rules)
        built["store"] = store
        return Desk.open(settings, gateway.profile, gateway, identity, store)

    return build


@pytest.fixture
def no_s3(monkeypatch):
    """Make any S3 call fail the test: a refusal must come before the bucket is touched."""
    import lib.s3

    def forbidden(*args, **kwargs):
        raise AssertionError("S3 was touched before the refusal")

    for name in ["head", "read", "delete", "list_page", "presign_get", "presign_post", "create_multipart", "tags"]:
        monkeypatch.setattr(lib.s3.S3Gateway, name, forbidden)
    monkeypatch.setattr(lib.s3.S3Gateway, "abort_multipart", forbidden)


def refusals(desk: Desk) -> list[tuple[str, str | None]]:
    return [(r["action"], r["key"]) for r in recorded(desk.events, outcome="refused")]


# --- each read action: refused outside the prefix / without the role, recorded either way ------------------

READS = {
    "list": lambda desk, key: desk.list_folder(ListingQuery(prefix=key)),
    "details": lambda desk, key: desk.details(key),
    "preview": lambda desk, key: desk.preview_text(key, 5, "text"),
    "preview-link": lambda desk, key: desk.preview_link(key, "text/plain"),
    "links": lambda desk, key: desk.row_links([(key, "text/plain")], folder=""),
    "thumbnails": lambda desk, key: desk.thumbnails([(key, "etag", 5)], folder=""),
    "share": lambda desk, key: desk.share_link(key, 3600, download=True, name="x"),
    "delete": lambda desk, key: desk.delete(key),
}
RECORDED_AS = {
    "list": "list",
    "details": "details",
    "preview": "preview",
    "preview-link": "preview",
    "links": "links",
    "thumbnails": "preview",
    "share": "share",
    "delete": "delete",
}


@pytest.mark.parametrize("action", READS)
@pytest.mark.parametrize("key", ["secret/s.txt", "design-old/c.txt", "design/../secret/s.txt", "design%2F..%2Fsecret/"])
def test_a_scoped_person_is_refused_outside_their_prefixes_before_s3(desk_for, no_s3, action, key):
    desk = desk_for(DESIGNER)
    if action == "list" and not key.endswith("/"):
        key = key.rsplit("/", 1)[0] + "/"
    with pytest.raises(PermissionDenied) as caught:
        READS[action](desk, key)
    assert "may not" in caught.value.message and caught.value.hint == "Ask an admin of this bucketdesk for access."
    assert refusals(desk) == [(RECORDED_AS[action], key)]


@pytest.mark.parametrize("action", ["delete"])
def test_an_action_outside_the_persons_roles_is_refused_inside_their_prefix(desk_for, no_s3, action):
    desk = desk_for(DESIGNER)  # viewer and uploader on design/, not admin
    with pytest.raises(PermissionDenied):
        READS[action](desk, "design/a.txt")
    assert refusals(desk) == [("delete", "design/a.txt")]


@pytest.mark.parametrize("action", [a for a in READS if a != "delete"])
def test_an_uploader_without_the_viewer_role_cannot_read_their_drop_folder(desk_for, no_s3, action):
    desk = desk_for(UPLOADER_ONLY)
    key = "drop/" if action == "list" else "drop/x.txt"
    with pytest.raises(PermissionDenied):
        READS[action](desk, key)
    assert refusals(desk) == [(RECORDED_AS[action], key)]


def test_allowed_reads_act_and_are_recorded(desk_for, seeded):
    desk = desk_for(DESIGNER)
    page = desk.list_folder(ListingQuery(prefix="design/"))
    assert list(page.frame["key"]) == ["design/sub/", "design/a.txt"]
    assert desk.details("design/a.txt").size == 5
    assert desk.preview_text("design/a.txt", 5, "text").text == "hello"
    assert "design/a.txt" in desk.row_links([("design/a.txt", "text/plain")], folder="design/")["design/a.txt"]
    assert desk.share_link("design/a.txt", 3600, download=True, name="a.txt").url
    got = [(r["action"], r["key"], r["outcome"]) for r in recorded(desk.events)]
    assert got == [
        ("list", "design/", "ok"),
        ("details", "design/a.txt", "ok"),
        ("preview", "design/a.txt", "ok"),
        ("links", "design/", "ok"),
        ("share", "design/a.txt", "ok"),
    ]


def test_a_rerun_repeating_a_read_is_recorded_once(desk_for, seeded):
    desk = desk_for(DESIGNER)
    for _ in range(3):
        desk.list_folder(ListingQuery(prefix="design/"))
    assert len(recorded(desk.events, action="list")) == 1


def test_an_admin_deletes_and_it_is_recorded(desk_for, seeded):
    desk = desk_for(ADMIN)
    desk.delete("secret/s.txt")
    assert seeded.list_objects_v2(Bucket=BUCKET, Prefix="secret/").get("KeyCount") == 0
    assert [(r["action"], r["outcome"]) for r in recorded(desk.events)] == [("delete", "ok")]


# --- listing the top and crafted listings ---------------------------------------------------------------


def test_the_top_for_a_scoped_person_is_their_prefixes_never_s3s_listing(desk_for, seeded, monkeypatch):
    desk = desk_for(DESIGNER)
    import lib.s3

    monkeypatch.setattr(lib.s3.S3Gateway, "list_page", lambda *a, **k: pytest.fail("listed the bucket's top"))
    page = desk.list_folder(ListingQuery(prefix=""))
    mine = f"uploads/{user_segment(DESIGNER.id)}/"
    assert list(page.frame["key"]) == ["design/", "public/", mine]
    assert list(desk.list_folder(ListingQuery(prefix="uploads/")).frame["key"]) == [mine]
    assert list(desk.list_folder(ListingQuery(prefix="", search="pub")).frame["key"]) == ["public/"]
    assert desk.top_folders() == ("design/", "public/", mine)


@pytest.mark.parametrize(
    "query",
    [
        ListingQuery(prefix="secret/"),
        ListingQuery(prefix="design/", search="../secret/"),
        ListingQuery(prefix="design/", search="%2E%2E/secret"),
        ListingQuery(prefix="design/", start_after="../../secret/z"),
        ListingQuery(prefix="design-old/"),
        ListingQuery(prefix="uploads/someone-else/"),
    ],
)
def test_crafted_listings_outside_the_scope_are_refused(desk_for, seeded, query):
    desk = desk_for(DESIGNER)
    with pytest.raises(PermissionDenied):
        desk.list_folder(query)
    assert [r["outcome"] for r in recorded(desk.events)] == ["refused"]


def test_a_stranger_is_refused_everywhere(desk_for, no_s3):
    desk = desk_for(STRANGER)
    assert not desk.access.admitted and desk.access.pages() == []
    with pytest.raises(PermissionDenied) as caught:
        desk.list_folder(ListingQuery(prefix=""))
    assert "You may not browse anything" in caught.value.message


# --- uploads --------------------------------------------------------------------------------------------


def sign_event(**fields) -> list:
    file = {"id": FILE_ID, "name": "cat.png", "size": len(BODY), "type": "image/png", "signSeq": 0}
    return parse_sign({"files": [{**file, "sha256": sha256_b64(BODY), **fields}]})


def test_a_viewers_sign_event_gets_a_refusal_per_file_not_a_grant(desk_for, no_s3):
    desk = desk_for(VIEWER)
    session = UploadSession(bucket=BUCKET)
    desk.sign_uploads(session, sign_event())
    refusal = session.grants[FILE_ID]
    assert isinstance(refusal, Refusal) and refusal.code == "permission" and "may not upload" in refusal.reason
    assert session.component_data()["grants"][FILE_ID]["refused"] == refusal.reason
    assert [(r["action"], r["outcome"], r["details"]["name"]) for r in recorded(desk.events)] == [
        ("sign", "refused", "cat.png")
    ]


def test_an_upload_goes_into_the_first_writable_folder_under_the_template(desk_for, s3):
    desk = desk_for(DESIGNER)
    session = UploadSession(bucket=BUCKET)
    assert desk.upload_folders() == ("design/", f"uploads/{user_segment(DESIGNER.id)}/")
    desk.sign_uploads(session, sign_event())
    grant = session.grants[FILE_ID]
    assert isinstance(grant, Grant) and grant.key.startswith("design/uploads/")
    store_as_browser(s3, grant, BODY)
    [outcome] = desk.finish_uploads(session, parse_done({"results": [{"id": FILE_ID, "signSeq": 1, "ok": True}]}))
    assert outcome.ok, outcome.message
    assert [(r["action"], r["outcome"]) for r in recorded(desk.events)] == [("sign", "ok"), ("upload", "ok")]
    assert [e.key for e in desk.recent_uploads()] == [grant.key]


def test_a_dropped_folder_keeps_its_paths_below_the_chosen_folder(desk_for, s3):
    desk = desk_for(DESIGNER, upload_prefix="drops/{uuid}/{relative_path}")
    session = UploadSession(bucket=BUCKET)
    own = f"uploads/{user_segment(DESIGNER.id)}/"
    batch = {"batch": "b" * 24, "type": "image/png", "size": len(BODY), "signSeq": 0, "sha256": sha256_b64(BODY)}
    files = [
        {"id": "1" * 16, "name": "a.png", "folder": "shoot/raw", **batch},
        {"id": "2" * 16, "name": "b.png", "folder": "shoot/../../..", **batch},
    ]
    desk.sign_uploads(session, parse_sign({"files": files}), folder=own)
    keys = [session.grants[file_id].key for file_id in ("1" * 16, "2" * 16)]
    assert keys[0].startswith(own + "drops/") and keys[0].endswith("/shoot/raw/a.png")
    assert all(desk.access.allows(Action.UPLOAD, key) for key in keys)  # no folder name walks out
    assert [r["outcome"] for r in recorded(desk.events)] == ["ok", "ok"]


def test_the_chosen_folder_must_be_writable(desk_for, no_s3):
    desk = desk_for(DESIGNER)
    session = UploadSession(bucket=BUCKET)
    desk.sign_uploads(session, sign_event(), folder="public/")  # may view public/, not upload there
    assert isinstance(session.grants[FILE_ID], Refusal)
    assert [(r["action"], r["outcome"]) for r in recorded(desk.events)] == [("sign", "refused")]


def test_a_template_that_renders_outside_the_folder_is_refused(desk_for, no_s3):
    desk = desk_for(DESIGNER, upload_prefix="../{uuid}/{safe_name}")
    session = UploadSession(bucket=BUCKET)
    desk.sign_uploads(session, sign_event())
    assert isinstance(session.grants[FILE_ID], Refusal)


def test_parts_and_finish_are_refused_for_an_upload_outside_the_scope(desk_for, make_gateway, s3, tmp_path):
    large = make_gateway(multipart_threshold_bytes=5 * MiB, allow_delete=True)
    session = UploadSession(bucket=BUCKET, open_uploads=OpenUploadStore(tmp_path / "mp"))
    admin = desk_for(ADMIN, multipart_threshold_bytes=5 * MiB)
    admin.sign_uploads(session, sign_event(size=12 * MiB, sha256=None), folder="secret/")
    grant = session.grants[FILE_ID]
    assert isinstance(grant, MultipartGrant) and grant.key.startswith("secret/")
    # The same session handed to a designer's desk (the rules changed, or a session was reused).
    designer = desk_for(DESIGNER, multipart_threshold_bytes=5 * MiB)
    wanted = parse_parts({"requests": [{"id": FILE_ID, "signSeq": 1, "parts": [{"n": 1, "sha256": None}]}]})
    with pytest.raises(PermissionDenied):
        designer.sign_parts(session, wanted)
    assert designer.finish_uploads(session, parse_done({"results": [{"id": FILE_ID, "signSeq": 1, "ok": True}]})) == []
    assert [(r["who"], r["action"], r["outcome"]) for r in recorded(designer.events, who=DESIGNER.id)] == [
        (DESIGNER.id, "sign-parts", "refused"),
        (DESIGNER.id, "upload", "refused"),
    ]
    s3.abort_multipart_upload(Bucket=large.bucket, Key=grant.key, UploadId=grant.upload_id)


def test_abort_unfinished_needs_the_admin_role(desk_for, no_s3, tmp_path):
    desk = desk_for(DESIGNER)
    with pytest.raises(PermissionDenied):
        desk.abort_unfinished("design/big.bin", "upload-1", OpenUploadStore(tmp_path / "mp"))
    assert refusals(desk) == [("abort-unfinished", "design/big.bin")]


def test_the_local_user_without_sign_in_has_local_roles(make_gateway, tmp_path, no_s3):
    gateway = make_gateway()
    settings = Settings(profiles={"unit": gateway.profile}, default_profile="unit", local_roles=("viewer",))
    desk = Desk.open(
        settings, gateway.profile, gateway, Identity("local:me", "me", "local"), EventStore(tmp_path / "e")
    )
    assert desk.access.pages() == ["home", "browse"]
    session = UploadSession(bucket=BUCKET)
    desk.sign_uploads(session, sign_event())
    assert isinstance(session.grants[FILE_ID], Refusal)


def test_export_is_refused_without_the_analyst_role_and_recorded(desk_for, no_s3):
    desk = desk_for(VIEWER)
    with pytest.raises(PermissionDenied, match="may not export"):
        desk.export(ExportRequest(ObjectQuery()))
    assert [(r["action"], r["outcome"]) for r in recorded(desk.events)] == [("export", "refused")]


def test_a_scoped_analyst_exports_only_their_prefixes(desk_for, seeded):
    desk = desk_for(ANALYST)
    assert desk.export_scope() == ["design/"] and desk_for(ADMIN).export_scope() is None
    table = desk.export_preview(ExportRequest(ObjectQuery(), columns=("key",)))
    assert sorted(table.column("key").to_pylist()) == ["design/a.txt", "design/sub/b.txt"]
    done = desk.export(ExportRequest(ObjectQuery(), columns=("key",)))
    assert done.summary.rows == 2
    [event] = [r for r in recorded(desk.events) if r["action"] == "export"]
    assert event["outcome"] == "ok" and event["details"]["rows"] == 2


# --- whole-bucket search (the inventory index) -------------------------------------------------


def build(desk) -> None:
    job = desk.build_index()
    job.join(60)
    assert job.status().state == jobs.DONE, job.status().message


def keys(result) -> list[str]:
    return list(result.frame["key"])


def test_no_index_yet_is_none_until_an_admin_builds_one(desk_for, seeded):
    admin = desk_for(ADMIN)
    assert admin.index_info() is None
    assert admin.search_everywhere(ObjectQuery(text="a"), 100) is None
    build(admin)
    info = admin.index_info()
    assert info is not None and info.objects == 5
    [event] = [r for r in recorded(admin.events) if r["action"] == "index"]
    assert event["outcome"] == "ok" and event["details"]["objects"] == 5


@pytest.mark.parametrize("who", [VIEWER, DESIGNER, UPLOADER_ONLY, ANALYST, STRANGER])
def test_building_the_whole_index_is_refused_without_index_on_the_whole_bucket_and_recorded(desk_for, seeded, who):
    desk = desk_for(who)
    with pytest.raises(PermissionDenied, match="may not index"):
        desk.build_index()
    assert [(r["action"], r["key"], r["outcome"]) for r in recorded(desk.events)] == [("index", "", "refused")]
    assert desk_for(ADMIN).index_info() is None  # nothing was built


def test_a_scoped_persons_search_never_returns_keys_outside_their_prefixes(desk_for, seeded):
    build(desk_for(ADMIN))
    designer = desk_for(DESIGNER)  # design/, uploads/dee…/ and public/; not design-old/ nor secret/
    assert keys(designer.search_everywhere(ObjectQuery(text="txt"), 100)) == [
        "design/a.txt",
        "design/sub/b.txt",
        "public/p.txt",
    ]
    assert keys(designer.search_everywhere(ObjectQuery(text="s.txt", mode="glob"), 100)) == []
    assert keys(desk_for(VIEWER).search_everywhere(ObjectQuery(text=""), 100)) == ["public/p.txt"]
    assert len(keys(desk_for(ADMIN).search_everywhere(ObjectQuery(text="txt"), 100))) == 5


def test_a_scoped_person_is_told_the_index_age_but_not_the_whole_buckets_size(desk_for, seeded):
    build(desk_for(ADMIN))
    whole, scoped = desk_for(ADMIN).index_info(), desk_for(DESIGNER).index_info()
    assert whole is not None and scoped is not None
    assert (whole.objects, scoped.objects, scoped.finished) == (5, None, whole.finished)
    assert scoped.describe().startswith("Index of your folders, less than a minute old")


def test_a_deeply_nested_key_is_found_by_part_of_its_name_and_paged(desk_for, s3):
    for i in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"design/{i}.txt", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="design/2025/spring/campaign/final/Logo-Blue.png", Body=b"x")
    admin = desk_for(ADMIN)
    build(admin)
    assert keys(admin.search_everywhere(ObjectQuery(text="logo-b"), 100)) == [
        "design/2025/spring/campaign/final/Logo-Blue.png"
    ]
    first = admin.search_everywhere(ObjectQuery(text=".txt"), 2)
    second = admin.search_everywhere(ObjectQuery(text=".txt"), 2, offset=2)
    last = admin.search_everywhere(ObjectQuery(text=".txt"), 2, offset=4)
    assert keys(first) == ["design/0.txt", "design/1.txt"] and first.has_more
    assert keys(second) == ["design/2.txt", "design/3.txt"] and second.page_number == 2
    assert keys(last) == ["design/4.txt"] and not last.has_more


def test_the_apps_own_uploads_and_deletes_since_the_snapshot_show_at_once(desk_for, seeded):
    build(desk_for(ADMIN))
    designer = desk_for(DESIGNER)
    designer.events.record(Upload(who="dee@example.com", bucket=BUCKET, key="design/new/logo.png", size=42))
    designer.events.record(Delete(who="dee@example.com", bucket=BUCKET, key="design/a.txt"))
    designer.events.record(Upload(who="root@example.com", bucket=BUCKET, key="secret/logo.png", size=1))
    result = designer.search_everywhere(ObjectQuery(text=""), 100)
    assert keys(result) == ["design/new/logo.png", "design/sub/b.txt", "public/p.txt"]  # never secret/logo.png
    assert result.overlaid == 3


def test_searches_are_recorded_and_refusals_too(desk_for, seeded):
    build(desk_for(ADMIN))
    designer = desk_for(DESIGNER)
    designer.search_everywhere(ObjectQuery(text="b.txt"), 100)
    [event] = [r for r in recorded(designer.events) if r["action"] == "search"]
    assert event["outcome"] == "ok" and event["details"] == {"query": "b.txt", "rows": 1}
    stranger = desk_for(STRANGER)
    with pytest.raises(PermissionDenied):
        stranger.search_everywhere(ObjectQuery(text="s.txt"), 100)
    assert [(r["action"], r["outcome"]) for r in recorded(stranger.events) if r["who"] == "eve@evil.io"] == [
        ("search", "refused")
    ]


def test_a_bad_pattern_is_a_sentence_and_recorded_as_failed(desk_for, seeded):
    build(desk_for(ADMIN))
    designer = desk_for(DESIGNER)
    with pytest.raises(BadQuery) as raised:
        designer.search_everywhere(ObjectQuery(text="logo[", mode="regex"), 100)
    assert raised.value.message
    assert [(r["action"], r["outcome"]) for r in recorded(designer.events) if r["action"] == "search"] == [
        ("search", "failed")
    ]
