"""lib.upload.grants: what a signed POST grant pins, and the refusals a person can read."""

from __future__ import annotations

import mimetypes
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from lib.config import POST_UPLOAD_LIMIT, BucketProfile, GiB
from lib.limits import MAX_FILES_PER_EVENT
from lib.names import decode_metadata, static_prefix, user_segment
from lib.units import human_bytes
from lib.upload.grants import (
    Grant,
    Refusal,
    UploadRules,
    checksum_refusal,
    is_multipart,
    sign_upload,
    sign_uploads,
)
from tests.unit.helpers import BUCKET, UPLOADER, declared, exact_conditions, list_conditions, policy_of

pytestmark = pytest.mark.unit

SHA256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="


def grant_for(gateway, file=None, uploader=UPLOADER) -> Grant:
    answer = sign_upload(gateway, uploader, file or declared())
    assert isinstance(answer, Grant), f"expected a grant, got {answer}"
    return answer


def refusal_for(gateway, file) -> Refusal:
    answer = sign_upload(gateway, UPLOADER, file)
    assert isinstance(answer, Refusal), f"expected a refusal, got {answer}"
    assert answer.reason.strip(), "a refusal must say why"
    return answer


# --- what a grant pins ---------------------------------------------------------------------------


def test_grant_pins_bucket_and_exact_key(gateway):
    grant = grant_for(gateway)
    conditions = policy_of(grant)["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": grant.key} in conditions
    assert grant.fields["key"] == grant.key
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions), "no prefix wildcards"


def test_content_length_range_is_exactly_the_declared_size(gateway):
    grant = grant_for(gateway, declared(size=12345))
    ranges = [c for c in list_conditions(policy_of(grant)) if c[0] == "content-length-range"]
    assert ranges == [["content-length-range", 12345, 12345]]


def test_grant_pins_exact_content_type(gateway):
    grant = grant_for(gateway, declared(name="scan.pdf", type="application/pdf"))
    assert exact_conditions(policy_of(grant))["Content-Type"] == "application/pdf"
    assert grant.fields["Content-Type"] == "application/pdf"
    assert grant.content_type == "application/pdf"


def test_grant_pins_uploader_identity(gateway):
    grant = grant_for(gateway, uploader="bob@example.com")
    assert exact_conditions(policy_of(grant))["x-amz-meta-uploaded-by"] == "bob@example.com"
    assert grant.uploader == "bob@example.com"


def test_non_ascii_uploader_is_percent_encoded_and_round_trips(gateway):
    grant = grant_for(gateway, uploader="josé@example.com")
    pinned = exact_conditions(policy_of(grant))["x-amz-meta-uploaded-by"]
    assert pinned.isascii()
    assert decode_metadata(pinned) == "josé@example.com"


def test_the_file_name_is_pinned_percent_encoded(gateway):
    grant = grant_for(gateway, declared(name="Café ü.png"))
    pinned = exact_conditions(policy_of(grant))["x-amz-meta-filename"]
    assert pinned == "Caf%C3%A9 %C3%BC.png"
    assert pinned.isascii(), "S3 metadata travels in HTTP headers"
    assert decode_metadata(pinned) == "Café ü.png" == grant.original_name


def test_content_disposition_is_pinned_as_attachment_with_both_names(gateway):
    grant = grant_for(gateway, declared(name="Café ü.png"))
    pinned = exact_conditions(policy_of(grant))["Content-Disposition"]
    assert pinned == grant.fields["Content-Disposition"]
    assert pinned.startswith('attachment; filename="')
    assert "filename*=UTF-8''Caf%C3%A9%20%C3%BC.png" in pinned
    assert pinned.isascii()


def test_success_action_status_is_pinned_to_201(gateway):
    grant = grant_for(gateway)
    assert exact_conditions(policy_of(grant))["success_action_status"] == "201"
    assert grant.fields["success_action_status"] == "201"


