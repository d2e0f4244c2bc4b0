"""lib.upload.session.UploadSession fed by the component's (untrusted) sign and done events."""

from __future__ import annotations

import dataclasses
import time

import pytest

import lib.upload.session
from lib.components.uploader import parse_delivered, parse_done, parse_sign
from lib.upload.grants import Grant, Refusal
from lib.upload.session import UploadSession
from tests.unit.helpers import (
    BUCKET,
    FILE_ID,
    OTHER_ID,
    UPLOADER,
    exists,
    local_desk,
    png_bytes,
    recorded,
    sha256_b64,
    store,
)

pytestmark = pytest.mark.unit

BODY = png_bytes(9, 4)


def sign_event(*files: dict) -> dict:
    return {
        "files": [
            {
                "id": FILE_ID,
                "name": "cat.png",
                "size": len(BODY),
                "type": "image/png",
                "signSeq": 0,
                "sha256": sha256_b64(BODY),
                **f,
            }
            for f in files
        ]
    }


def done_event(*results: dict) -> dict:
    return {"results": [{"id": FILE_ID, "signSeq": 1, "ok": True, "status": 201, "ms": 1500, **r} for r in results]}


@pytest.fixture
def audit(tmp_path, gateway):
    """The desk every action goes through (it records the events), for the local user."""
    return local_desk(gateway, tmp_path)


@pytest.fixture
def session() -> UploadSession:
    return UploadSession(bucket=BUCKET)


@pytest.fixture
def count_calls(monkeypatch):
    """Wrap a lib.upload.session function and count its calls."""

    def wrap(name: str) -> list:
        calls = []
        real = getattr(lib.upload.session, name)

        def counted(*args, **kwargs):
            calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(lib.upload.session, name, counted)
        return calls

    return wrap


def forbid(monkeypatch, name: str) -> None:
    def never(*args, **kwargs):
        raise AssertionError(f"{name} must not be called here")

    monkeypatch.setattr(lib.upload.session, name, never)


def sign(session, gateway, event, desk=None):
    if desk is not None:
        desk.sign_uploads(session, parse_sign(event))
    else:
        session.sign(gateway, UPLOADER, parse_sign(event))


def finish(session, gateway, event, desk=None):
    if desk is not None:
        return desk.finish_uploads(session, parse_done(event))
    return session.finish(gateway, UPLOADER, parse_done(event))


def granted(session, file_id=FILE_ID) -> Grant:
    answer = session.grants[file_id]
    assert isinstance(answer, Grant), answer
    return answer


# --- sign ------------------------------------------------------------------------------------------


def test_same_sign_event_twice_signs_once(session, gateway, count_calls):
    calls = count_calls("sign_upload")
    event = sign_event({})
    sign(session, gateway, event)
    first = granted(session)
    sign(session, gateway, event)
    assert len(calls) == 1
    assert granted(session) is first
    assert first.sign_seq == 1


def test_holding_the_current_grant_asks_for_a_fresh_one(session, gateway):
    sign(session, gateway, sign_event({}))
    first = granted(session)
    sign(session, gateway, sign_event({"signSeq": 1}))
    second = granted(session)
    assert second.sign_seq == 2
    assert second.key != first.key
    assert second.expires_at >= first.expires_at
    assert session.component_data()["grants"][FILE_ID]["signSeq"] == 2


def test_holding_an_old_grant_does_not_re_sign(session, gateway, count_calls):
    sign(session, gateway, sign_event({}))
    sign(session, gateway, sign_event({"signSeq": 1}))
    calls = count_calls("sign_upload")
    sign(session, gateway, sign_event({"signSeq": 1}))  # the re-sign event repeated
    assert calls == [] and granted(session).sign_seq == 2


