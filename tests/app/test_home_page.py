import pytest

pytestmark = pytest.mark.app


def test_home_is_the_default_page_and_links_to_upload(app_test):
    at = app_test("pages/home.py")
    at.run()
    assert not at.exception
    assert at.title[0].value == "bucketdesk"
    links = at.get("page_link")
    assert [link.proto.page for link in links] == ["upload"]  # the page's URL path
    assert any("Sandbox" in m.value for m in at.markdown)
    assert not at.get("subheader")  # a new user has no uploads yet
