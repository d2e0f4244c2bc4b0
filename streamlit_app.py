"""bucketdesk: upload to, browse, audit and export an S3 bucket from the browser.

Entry point: page config, configuration (reported all at once), who the user is, which bucket,
then the pages. Pages read the run's AppContext from st.session_state["bucketdesk"].
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lib.browse.sharing import RowLinks
from lib.config import ConfigError, Settings, load_settings, with_sandbox
from lib.context import AppContext
from lib.desk import Desk, RepeatMemo, access_for, no_access_sentence
from lib.events import EventStore
from lib.identity import Identity, identity_from_user, local_identity
from lib.names import escape_markdown
from lib.s3 import S3Gateway
from lib.sandbox import start_sandbox
from lib.signin import SignIn, sign_in_from

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


def auth_section():
    """Streamlit's `[auth]` section, or None when there is none (or no secrets.toml at all)."""
    try:
        return st.secrets["auth"] if "auth" in st.secrets else None
    except Exception:  # an unreadable secrets.toml: load_settings reports it by name
        return None


def load_everything() -> tuple[Settings, SignIn | None]:
    """Settings and sign-in, with every problem in both reported at once."""
    problems: list[str] = []
    settings: Settings | None = None
    sign_in: SignIn | None = None
    try:
        settings = load_settings()
    except ConfigError as problem:
        problems.extend(problem.problems)
    try:
        sign_in = sign_in_from(auth_section())
    except ConfigError as problem:
        problems.extend(problem.problems)
    if problems:
        report = ConfigError(problems)
        st.error(escape_markdown(report.message))
        st.info(escape_markdown(report.hint))
        st.stop()
    assert settings is not None  # st.stop() ended the run otherwise
    return settings, sign_in


def current_identity(sign_in: SignIn | None, groups_claim: str) -> Identity:
    if sign_in is None:
        return local_identity()
    identity = identity_from_user(st.user.to_dict(), groups_claim)
    if identity is None:
        st.title("bucketdesk")
        st.write("Sign in to upload and browse assets.")
        for provider in sign_in.providers:
            st.button(sign_in.label(provider), on_click=st.login, args=(provider,), type="primary", key=provider)
        st.stop()
    return identity


def show_identity(identity: Identity) -> None:
    if identity.source == "local":
        st.caption(
            f"**No sign-in is configured.** Everyone who reaches this app acts as **{escape_markdown(identity.display)}** "
            "(this server's user), with the roles in `local_roles`. Configure `[auth]` to have people sign in."
        )
        return
    st.caption(f"Signed in as **{escape_markdown(identity.display)}**")
    if identity.display != identity.id:
        st.caption(f"Identity: {escape_markdown(identity.id)}")
    if identity.email_refused:
        st.caption(
            "Your identity provider has not verified your e-mail address, so bucketdesk knows you by your "
            "account ID instead. Verify the address with the provider to be known by it."
        )
    if identity.groups:
        st.caption("Groups: " + escape_markdown(", ".join(identity.groups)))
    st.button("Sign out", on_click=st.logout)


settings, sign_in = load_everything()

if settings.needs_sandbox:
    box = sandbox()
    settings = with_sandbox(settings, box.profile)
    if st.context.url:  # let this browser's origin POST to the demo bucket (CORS)
        box.allow_origin("/".join(st.context.url.split("/")[:3]))

identity = current_identity(sign_in, settings.groups_claim)

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
    show_identity(identity)

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

# Only the pages this person may use (lib.access.PAGE_ACTIONS); each page checks again when it runs.
PAGES = {
    "home": st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    "upload": st.Page("pages/upload.py", title="Upload", icon=":material/upload:", url_path="upload"),
    "browse": st.Page("pages/browse.py", title="Browse", icon=":material/folder_open:", url_path="browse"),
    "audit": st.Page("pages/audit.py", title="Audit", icon=":material/policy:", url_path="audit"),
    "export": st.Page("pages/export.py", title="Export", icon=":material/file_export:", url_path="export"),
}


def no_access() -> None:
    st.title("bucketdesk")
    st.warning(escape_markdown(no_access_sentence(settings, profile, identity)), icon=":material/lock:")


allowed = [PAGES[name] for name in desk.pages() if name in PAGES]
page = st.navigation(allowed or [st.Page(no_access, title="No access", icon=":material/lock:")])
page.run()