def test_refusal_stands(session, gateway, count_calls, audit):
    calls = count_calls("sign_upload")
    event = sign_event({"name": "virus.exe", "type": "image/png"})
    sign(session, gateway, event, audit)
    refusal = session.grants[FILE_ID]
    assert isinstance(refusal, Refusal)
    sign(session, gateway, event, audit)
    sign(session, gateway, sign_event({"name": "virus.exe", "type": "image/png", "signSeq": 1}), audit)
    assert len(calls) == 1 and session.grants[FILE_ID] is refusal
    assert session.component_data()["grants"][FILE_ID] == {"refused": refusal.reason, "code": "type_mismatch"}
    records = recorded(audit.events)
    assert [(r["who"], r["action"], r["outcome"]) for r in records] == [(UPLOADER, "sign", "refused")]
    assert records[0]["details"]["message"] == refusal.reason


def test_each_file_in_one_event_gets_its_own_answer(session, gateway):
    sign(session, gateway, sign_event({}, {"id": OTHER_ID, "name": "b.exe"}))
    assert isinstance(session.grants[FILE_ID], Grant)
    assert isinstance(session.grants[OTHER_ID], Refusal)


def test_verified_file_is_never_re_signed(session, gateway, s3, count_calls):
    sign(session, gateway, sign_event({}))
    store(s3, granted(session), BODY)
    assert finish(session, gateway, done_event({}))[0].ok
    calls = count_calls("sign_upload")
    sign(session, gateway, sign_event({"signSeq": 1}))
    assert calls == [] and granted(session).sign_seq == 1


def test_files_on_their_way_are_those_granted_and_not_yet_judged(session, gateway, s3):
    third = "d" * 24
    sign(session, gateway, sign_event({}, {"id": OTHER_ID}, {"id": third, "name": "b.exe"}))  # b.exe: refused
    assert session.on_their_way() == 2
    store(s3, granted(session), BODY)
    finish(session, gateway, done_event({}))
    assert session.on_their_way() == 1
    finish(session, gateway, done_event({"id": OTHER_ID, "ok": False, "status": 0, "code": "NetworkError"}))
    assert session.on_their_way() == 0  # judged too: it failed
    sign(session, gateway, sign_event({"id": OTHER_ID, "signSeq": 1}))  # Retry: a fresh grant, on its way again
    assert session.on_their_way() == 1
    # A grant never reported (its file cancelled before it arrived) stops counting once it expires.
    session.grants[OTHER_ID] = dataclasses.replace(granted(session, OTHER_ID), expires_at=time.time() - 1)
    assert session.on_their_way() == 0


# --- finish ----------------------------------------------------------------------------------------


def test_good_upload_is_verified_and_audited(session, gateway, s3, audit):
    sign(session, gateway, sign_event({}))
    grant = granted(session)
    store(s3, grant, BODY)
    [outcome] = finish(session, gateway, done_event({}), audit)
    assert outcome.ok and outcome.key == grant.key and outcome.is_image
    assert outcome.size == len(BODY) and outcome.content_type == "image/png"
    assert outcome.seconds == 1.5
    [record] = recorded(audit.events)
    assert record["who"] == UPLOADER and record["action"] == "upload" and record["outcome"] == "ok"
    assert record["bucket"] == BUCKET and record["key"] == grant.key
    assert record["details"]["name"] == "cat.png" and record["details"]["size"] == len(BODY)


def test_bad_upload_fails_and_the_audit_says_where_it_went(session, gateway, s3, audit):
    sign(session, gateway, sign_event({}))
    grant = granted(session)
    store(s3, grant, BODY, uploader="mallory@example.com")
    [outcome] = finish(session, gateway, done_event({}), audit)
    assert not outcome.ok and outcome.key == "quarantine/" + grant.key
    [record] = recorded(audit.events)
    assert record["outcome"] == "failed" and record["key"] == "quarantine/" + grant.key
    assert "uploader" in record["details"]["message"]


def test_finish_verifies_only_ids_the_server_granted(session, gateway, s3, count_calls):
    calls = count_calls("verify_upload")
    sign(session, gateway, sign_event({}))
    store(s3, granted(session), BODY)
    outcomes = finish(session, gateway, done_event({"id": OTHER_ID}))
    assert outcomes == [] and calls == []
    assert OTHER_ID not in session.outcomes


