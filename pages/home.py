"""Home: what bucketdesk is, the bucket in use, and where to go."""

from __future__ import annotations

import streamlit as st

from lib.names import escape_markdown
from lib.units import human_bytes
from pages import app_context

ctx = app_context("home")
profile = ctx.profile

st.title("bucketdesk")
st.write(
    "Upload assets from your browser straight into the bucket, then browse and share them. "
    "Files never pass through this server: it only signs a short-lived permission for each one."
)

left, right = st.columns(2)
with left.container(border=True):
    if "upload" in ctx.desk.pages():
        st.page_link("pages/upload.py", label="Upload files", icon=":material/upload:")
        st.caption(
            f"Up to {human_bytes(profile.max_upload_bytes)} per file · "
            f"{escape_markdown(', '.join(profile.allowed_types))}"
        )
    elif "browse" in ctx.desk.pages():
        st.page_link("pages/browse.py", label="Browse files", icon=":material/folder_open:")
        st.caption("You may browse and share here; uploading is for uploaders.")
with right.container(border=True):
    st.markdown(f"**Bucket** {escape_markdown(profile.display_name)}")
    st.caption(f"Signed in as {escape_markdown(ctx.identity.display)}")

mine = ctx.desk.recent_uploads(20)
if mine:
    st.subheader("Your recent uploads")
    st.dataframe(
        [{"when": e.when, "file": e.details.get("name"), "outcome": e.outcome, "key": e.key} for e in mine],
        hide_index=True,
    )
