"""What each role sees and reaches, through AppTest with `at.user` signed in by an [auth] section.

The navigation a run registers is read from AppTest (st.navigation lists only a person's pages);
`switch_page` to a page not listed fails as it would for a URL. Each page also checks again when it
runs, because Streamlit's legacy pages/ mode can run a page without streamlit_app.py.
"""

from __future__ import annotations

import json
import uuid

import pytest

from lib.names import user_segment
from lib.s3 import make_client
from lib.sandbox import start_sandbox
from tests.app.conftest import AUTH, recorded
from tests.support.components import component_data, find_component
from tests.support.markdown import as_read

pytestmark = pytest.mark.app
S = "browse:sandbox:"
UPLOADER = "bucketdesk.uploader"


@pytest.fixture(scope="module")
def scoped():
    """Folders of their own in the sandbox bucket: two a designer may browse, one they may not."""
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    root = f"access-{uuid.uuid4().hex[:8]}/"
    for key in ("design/a.txt", "public/p.txt", "secret/s.txt"):
        client.put_object(Bucket=box.profile.bucket, Key=root + key, Body=b"x", ContentType="text/plain")
    return root


def signed_in(app_test, monkeypatch, rules: list[dict], email: str, page: str = "pages/home.py", groups=()):
    monkeypatch.setenv("BUCKETDESK_ACCESS", json.dumps(rules))
    at = app_test(page)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": email, "name": email.split("@")[0], "groups": list(groups)}
    return at


def navigation(at) -> list[str]:
    """The page titles the run's st.navigation registered (what the sidebar lists)."""
    return [page["page_name"] for page in at._registered_pages.values()]


ROLE_PAGES = {
    "viewer": ["Home", "Browse"],
    "uploader": ["Home", "Upload"],
    "analyst": ["Home", "Export"],
    "admin": ["Home", "Upload", "Browse", "Audit", "Export"],
}


@pytest.mark.parametrize("role", ROLE_PAGES)
def test_each_role_sees_only_its_pages(app_test, monkeypatch, role):
    at = signed_in(app_test, monkeypatch, [{"who": ["pat@example.com"], "roles": [role]}], "pat@example.com")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert navigation(at) == ROLE_PAGES[role]
    for name, path in [("Upload", "pages/upload.py"), ("Export", "pages/export.py")]:
        if name not in ROLE_PAGES[role]:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(path)


def test_roles_from_a_groups_claim_and_an_e_mail_rule_add_up(app_test, monkeypatch):
    rules = [
        {"who": ["group:design"], "roles": ["viewer"]},
        {"who": ["*@example.com"], "roles": ["uploader"]},
    ]
    at = signed_in(app_test, monkeypatch, rules, "dee@example.com", groups=["design", "other"])
    at.run()
    assert navigation(at) == ["Home", "Upload", "Browse"]


def test_a_user_no_rule_admits_is_told_so_and_whom_to_ask(app_test, monkeypatch):
    rules = [
        {"who": ["group:storage-admins"], "roles": ["admin"]},
        {"who": ["*@example.com"], "roles": ["viewer"]},
    ]
    at = signed_in(app_test, monkeypatch, rules, "eve@elsewhere.org")
    at.run()
    assert not at.exception
    assert navigation(at) == ["No access"]
    sentence = " ".join(as_read(w.value) for w in at.warning)
    assert "no access rule lets you use" in sentence and "eve@elsewhere.org" in sentence
    assert "Ask an admin of this bucketdesk (group:storage-admins)" in sentence
    assert any(b.label == "Sign out" for b in at.sidebar.button)


