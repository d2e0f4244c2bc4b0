"""Upload: the browser sends files straight to the bucket under grants signed here.

Thin on purpose: lib.upload.session keeps the session's grants and verdicts, lib.upload.grants signs,
lib.upload.verify checks; this page wires the component's events to them and shows the results.
"""

from __future__ import annotations

import time

import streamlit as st

from lib.components import uploader as protocol
from lib.context import AppContext
from lib.errors import BucketdeskError
from lib.limits import VIEW_LINK_SECONDS
from lib.names import code_span, escape_markdown, static_prefix
from lib.units import human_bytes
from lib.upload.multipart import composite_parts
from lib.upload.resume import OpenUploadStore
from lib.upload.session import UploadSession
from pages import app_context, show_error

ctx: AppContext = app_context("upload")
desk = ctx.desk
SESSION_KEY = f"uploads:{ctx.profile.name}"
COMPONENT_KEY = f"uploader:{ctx.profile.name}"
FOLDER_KEY = f"upload-folder:{ctx.profile.name}"
SHOWN_RESULTS = 50  # results listed under "Uploaded"; the rest are counted
SHOWN_CARDS = 10  # of those, the latest get a card with a signed link (and a preview)
LINKS_KEY = f"upload-links:{ctx.profile.name}"
LINK_REUSE_SECONDS = 60  # a shown link is signed again after this long, not on every rerun


@st.cache_resource
def uploader_component():
    return st.components.v2.component(protocol.NAME, html=protocol.HTML, css=protocol.css(), js=protocol.js())


@st.cache_data(ttl=30, show_spinner=False)
def bucket_problem(profile_name: str, _desk) -> tuple[str, str] | None:
    """Checked at most every 30 s: is the bucket there and are we allowed in? (message, hint)"""
    try:
        _desk.check_bucket()
    except BucketdeskError as exc:
        return exc.message, exc.hint
    return None


def session() -> UploadSession:
    if SESSION_KEY not in st.session_state:
        store = OpenUploadStore(ctx.settings.multipart_state_dir)
        st.session_state[SESSION_KEY] = UploadSession(bucket=ctx.profile.bucket, open_uploads=store)
    return st.session_state[SESSION_KEY]


def destination() -> str | None:
    """The folder the person picked (None: the first they may write to)."""
    return st.session_state.get(FOLDER_KEY)


def shown_link(outcome) -> str:
    """The signed link of a shown result: signed once a minute at most (reruns come many a second)."""
    links: dict[str, tuple[float, str]] = st.session_state.setdefault(LINKS_KEY, {})
    signed_at, link = links.get(outcome.key, (0.0, ""))
    if time.monotonic() - signed_at > LINK_REUSE_SECONDS:
        signed_at, link = time.monotonic(), desk.uploaded_link(outcome)
        if len(links) > 2 * SHOWN_CARDS:
            links.clear()  # only the cards on screen need theirs
        links[outcome.key] = (signed_at, link)
    return link


def event(name: str):
    """The payload of the component's event `name`; the grants it says the browser holds are noted first."""
    payload = st.session_state[COMPONENT_KEY][name]
    session().delivered(protocol.parse_delivered(payload))
    return payload


def on_sign() -> None:
    requests = protocol.parse_sign(event("sign"))
    try:
        desk.sign_uploads(session(), requests, folder=destination())
    except BucketdeskError as exc:
        st.session_state["upload_error"] = (f"Could not sign the upload: {exc.message}", exc.hint)


def on_parts() -> None:
    requests = protocol.parse_parts(event("parts"))
    try:
        desk.sign_parts(session(), requests)
    except BucketdeskError as exc:
        st.session_state["upload_error"] = (f"Could not sign the next parts: {exc.message}", exc.hint)


def on_done() -> None:
    reports = protocol.parse_done(event("done"))
    if any(report.code == "ETagNotExposed" for report in reports):
        st.session_state["upload_error"] = (
            "The bucket's CORS rule does not expose the ETag header, so large files cannot be completed.",
            'Add "ETag" to ExposeHeaders in the CORS rule of the bucket (README: Pointing it at a real bucket), '
            "then choose the file again: the parts already sent are kept.",
        )
    try:
        desk.finish_uploads(session(), reports)
    except BucketdeskError as exc:
        st.session_state["upload_error"] = (f"Could not check the uploads: {exc.message}", exc.hint)


