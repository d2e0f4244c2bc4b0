"""Keys, original names, types and people's names from the bucket show as text, never as Markdown.

Streamlit renders Markdown in labels, captions, toasts and errors; a name like `**x** [y](javascript:…)`
must reach the screen as those characters. Each check finds the element that shows the value and
asserts the value went through the escaper (escape_markdown, or code_span inside code)."""

from __future__ import annotations

import uuid

import pytest

from lib.names import code_span, encode_metadata, escape_markdown
from lib.s3 import make_client
from lib.sandbox import start_sandbox

pytestmark = pytest.mark.app
S = "browse:sandbox:"
HOSTILE = "**bold** [x](javascript:alert(1)) :red[hi] $x$ <b>_it_ `tick`"  # no "/": one folder level


@pytest.fixture(scope="module")
def seeded():
    box = start_sandbox()
    client = make_client(box.profile, box.endpoint_url)
    root = f"mdtest-{uuid.uuid4().hex[:8]}/{HOSTILE}/"
    key = root + "*star*.txt"
    client.put_object(
        Bucket=box.profile.bucket,
        Key=key,
        Body=b"plain",
        ContentType="text/plain",
        Metadata={"uploaded-by": encode_metadata("_mallory_"), "filename": encode_metadata(HOSTILE + ".txt")},
    )
    return {"root": root, "key": key}


def shown(at) -> list[str]:
    """Every Markdown source on the page: markdown, captions, subheaders, info/warning/error, buttons."""
    sources = [
        e.value for kind in ("markdown", "caption", "subheader", "info", "warning", "error") for e in at.get(kind)
    ]
    return sources + [b.proto.label for b in at.button]


def test_a_folder_and_object_named_in_markdown_show_as_text(app_test, seeded):
    at = app_test("pages/browse.py")
    at.query_params["prefix"] = seeded["root"]
    at.run()
    assert not at.exception
    sources = shown(at)
    # The breadcrumb's last folder and the gallery or table row: the folder name itself, escaped.
    assert any(escape_markdown(HOSTILE) in source for source in sources), sources
    assert not any(HOSTILE in source for source in sources)  # never unescaped

    at.segmented_control(key=S + "view").set_value("gallery").run()
    at.button(key=S + f"g:{seeded['key']}").click().run()
    assert not at.exception
    assert at.subheader[0].value == escape_markdown(HOSTILE + ".txt")
    assert not any(HOSTILE in source for source in shown(at))


def test_an_error_naming_a_key_shows_it_as_text(app_test, seeded):
    at = app_test("pages/browse.py")
    at.query_params["prefix"] = seeded["root"] + "nothing-here/"
    at.run()
    [info] = [e.value for e in at.info]
    assert code_span(seeded["root"] + "nothing-here/") in info


def test_the_signed_in_name_shows_as_text(app_test, monkeypatch):
    monkeypatch.setenv("LOGNAME", "**boss** [x](https://evil.example)")
    at = app_test("pages/home.py")
    at.run()
    captions = [c.value for c in at.sidebar.caption] + [c.value for c in at.caption]
    assert any(escape_markdown("**boss** [x](https://evil.example)") in c for c in captions), captions
    assert not any("**boss**" in c for c in captions)