def test_policy_expires_after_the_profiles_expiry(make_gateway):
    gateway = make_gateway(policy_expiry_seconds=123)
    before = time.time()
    grant = grant_for(gateway)
    expiration = datetime.strptime(policy_of(grant)["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiration.timestamp() - (before + 123)) <= 3
    assert abs(grant.expires_at - (before + 123)) <= 3
    assert grant.for_browser()["expiresAt"] == int(grant.expires_at * 1000)


def test_every_form_field_is_pinned_by_a_condition(gateway):
    grant = grant_for(gateway, declared(sha256=SHA256))
    conditions = policy_of(grant)["conditions"]
    unsigned = {"policy", "x-amz-signature"}
    for name, value in grant.fields.items():
        if name in unsigned:
            continue
        assert {name: value} in conditions, f"form field {name!r} is not pinned by the policy"


def test_key_lies_under_the_templates_prefix_and_keeps_a_safe_name(make_gateway):
    gateway = make_gateway(upload_prefix="team-a/{user}/{uuid}/{safe_name}")
    grant = grant_for(gateway, declared(name="My Photo.PNG"))
    assert grant.key.startswith("team-a/" + user_segment("alice@example.com") + "/")
    assert grant.key.endswith("/My_Photo.png")
    assert grant.key.count("/") == 3


def test_each_grant_gets_a_fresh_unique_key(gateway):
    keys = {grant_for(gateway).key for _ in range(5)}
    assert len(keys) == 5


def test_grant_url_is_the_public_endpoint_when_one_is_set(make_gateway):
    gateway = make_gateway(public_endpoint_url="https://files.example.com:9443", addressing_style="path")
    grant = grant_for(gateway)
    assert urlsplit(grant.url).netloc == "files.example.com:9443"


def test_sha256_adds_a_pinned_checksum_field(gateway):
    grant = grant_for(gateway, declared(sha256=SHA256))
    assert grant.fields["x-amz-checksum-sha256"] == SHA256
    assert {"x-amz-checksum-sha256": SHA256} in policy_of(grant)["conditions"]
    assert grant.sha256 == SHA256


def test_without_sha256_no_checksum_is_pinned(make_gateway):
    grant = grant_for(make_gateway(checksums="optional"), declared(sha256=None))
    assert "x-amz-checksum-sha256" not in grant.fields
    assert "x-amz-checksum-sha256" not in exact_conditions(policy_of(grant))


# --- refusals --------------------------------------------------------------------------------------


def test_file_above_the_limit_is_refused_with_both_sizes(make_gateway):
    gateway = make_gateway(max_upload_bytes=1000, label="Team A")
    refusal = refusal_for(gateway, declared(name="big.png", size=1001))
    assert refusal.code == "too_large"
    assert "big.png" in refusal.reason and "Team A" in refusal.reason
    assert human_bytes(1000) in refusal.reason


def test_file_exactly_at_the_limit_is_granted(make_gateway):
    gateway = make_gateway(max_upload_bytes=1000)
    assert grant_for(gateway, declared(size=1000)).size == 1000


def test_single_post_never_exceeds_five_gib_even_when_the_profile_allows_more(make_gateway):
    gateway = make_gateway(max_upload_bytes=50 * GiB)
    refusal = refusal_for(gateway, declared(size=POST_UPLOAD_LIMIT + 1))
    assert refusal.code == "too_large"


@pytest.mark.parametrize("size", [-1, "100", 1.5, None, True])
def test_size_that_is_not_a_whole_number_is_refused(gateway, size):
    refusal = refusal_for(gateway, declared(size=size))
    assert refusal.code == "bad_size"


def test_type_not_allowed_is_refused_and_lists_what_is(make_gateway):
    gateway = make_gateway(allowed_types=("image/*", "application/pdf"))
    refusal = refusal_for(gateway, declared(name="notes.txt", type="text/plain"))
    assert refusal.code == "type_not_allowed"
    assert "text/plain" in refusal.reason
    assert "image/*" in refusal.reason and "application/pdf" in refusal.reason


def test_declared_type_disagreeing_with_extension_is_refused(gateway):
    refusal = refusal_for(gateway, declared(name="a.exe", type="image/png"))
    assert refusal.code == "type_mismatch"
    assert "image/png" in refusal.reason and ".exe" in refusal.reason


def test_empty_type_is_guessed_from_the_extension(gateway):
    grant = grant_for(gateway, declared(name="photo.png", type=""))
    assert grant.content_type == "image/png"
    assert exact_conditions(policy_of(grant))["Content-Type"] == "image/png"


def test_empty_type_and_unknown_extension_is_refused(gateway):
    refusal = refusal_for(gateway, declared(name="blob.qqqzz", type=""))
    assert "blob.qqqzz" in refusal.reason
    assert "extension" in refusal.reason


def test_unknown_declared_type_is_refused(gateway):
    refusal = refusal_for(gateway, declared(name="blob.qqqzz", type="application/x-qqqzz"))
    assert refusal.code == "type_not_allowed"


@pytest.mark.parametrize(
    "allowed, name, content_type",
    [
        (("image/*",), "logo.svg", "image/svg+xml"),
        (("*/*",), "page.html", "text/html"),
        (("text/*",), "page.html", "text/html"),
        (("*/*",), "logo.svg", "image/svg+xml"),
        (("application/*",), "page.xhtml", "application/xhtml+xml"),
    ],
)
def test_active_content_is_refused_under_wildcards(make_gateway, allowed, name, content_type):
    refusal = refusal_for(make_gateway(allowed_types=allowed), declared(name=name, type=content_type))
    assert refusal.code == "type_not_allowed"


@pytest.mark.parametrize(
    "allowed, name, content_type",
    [
        (("text/*",), "feed.xml", "text/xml"),
        (("application/*",), "sitemap", "application/xml"),
        (("application/*",), "feed.rss", "application/rss+xml"),
    ],
)
def test_xml_which_browsers_run_scripts_in_is_refused_under_wildcards(make_gateway, allowed, name, content_type):
    # An XML document can carry XHTML-namespaced <script>; browsers execute it like text/html.
    refusal = refusal_for(make_gateway(allowed_types=allowed), declared(name=name, type=content_type))
    assert refusal.code == "type_not_allowed"


@pytest.mark.parametrize(
    "allowed, name, content_type",
    [(("image/svg+xml",), "logo.svg", "image/svg+xml"), (("text/html", "image/*"), "page.html", "text/html")],
)
def test_active_content_is_allowed_when_named_exactly(make_gateway, allowed, name, content_type):
    grant = grant_for(make_gateway(allowed_types=allowed), declared(name=name, type=content_type))
    assert grant.content_type == content_type


@pytest.mark.parametrize("reported", ["application/vnd.ms-excel", "text/plain", "text/csv", ""])
def test_csv_is_signed_as_text_csv_whatever_the_os_reports(make_gateway, reported):
    gateway = make_gateway(allowed_types=("text/csv",))
    grant = grant_for(gateway, declared(name="sales.csv", type=reported))
    assert grant.content_type == "text/csv"
    assert exact_conditions(policy_of(grant))["Content-Type"] == "text/csv"


def test_ms_excel_type_is_not_an_alias_for_other_extensions(gateway):
    refusal = refusal_for(gateway, declared(name="sheet.png", type="application/vnd.ms-excel"))
    assert refusal.code == "type_mismatch"


def test_image_jpg_is_understood_as_image_jpeg(make_gateway):
    gateway = make_gateway(allowed_types=("image/jpeg",))
    grant = grant_for(gateway, declared(name="holiday.jpg", type="image/jpg"))
    assert grant.content_type == "image/jpeg"


@pytest.mark.parametrize("reported", ["image/x-icon", "image/vnd.microsoft.icon", ""])
def test_favicon_is_signed_under_one_type_whichever_the_browser_reports(gateway, reported):
    grant = grant_for(gateway, declared(name="favicon.ico", type=reported))
    assert grant.content_type == "image/vnd.microsoft.icon"


@pytest.mark.parametrize(
    "name, reported",
    [
        ("feed.xml", "text/xml"),
        ("archive.gz", "application/x-gzip"),
        ("voice.opus", "audio/opus"),
        ("tool.exe", "application/octet-stream"),
    ],
)
def test_answer_does_not_depend_on_who_initialised_mimetypes(monkeypatch, name, reported):
    # mimetypes.types_map is swapped for the OS's /etc/mime.types table the first time anything calls
    # mimetypes.init() or guess_type(); a policy reading it would change its mind mid-process.
    profile = BucketProfile(name="p", bucket="b", allowed_types=("*/*",))
    file = declared(name=name, type=reported)
    python_table = {".xml": "text/xml", ".opus": "audio/opus", ".exe": "application/octet-stream"}
    debian_table = {
        ".xml": "application/xml",
        ".gz": "application/gzip",
        ".opus": "audio/ogg",
        ".exe": "application/x-msdos-program",
    }
    monkeypatch.setattr(mimetypes, "types_map", {**mimetypes.types_map, **python_table})
    monkeypatch.delitem(mimetypes.types_map, ".gz", raising=False)
    before = UploadRules(profile).check(file)
    monkeypatch.setattr(mimetypes, "types_map", {**mimetypes.types_map, **debian_table})
    after = UploadRules(profile).check(file)
    assert before == after


def test_declared_type_parameters_and_case_are_ignored(gateway):
    grant = grant_for(gateway, declared(name="p.png", type="IMAGE/PNG; charset=binary"))
    assert grant.content_type == "image/png"


def test_refusal_reason_never_carries_invisible_characters(gateway):
    refusal = refusal_for(gateway, declared(name="\u202egnp.exe", type="image/png"))
    assert "\u202e" not in refusal.reason and "\u202e" not in refusal.name


def test_too_many_files_at_once_are_all_refused(gateway):
    files = [declared(id=f"{i:016x}", name=f"f{i}.png") for i in range(MAX_FILES_PER_EVENT + 1)]
    answers = sign_uploads(gateway, UPLOADER, files)
    assert len(answers) == len(files)
    assert all(isinstance(a, Refusal) and a.code == "too_many" for a in answers)
    assert str(MAX_FILES_PER_EVENT) in answers[0].reason


def test_a_batch_within_the_limit_answers_each_file(gateway):
    files = [
        declared(id=f"{i:016x}", name=n, type=t)
        for i, (n, t) in enumerate([("a.png", "image/png"), ("b.exe", "image/png")])
    ]
    answers = sign_uploads(gateway, UPLOADER, files, sign_seq=3)
    assert isinstance(answers[0], Grant) and answers[0].sign_seq == 3
    assert isinstance(answers[1], Refusal) and answers[1].file_id == files[1].id


def test_grant_for_browser_carries_no_server_only_detail(gateway):
    grant = grant_for(gateway)
    sent = grant.for_browser()
    assert sent["kind"] == "post" and sent["key"] == grant.key and sent["signSeq"] == 1
    assert sent["fields"] == grant.fields
    assert "uploader" not in sent and "bucket" not in sent


def test_static_prefix_matches_default_template():
    assert static_prefix("uploads/{yyyy}/{uuid}/{safe_name}") == "uploads/"


# --- checksums -----------------------------------------------------------------------------------


def test_required_checksums_refuse_a_single_upload_without_one_and_say_why(gateway):
    no_webcrypto = refusal_for(gateway, declared(sha256=None, no_checksum="insecure-context"))
    too_big = refusal_for(gateway, declared(sha256=None, no_checksum="too-large"))
    silent = refusal_for(gateway, declared(sha256=None))
    assert {no_webcrypto.code, too_big.code, silent.code} == {"no_checksum"}
    assert "not served over https://" in no_webcrypto.reason
    assert "multipart_threshold_bytes" in too_big.reason
    assert "sent no SHA-256 checksum" in silent.reason


def test_optional_checksums_sign_without_one_when_the_browser_cannot(make_gateway):
    grant = grant_for(make_gateway(checksums="optional"), declared(sha256=None, no_checksum="insecure-context"))
    assert "x-amz-checksum-sha256" not in grant.fields and grant.sha256 is None


def test_checksums_off_never_pin_one_even_when_the_browser_sends_it(make_gateway):
    grant = grant_for(make_gateway(checksums="off"), declared(sha256=SHA256))
    assert "x-amz-checksum-sha256" not in grant.fields and "x-amz-checksum-algorithm" not in grant.fields
    assert grant.sha256 is None


def test_a_multipart_upload_is_refused_up_front_only_when_the_browser_says_it_cannot_hash(gateway):
    assert checksum_refusal(gateway.profile, declared(sha256=None), multipart=True) is None
    refusal = checksum_refusal(gateway.profile, declared(sha256=None, no_checksum="insecure-context"), multipart=True)
    assert refusal is not None and "https://" in refusal.reason


def test_files_above_the_threshold_are_multipart(make_gateway):
    profile = make_gateway(multipart_threshold_bytes=8 * 1024 * 1024).profile
    assert not is_multipart(profile, 8 * 1024 * 1024) and is_multipart(profile, 8 * 1024 * 1024 + 1)


def test_the_limit_for_parts_is_the_profiles_up_to_five_tib(make_gateway):
    rules = UploadRules(make_gateway(max_upload_bytes=100 * GiB).profile)
    assert rules.check(declared(size=POST_UPLOAD_LIMIT + 1), multipart=True)[1] is None
    assert rules.check(declared(size=100 * GiB + 1), multipart=True)[1].code == "too_large"
    assert rules.check(declared(size=POST_UPLOAD_LIMIT + 1), multipart=False)[1].code == "too_large"


# --- declared types are parsed strictly --------------------------------------------------------


@pytest.mark.parametrize(
    "name, type",
    [
        ("clip", "video/mp4,text/html"),
        ("clip.mp4", "video/mp4,text/html"),
        ("clip.mp4", "video/ mp4"),
        ("clip", "videomp4"),
        ("clip.mp4", "video/"),
    ],
)
def test_a_declared_type_that_is_not_one_token_is_refused_before_signing(gateway, monkeypatch, name, type):
    def never(*args, **kwargs):
        raise AssertionError("nothing is signed for a malformed type")

    monkeypatch.setattr(gateway, "presign_post", never)
    refusal = refusal_for(gateway, declared(name=name, type=type))
    assert refusal.code == "type_mismatch"
    assert "type/subtype" in refusal.reason or "list of types" in refusal.reason


def test_a_declared_type_is_pinned_lower_case_without_parameters(gateway):
    grant = grant_for(gateway, declared(name="notes.txt", type="TEXT/Plain; charset=UTF-8"))
    assert grant.content_type == "text/plain" and grant.fields["Content-Type"] == "text/plain"
    assert exact_conditions(policy_of(grant))["Content-Type"] == "text/plain"