def test_finish_ignores_a_refused_file(session, gateway, count_calls):
    calls = count_calls("verify_upload")
    sign(session, gateway, sign_event({"name": "a.exe"}))
    assert finish(session, gateway, done_event({})) == [] and calls == []


def test_finish_ignores_a_stale_sign_seq(session, gateway, s3, count_calls):
    sign(session, gateway, sign_event({}))
    sign(session, gateway, sign_event({"signSeq": 1}))  # now at signSeq 2
    calls = count_calls("verify_upload")
    assert finish(session, gateway, done_event({"signSeq": 1})) == []
    assert calls == [] and FILE_ID not in session.outcomes


def test_the_same_done_event_is_judged_once(session, gateway, s3, audit, count_calls):
    sign(session, gateway, sign_event({}))
    store(s3, granted(session), BODY)
    calls = count_calls("verify_upload")
    assert len(finish(session, gateway, done_event({}), audit)) == 1
    assert finish(session, gateway, done_event({}), audit) == []
    assert len(calls) == 1 and len(recorded(audit.events)) == 1


def test_browser_failure_with_nothing_stored_shows_the_browsers_message(session, gateway, s3, monkeypatch, audit):
    forbid(monkeypatch, "verify_upload")
    sign(session, gateway, sign_event({}))
    report = {
        "ok": False,
        "status": 403,
        "code": "AccessDenied",
        "message": "Policy Condition failed: content-length-range",
    }
    [outcome] = finish(session, gateway, done_event(report), audit)
    assert not outcome.ok
    assert outcome.message == "Policy Condition failed: content-length-range (AccessDenied)"
    [record] = recorded(audit.events)
    assert record["outcome"] == "failed" and record["details"]["s3_code"] == "AccessDenied"


def test_browser_failure_without_a_message_still_explains(session, gateway, s3):
    sign(session, gateway, sign_event({}))
    [outcome] = finish(session, gateway, done_event({"ok": False, "status": 0}))
    assert not outcome.ok and outcome.message == "The upload did not complete."


def test_browser_claiming_failure_is_verified_when_the_object_exists(session, gateway, s3):
    sign(session, gateway, sign_event({}))
    grant = granted(session)
    store(s3, grant, BODY)
    [outcome] = finish(session, gateway, done_event({"ok": False, "status": 0, "message": "network error"}))
    assert outcome.ok, outcome.message
    assert exists(s3, grant.key)


def test_browser_claiming_success_for_a_bad_object_is_not_believed(session, gateway, s3):
    sign(session, gateway, sign_event({}))
    grant = granted(session)
    store(s3, grant, b"<html>not a png</html>")
    [outcome] = finish(session, gateway, done_event({"ok": True}))
    assert not outcome.ok
    assert not exists(s3, grant.key)


def test_a_failed_file_can_be_re_signed_and_verified_again(session, gateway, s3):
    sign(session, gateway, sign_event({}))
    [first] = finish(session, gateway, done_event({"ok": False, "message": "expired"}))
    assert not first.ok
    sign(session, gateway, sign_event({"signSeq": 1}))
    second_grant = granted(session)
    assert second_grant.sign_seq == 2
    store(s3, second_grant, BODY)
    [second] = finish(session, gateway, done_event({"signSeq": 2}))
    assert second.ok and second.sign_seq == 2


def test_storage_error_while_checking_becomes_a_failed_outcome(session, gateway, s3, monkeypatch):
    from lib.errors import EndpointUnreachable

    sign(session, gateway, sign_event({}))

    def unreachable(key, *args):
        raise EndpointUnreachable("The S3 endpoint could not be reached while reading it.", "Check the network.")

    monkeypatch.setattr(gateway, "head", unreachable)
    monkeypatch.setattr(gateway, "peek", unreachable)  # a small file is read whole, headers and bytes at once
    [outcome] = finish(session, gateway, done_event({}))
    assert not outcome.ok
    assert "could not be reached" in outcome.message and "Check the network." in outcome.message