def test_a_page_reached_without_the_navigation_still_refuses(app_test, monkeypatch):
    """Legacy pages/ mode (a real server's first request; AppTest's later runs) runs a deep-linked page
    without streamlit_app.py: the page's own check stops a viewer on Upload."""
    rules = [{"who": ["*@example.com"], "roles": ["viewer"]}]
    at = signed_in(app_test, monkeypatch, rules, "vic@example.com")
    at.run()
    at._registered_pages = {}  # forget the navigation, so the page is found by its file as legacy mode does
    at.switch_page("pages/upload.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "You may not upload in Sandbox (in-memory demo), so the Upload page" in as_read(at.error[0].value)
    with pytest.raises(AssertionError, match="not on the page"):
        find_component(at, UPLOADER)


def test_a_viewers_crafted_sign_event_is_refused(app_test, monkeypatch, tmp_path):
    """The uploader's widget id is the same in every session (it follows its key): a viewer who sends
    a sign event for it gets nothing signed, and the desk records no grant."""
    rules = [{"who": ["ulla@example.com"], "roles": ["uploader"]}, {"who": ["*@example.com"], "roles": ["viewer"]}]
    uploader = signed_in(app_test, monkeypatch, rules, "ulla@example.com", page="pages/upload.py")
    uploader.run()
    widget_id = find_component(uploader, UPLOADER).id

    viewer = signed_in(app_test, monkeypatch, rules, "vic@example.com", page="pages/upload.py")
    viewer.run()
    from streamlit.components.v2.bidi_component.main import _make_trigger_id

    states = viewer._tree.get_widget_states()
    crafted = states.widgets.add()
    crafted.id = _make_trigger_id(widget_id, "events")
    declared = {"id": "5" * 16, "name": "a.png", "size": 10, "type": "image/png", "signSeq": 0}
    crafted.json_trigger_value = json.dumps([{"event": "sign", "value": {"files": [declared]}}])
    viewer._run(states, timeout=30)
    assert not viewer.exception
    assert "Upload" not in navigation(viewer)
    with pytest.raises(AssertionError, match="not on the page"):
        component_data(viewer, UPLOADER)
    assert recorded(tmp_path, who="vic@example.com", action="sign") == []


def test_a_scoped_uploader_picks_a_destination_among_their_folders(app_test, monkeypatch, scoped):
    rules = [{"who": ["ulla@example.com"], "roles": ["uploader"], "prefixes": [scoped + "design/", "uploads/{user}/"]}]
    at = signed_in(app_test, monkeypatch, rules, "ulla@example.com", page="pages/upload.py")
    at.run()
    assert not at.exception
    own = f"uploads/{user_segment('ulla@example.com')}/"
    [picker] = [s for s in at.selectbox if s.label == "Destination folder"]
    assert picker.options == [scoped + "design/", own]
    assert f"under `{scoped}design/uploads/" in at.caption[0].value
    picker.set_value(own).run()
    assert f"under `{own}uploads/" in at.caption[0].value


def test_a_scoped_viewer_sees_their_folders_as_the_top(app_test, monkeypatch, scoped):
    rules = [{"who": ["vic@example.com"], "roles": ["viewer"], "prefixes": [scoped + "design/", scoped + "public/"]}]
    at = signed_in(app_test, monkeypatch, rules, "vic@example.com", page="pages/browse.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [frame] = [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")]
    assert list(frame.value["name"]) == [scoped + "design/", scoped + "public/"]  # never the bucket's root


@pytest.mark.parametrize("crafted", ["secret/", "design/../secret/", "design%2F..%2Fsecret/", "../", "design-old/"])
def test_a_scoped_viewer_cannot_open_another_folder_by_query_parameter(
    app_test, monkeypatch, scoped, crafted, tmp_path
):
    rules = [{"who": ["vic@example.com"], "roles": ["viewer"], "prefixes": [scoped + "design/"]}]
    at = signed_in(app_test, monkeypatch, rules, "vic@example.com", page="pages/browse.py")
    at.query_params["prefix"] = scoped + crafted
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "may not browse" in as_read(at.error[0].value) and "you may only browse" in as_read(at.error[0].value)
    assert not [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")]  # nothing listed
    assert "s.txt" not in repr(at._tree)
    [back] = [b for b in at.button if b.label == "Go to your folders"]
    back.click().run()
    [frame] = [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")]
    assert list(frame.value["name"]) == ["a.txt"]
    assert [e["key"] for e in recorded(tmp_path, action="list", outcome="refused")] == [scoped + crafted]


def test_a_scoped_viewer_cannot_search_or_jump_out_of_their_folder(app_test, monkeypatch, scoped):
    rules = [{"who": ["vic@example.com"], "roles": ["viewer"], "prefixes": [scoped + "design/"]}]
    at = signed_in(app_test, monkeypatch, rules, "vic@example.com", page="pages/browse.py")
    at.run()
    [frame] = [d for d in at.dataframe if d.key and d.key.startswith(S + "table:")]
    assert list(frame.value["name"]) == ["a.txt"]  # the one folder opens directly
    at.text_input(key=S + "search").input("../secret/").run()
    assert "may not browse" in as_read(at.error[0].value)
    assert "s.txt" not in repr(at._tree)
