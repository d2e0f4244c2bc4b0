"""What every page shares: the run's AppContext, its own gate, showing a BucketdeskError as words, and
the bucket's snapshot build (start, progress, cancel, how it ended) for Browse and Audit alike."""

from __future__ import annotations

import streamlit as st

from lib.access import WHOLE_BUCKET, Action
from lib.context import AppContext
from lib.desk import Desk
from lib.errors import BucketdeskError, PermissionDenied
from lib.inventory import jobs
from lib.names import escape_markdown

BUILD_ERROR = "bucketdesk:build_error"  # a refused start or cancel, shown by the next run of the page
BUILD_NEWS_SECONDS = 3600  # how long a failed or cancelled build is told about


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


# --- the bucket's snapshot build (lib.inventory.jobs: one per bucket, in its own thread) ---------------


def start_build(desk: Desk, versions: bool = False) -> None:
    """A button's on_click: start (or join) the bucket's build; a refusal is shown by `build_status`."""
    try:
        desk.build_index(versions=versions)
    except BucketdeskError as exc:
        st.session_state[BUILD_ERROR] = exc


def _cancel_build(desk: Desk) -> None:
    try:
        desk.cancel_index_build()
    except BucketdeskError as exc:
        st.session_state[BUILD_ERROR] = exc


def build_status(desk: Desk, noun: str, key: str) -> bool:
    """The bucket's build as this page shows it; True while one runs (the page offers no other).

    Running: a progress bar, polled every second by a fragment, with Cancel for those who may build;
    the whole page reruns when the build ends. Ended badly (failed, cancelled) within the last hour:
    its sentence, to those who may build (they can act on it; the rest would only be worried).
    Leaving the page leaves the build running."""
    if (failed := st.session_state.pop(BUILD_ERROR, None)) is not None:
        show_error(failed)
    job = desk.index_build()
    if job is None:
        return False
    may_build = desk.can(Action.INDEX, WHOLE_BUCKET)
    if not job.running:
        status, ago = job.status(), job.ended_seconds_ago()
        if status.state in (jobs.FAILED, jobs.CANCELLED) and may_build and ago is not None and ago < BUILD_NEWS_SECONDS:
            st.warning(escape_markdown(status.describe()), icon=":material/error:")
        return False
    what = f"{noun}, with every version and delete marker" if job.versions else noun

    @st.fragment(run_every="1s")
    def poll() -> None:
        running = desk.index_build()
        if running is None or not running.running:
            st.rerun(scope="app")
        status = running.status()
        with st.container(horizontal=True, vertical_alignment="center"):
            st.progress(status.fraction, text=f":material/manage_search: Building {what}: {status.describe()}")
            if may_build:
                st.button(
                    "Cancel", key=key + "cancel_build", icon=":material/cancel:", on_click=_cancel_build, args=(desk,)
                )

    poll()
    return True
