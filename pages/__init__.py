"""What every page shares: the run's AppContext, and showing a BucketdeskError as words."""

from __future__ import annotations

import streamlit as st

from lib.context import AppContext
from lib.errors import BucketdeskError
from lib.names import escape_markdown


def app_context() -> AppContext:
    """The AppContext streamlit_app.py set up for this run.

    Because a pages/ folder exists, Streamlit runs the first request after a server start in its
    legacy multipage mode, which executes a deep-linked page without streamlit_app.py. Leaving that
    mode is what st.navigation itself does; the rerun then goes through the app shell and keeps the URL.
    """
    if "bucketdesk" not in st.session_state:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state["bucketdesk"]


def show_error(error: BucketdeskError | str, hint: str = "") -> None:
    """Messages name keys, files and people from the bucket: shown as text, never as Markdown."""
    message, hint = (error.message, error.hint) if isinstance(error, BucketdeskError) else (error, hint)
    st.error(escape_markdown(message), icon=":material/error:")
    if hint:
        st.caption(escape_markdown(hint))