# --- component data --------------------------------------------------------------------------------


def test_component_data_omits_grants_of_verified_files(session, gateway, s3):
    sign(session, gateway, sign_event({}, {"id": OTHER_ID, "name": "dog.png"}))
    store(s3, granted(session), BODY)
    finish(session, gateway, done_event({}, {"id": OTHER_ID, "ok": False, "message": "cancelled"}))
    data = session.component_data()
    assert FILE_ID not in data["grants"]
    assert OTHER_ID in data["grants"]
    assert data["verified"][FILE_ID] == {"ok": True, "message": session.outcomes[FILE_ID].message, "signSeq": 1}
    assert data["verified"][OTHER_ID]["ok"] is False


def test_component_data_names_a_delivered_grant_by_its_seq_only(session, gateway):
    sign(session, gateway, sign_event({}, {"id": OTHER_ID, "name": "dog.png"}))
    assert session.component_data()["grants"][FILE_ID]["kind"] == "post"  # just signed: the browser needs it
    # The next sign event waits only for the other file (it lost its answer): this one's was delivered.
    sign(session, gateway, sign_event({"id": OTHER_ID, "name": "dog.png"}))
    grants = session.component_data()["grants"]
    assert grants[FILE_ID] == {"signSeq": 1}
    assert grants[OTHER_ID]["kind"] == "post" and grants[OTHER_ID]["signSeq"] == 1


def test_grants_go_as_their_seq_only_once_the_browser_echoes_the_data_that_carried_them(session, gateway):
    sign(session, gateway, sign_event({}, {"id": OTHER_ID, "name": "dog.png"}))
    data = session.component_data()
    assert data["grants"][FILE_ID]["kind"] == "post" and data["grants"][OTHER_ID]["kind"] == "post"
    # Both wait for a free upload slot (no later sign event): the echo alone says they arrived.
    session.delivered(parse_delivered({"through": data["grantsThrough"], "results": []}))
    assert session.component_data()["grants"] == {FILE_ID: {"signSeq": 1}, OTHER_ID: {"signSeq": 1}}


def test_an_echo_older_than_a_grant_or_from_another_session_leaves_it_whole(session, gateway):
    sign(session, gateway, sign_event({}))
    before = session.component_data()["grantsThrough"]
    sign(session, gateway, sign_event({"id": OTHER_ID, "name": "dog.png"}))  # answered after that data
    session.delivered(parse_delivered({"through": before}))
    assert session.component_data()["grants"][OTHER_ID]["kind"] == "post"
    # A restarted app numbers its sign events from 1 again: an echo of the old app's numbers is not ours.
    epoch, _, number = session.component_data()["grantsThrough"].partition(":")
    for through in (f"{'0' * len(epoch)}:{number}", f"{epoch}:x", "junk", None, 42):
        session.delivered(parse_delivered({"through": through}))
        assert session.component_data()["grants"][OTHER_ID]["kind"] == "post", through


def test_component_data_drops_a_verdict_once_the_browser_stops_reporting_it(session, gateway, s3):
    sign(session, gateway, sign_event({}, {"id": OTHER_ID, "name": "dog.png"}))
    store(s3, granted(session), BODY)
    finish(session, gateway, done_event({}))
    assert FILE_ID in session.component_data()["verified"]
    finish(session, gateway, done_event({}))  # re-sent before the verdict arrived: the verdict stays
    assert FILE_ID in session.component_data()["verified"]
    store(s3, granted(session, OTHER_ID), BODY)
    finish(session, gateway, done_event({"id": OTHER_ID}))  # the first no longer listed: it saw its verdict
    verified = session.component_data()["verified"]
    assert FILE_ID not in verified and verified[OTHER_ID]["ok"] is True


def test_component_data_before_anything_is_empty(session):
    data = session.component_data()
    assert (data["grants"], data["partUrls"], data["verified"]) == ({}, {}, {})
    assert data["grantsThrough"].endswith(":0")


# --- malformed events ------------------------------------------------------------------------------