profile = ctx.profile
st.title("Upload")
folders = desk.upload_folders()
if len(folders) > 1:
    # The choice applies to the files chosen after it; files already granted keep their keys.
    st.selectbox(
        "Destination folder",
        folders,
        key=FOLDER_KEY,
        format_func=lambda folder: folder or "The whole bucket",
        help="The folders you may upload to. Each file's key is this folder, then the bucket's key template.",
        width=420,
    )
template = desk.key_template(destination())
st.caption(
    f"Files go straight from your browser to **{escape_markdown(profile.bucket)}** under "
    f"{code_span(static_prefix(template) + '…')}. "
    f"Up to {human_bytes(profile.max_upload_bytes)} each; accepted: {escape_markdown(', '.join(profile.allowed_types))}."
)

problem = bucket_problem(profile.name, desk)
if problem:
    show_error(*problem)
    st.stop()
if error := st.session_state.pop("upload_error", None):
    show_error(*error)

uploads = session()
uploader_component()(
    key=COMPONENT_KEY,
    data={
        "maxBytes": profile.max_upload_bytes,
        "accept": ",".join(profile.allowed_types),
        "concurrency": ctx.settings.upload_concurrency,
        "checksums": profile.checksums,
        "multipart": {
            "threshold": profile.multipart_threshold_bytes,
            "concurrency": profile.multipart_concurrency,
            "scope": f"{profile.name}:{profile.bucket}",  # resumes stay within one bucket
        },
        **uploads.component_data(),
    },
    on_sign_change=on_sign,
    on_parts_change=on_parts,
    on_done_change=on_done,
)

# Bounded, whatever the batch: every rerun (a thousand small files cause hundreds) redraws what is here,
# so the latest few get a card with their signed link, the next ones a line each, the rest a count.
outcomes = uploads.outcomes
finished = list(reversed(outcomes.values()))[:SHOWN_RESULTS]
# While a batch is on its way, each rerun would draw cards and a table the next rerun replaces, a large share
# of the browser's work per file: the count says how far it is, and they follow once the batch is through.
on_their_way = uploads.on_their_way()
if on_their_way > SHOWN_CARDS:
    finished = []
if outcomes:
    st.subheader("Uploaded")
if outcomes and (len(outcomes) > SHOWN_CARDS or not finished):
    accepted = sum(1 for outcome in outcomes.values() if outcome.ok)
    rest = f"; the latest {len(finished)} below" if len(outcomes) > len(finished) and finished else ""
    # No count here: the uploader's own line counts every file, this page only those granted so far.
    going = "; the files still on their way are listed here once they are through" if not finished else ""
    st.caption(
        f"{accepted:,} of {len(outcomes):,} files verified, {len(outcomes) - accepted:,} not accepted{rest}{going}."
    )
for outcome in finished[:SHOWN_CARDS]:
    with st.container(border=True):
        text, preview = st.columns([3, 1])
        with text:
            icon = ":material/check_circle:" if outcome.ok else ":material/warning:"
            st.markdown(
                f"{icon} **{escape_markdown(outcome.name)}** · {human_bytes(outcome.size or 0)} · "
                f"{escape_markdown(outcome.content_type or '')}"
            )
            st.markdown(escape_markdown(outcome.message))
            if outcome.ok and outcome.key:
                link = shown_link(outcome)
                st.caption(f"Key: {code_span(outcome.key)}")
                st.code(link, language=None, wrap_lines=True)
                st.caption(f"Signed link, valid for {VIEW_LINK_SECONDS // 60} minutes.")
                if outcome.checksum_sha256:
                    # The sandbox (moto) stores checksums without checking them: say so rather than claim it.
                    checked = (
                        "sent with the upload (the sandbox does not check it)"
                        if ctx.sandbox
                        else "checked by the bucket"
                    )
                    parts = composite_parts(outcome.checksum_sha256)
                    shape = f" part by part; composite of {parts} parts" if parts else ""
                    st.caption(f"SHA-256 {checked}{shape} (base64): `{outcome.checksum_sha256}`")
        if outcome.is_image:
            preview.image(link, width="stretch")
if len(finished) > SHOWN_CARDS:
    st.dataframe(
        [
            {
                "File": outcome.name,
                "Size": human_bytes(outcome.size or 0),
                "Result": "Verified" if outcome.ok else "Not accepted",
                "Key or reason": outcome.key if outcome.ok else outcome.message,
            }
            for outcome in finished[SHOWN_CARDS:]
        ],
        hide_index=True,
    )
