"""What every page shares: the run's AppContext, its own gate, and showing a BucketdeskError as words."""

from __future__ import annotations

import streamlit as st

from lib.context import AppContext
from lib.errors import BucketdeskError, PermissionDenied
from lib.names import escape_markdown


def app_context(page: str | None = None) -> AppContext:
    """The AppContext streamlit_app.py set up for this run; with `page`, stop here with a sentence
    unless this person may use that page (lib.access.PAGE_ACTIONS).

    Because a pages/ folder exists, Streamlit runs the first request after a server start in its
    legacy multipage mode, which executes a deep-linked page without streamlit_app.py. Leaving that
    mode is what st.navigation itself does; the rerun then goes through the app shell and keeps the URL.
    The navigation lists only a person's pages, but a page reached another way checks again here.
    """
    if "bucketdesk" not in st.session_state:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    ctx: AppContext = st.session_state["bucketdesk"]
    if page is not None and page not in ctx.desk.pages():
        show_error(PermissionDenied(ctx.desk.page_refusal(page)))
        st.stop()
    return ctx


def show_error(error: BucketdeskError | str, hint: str = "") -> None:
    """Messages name keys, files and people from the bucket: shown as text, never as Markdown."""
    message, hint = (error.message, error.hint) if isinstance(error, BucketdeskError) else (error, hint)
    st.error(escape_markdown(message), icon=":material/error:")
    if hint:
        st.caption(escape_markdown(hint))