MALFORMED = [
    None,
    "files",
    42,
    [],
    {},
    {"files": None},
    {"files": []},
    {"files": ["x", 1, None, [], True]},
    {"files": [{"id": "short"}]},
    {"files": [{"id": "NOT-HEX-0123456789"}]},
    {"files": [{"id": "ABCDEF0123456789"}]},
    {"files": [{"id": "0" * 65}]},
    {"files": [{"name": "no-id.png"}]},
    {"files": [{"id": None}]},
]


@pytest.mark.parametrize("event", MALFORMED, ids=repr)
def test_malformed_sign_events_are_dropped(event):
    assert parse_sign(event) == []


@pytest.mark.parametrize(
    "event", [{**e, "results": e["files"]} if isinstance(e, dict) and "files" in e else e for e in MALFORMED], ids=repr
)
def test_malformed_done_events_are_dropped(event):
    assert parse_done(event) == []


@pytest.mark.parametrize(
    "event",
    [{"files": {"0123456789abcdef": {}}}, {"files": 5}, {"files": True}],
    ids=["files-is-a-dict", "files-is-a-number", "files-is-true"],
)
def test_sign_event_whose_files_is_not_a_list_is_dropped(event):
    assert parse_sign(event) == []


def test_done_event_whose_results_is_not_a_list_is_dropped():
    assert parse_done({"results": 7}) == []


@pytest.mark.parametrize("bad_id", [FILE_ID + "\n", int("1234567890123456")], ids=["trailing-newline", "integer"])
def test_ids_that_are_not_exactly_hex_strings_are_dropped(bad_id):
    assert parse_sign({"files": [{"id": bad_id, "name": "a.png", "size": 1, "type": "image/png"}]}) == []
    assert parse_done({"results": [{"id": bad_id, "signSeq": 1, "ok": True}]}) == []


@pytest.mark.parametrize("size", [True, False, "100", 1.5, None, [1]])
def test_sizes_that_are_not_whole_numbers_are_refused_not_crashed_on(session, gateway, size):
    requests = parse_sign(sign_event({"size": size}))
    assert requests[0].file.size == -1
    session.sign(gateway, UPLOADER, requests)
    assert isinstance(session.grants[FILE_ID], Refusal) and session.grants[FILE_ID].code == "bad_size"


def test_untrusted_fields_are_coerced_and_capped():
    [request] = parse_sign(
        {
            "files": [
                {"id": FILE_ID, "name": {"evil": 1}, "size": 5, "type": "t" * 1000, "signSeq": True, "sha256": "nope"}
            ]
        }
    )
    assert isinstance(request.file.name, str)
    assert len(request.file.type) == 255
    assert request.held_seq == 0
    assert request.file.sha256 is None


def test_a_well_formed_sha256_is_kept():
    digest = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    [request] = parse_sign(sign_event({"sha256": digest}))
    assert request.file.sha256 == digest


def test_done_report_fields_are_typed():
    [report] = parse_done(
        done_event({"ok": "true", "status": "201", "code": "", "message": "m" * 5000, "bytes": 1.5, "signSeq": False})
    )
    assert report.ok is False  # only a real true counts as success
    assert report.status == 0 and report.bytes == 0 and report.sign_seq == 0
    assert report.code is None
    assert len(report.message) == 1000


def test_huge_lists_are_capped_quickly():
    files = [{"id": f"{i:016x}", "name": "a.png", "size": 1, "type": "image/png"} for i in range(100_000)]
    started = time.perf_counter()
    requests = parse_sign({"files": files})
    reports = parse_done({"results": [{"id": f["id"], "signSeq": 1, "ok": True} for f in files]})
    assert len(requests) == 1000 and len(reports) == 1000
    assert time.perf_counter() - started < 2


def test_ten_thousand_character_name_is_capped_before_signing(session, gateway):
    sign(session, gateway, sign_event({"name": "x" * 50_000 + ".png"}))
    grant = granted(session)
    assert len(grant.key.rsplit("/", 1)[1]) <= 100
    assert len(grant.original_name) <= 255
