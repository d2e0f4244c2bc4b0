"""bucketdesk: upload to, browse, audit and export an S3 bucket from the browser.

Entry point: page config, configuration (reported all at once), who the user is, which bucket,
then the pages. Pages read the run's AppContext from st.session_state["bucketdesk"].
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lib.browse.sharing import RowLinks
from lib.config import ConfigError, load_settings, with_sandbox
from lib.context import AppContext
from lib.desk import Desk, RepeatMemo, access_for, no_access_sentence
from lib.events import EventStore
from lib.identity import identity_from_user, local_identity
from lib.s3 import S3Gateway
from lib.sandbox import start_sandbox

st.set_page_config(page_title="bucketdesk", page_icon=":material/cloud_upload:", layout="wide")


@st.cache_resource(show_spinner="Starting the in-memory S3 sandbox…")
def sandbox():
    return start_sandbox()


@st.cache_resource
def gateway_for(profile) -> S3Gateway:
    """One gateway (and its pooled boto3 clients) per bucket profile, shared by all sessions."""
    return S3Gateway(profile)


@st.cache_resource
def row_links(profile_name: str, _gateway: S3Gateway) -> RowLinks:
    """Row links reused across reruns and sessions, so a row's URL stays stable (the desk checks first)."""
    return RowLinks(_gateway)


@st.cache_resource
def event_store(database_path: str, audit_log_path: str) -> EventStore:
    """One event store per database file, shared by every session; an older JSONL log is imported once."""
    store = EventStore(Path(database_path))
    store.import_jsonl(Path(audit_log_path))
    return store


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def current_identity():
    if not auth_configured():
        return local_identity()
    identity = identity_from_user(st.user.to_dict())
    if identity is None:
        st.title("bucketdesk")
        st.write("Sign in to upload and browse assets.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    return identity


try:
    settings = load_settings()
except ConfigError as problem:
    st.error(problem.message)
    st.info(problem.hint)
    st.stop()

if settings.needs_sandbox:
    box = sandbox()
    settings = with_sandbox(settings, box.profile)
    if st.context.url:  # let this browser's origin POST to the demo bucket (CORS)
        box.allow_origin("/".join(st.context.url.split("/")[:3]))

identity = current_identity()

# The buckets this person may use; someone no rule admits anywhere gets a sentence, never an empty app.
admitted = tuple(name for name in settings.profiles if access_for(settings, name, identity).admitted)

with st.sidebar:
    names = list(admitted or settings.profiles)
    chosen = (
        st.selectbox("Bucket", names, format_func=lambda n: settings.profiles[n].display_name, key="profile")
        if len(names) > 1
        else names[0]
    )
    profile = settings.profiles[chosen]
    if identity.source == "local":
        st.caption(
            f"No sign-in is configured: everyone who reaches this app acts as **{identity.display}** (local user)."
        )
    else:
        st.caption(f"Signed in as **{identity.display}**")
    if auth_configured():
        st.button("Sign out", on_click=st.logout)

if profile.sandbox:
    st.warning(
        "**Sandbox.** This is an in-memory S3 bucket started by the app. It does **not** enforce upload "
        "policies and forgets everything when the app restarts. Configure a real bucket to use "
        "bucketdesk for real (see README: Configuration).",
        icon=":material/science:",
    )

gateway = gateway_for(profile)
desk = Desk.open(
    settings,
    profile,
    gateway,
    identity,
    event_store(str(settings.database_path), str(settings.audit_log_path)),
    links=row_links(profile.name, gateway),
    repeats=st.session_state.setdefault("bucketdesk:repeats", RepeatMemo()),  # reruns' reads recorded once
)
st.session_state["bucketdesk"] = AppContext(
    settings=settings, profile=profile, identity=identity, desk=desk, profile_names=admitted
)

# Only the pages this person may use (lib.access.PAGE_ACTIONS); each page checks again when run.
PAGES = {
    "home": st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    "upload": st.Page("pages/upload.py", title="Upload", icon=":material/upload:", url_path="upload"),
    "browse": st.Page("pages/browse.py", title="Browse", icon=":material/folder_open:", url_path="browse"),
}


def no_access() -> None:
    st.title("bucketdesk")
    st.warning(no_access_sentence(settings, profile, identity), icon=":material/lock:")


allowed = [PAGES[name] for name in desk.pages() if name in PAGES]
page = st.navigation(allowed or [st.Page(no_access, title="No access", icon=":material/lock:")])
page.run()
