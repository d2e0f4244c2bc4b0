"""bucketdesk: upload to, browse, audit and export an S3 bucket from the browser.

Entry point: page config, configuration (reported all at once), who the user is, which bucket,
then the pages. Pages read the run's AppContext from st.session_state["bucketdesk"].
"""

from __future__ import annotations

import streamlit as st

from lib.auditlog import AuditLog
from lib.config import ConfigError, load_settings, with_sandbox
from lib.context import AppContext
from lib.identity import identity_from_user, local_identity
from lib.names import escape_markdown
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
    st.error(escape_markdown(problem.message))
    st.info(escape_markdown(problem.hint))
    st.stop()

if settings.needs_sandbox:
    box = sandbox()
    settings = with_sandbox(settings, box.profile)
    if st.context.url:  # let this browser's origin POST to the demo bucket (CORS)
        box.allow_origin("/".join(st.context.url.split("/")[:3]))

identity = current_identity()

with st.sidebar:
    names = list(settings.profiles)
    chosen = (
        st.selectbox("Bucket", names, format_func=lambda n: settings.profiles[n].display_name, key="profile")
        if len(names) > 1
        else names[0]
    )
    profile = settings.profiles[chosen]
    st.caption(
        f"Signed in as **{escape_markdown(identity.display)}**"
        + (" (local user)" if identity.source == "local" else "")
    )
    if auth_configured():
        st.button("Sign out", on_click=st.logout)

if profile.sandbox:
    st.warning(
        "**Sandbox.** This is an in-memory S3 bucket started by the app. It does **not** enforce upload "
        "policies and forgets everything when the app restarts. Configure a real bucket to use "
        "bucketdesk for real (see README: Configuration).",
        icon=":material/science:",
    )

st.session_state["bucketdesk"] = AppContext(
    settings=settings,
    profile=profile,
    gateway=gateway_for(profile),
    identity=identity,
    audit=AuditLog(settings.audit_log_path),
)

page = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/upload.py", title="Upload", icon=":material/upload:", url_path="upload"),
        st.Page("pages/browse.py", title="Browse", icon=":material/folder_open:", url_path="browse"),
    ]
)
page.run()
