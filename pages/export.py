"""Export: the bucket's object listing, filtered, as CSV, Parquet, JSON Lines or Excel.

Thin: the fields become an ExportRequest (lib.export.form); preview, count and the export itself
are lib.export.request; small files download from here, large ones go to the bucket as a signed link.
"""

from __future__ import annotations

import streamlit as st

from lib.errors import BucketdeskError
from lib.export import request as exports
from lib.export.columns import EXPORTABLE, HEAD_COLUMNS
from lib.export.destinations import Download, SignedLink
from lib.export.enrich import head_requests
from lib.export.form import PATTERN_MODES, SOURCES, STORAGE_CLASSES, ExportForm
from lib.export.formats import FORMATS
from lib.inventory.query import TYPE_FAMILIES
from lib.inventory.schema import DEFAULT_EXPORT_COLUMNS
from lib.names import escape_markdown
from lib.units import human_bytes
from pages import app_context, show_error

ctx = app_context("export")
desk = ctx.desk  # checks the export scope and records each export
K = f"export:{ctx.profile.name}:"

st.title("Export")
st.write(
    "The bucket's object listing as a file for a spreadsheet, pandas, DuckDB or a warehouse. "
    f"Files under {human_bytes(ctx.settings.export_download_max_bytes)} download from here; larger ones are "
    "stored in the bucket and handed to you as a link."
)


# --- what to export ---------------------------------------------------------------------------------

source = st.radio("Source", list(SOURCES), format_func=SOURCES.__getitem__, horizontal=True, key=K + "source")
manifest_key = ""
if source == exports.SNAPSHOT:
    try:
        latest = desk.latest_snapshot()
    except BucketdeskError as error:
        show_error(error)
        latest = None
    if latest is None:
        st.warning("This bucket has no snapshot yet. Build one with `python -m lib.inventory`, or use a live listing.")
    else:
        st.caption("Latest snapshot: " + escape_markdown(exports.snapshot_words(latest)))
elif source == exports.INVENTORY:
    manifest_key = st.text_input(
        "Manifest key", key=K + "manifest", placeholder="inventory/my-bucket/daily/2024-05-01T01-00Z/manifest.json"
    )
else:
    st.caption("Lists the bucket now, many requests at once. Counting the matches needs a whole listing.")

with st.expander("Which objects", expanded=True):
    left, right = st.columns(2)
    prefixes = left.text_area("Prefixes (one per line; empty: the whole bucket)", key=K + "prefixes", height=80)
    mode = right.selectbox("Key", list(PATTERN_MODES), format_func=PATTERN_MODES.__getitem__, key=K + "mode")
    pattern = right.text_input("Pattern", key=K + "pattern", placeholder="e.g. report, *.jpg, ^logs/2024-")
    match_case = right.checkbox("Match case", key=K + "case")
    left, middle, right = st.columns(3)
    family = left.selectbox("Type", [None, *TYPE_FAMILIES], format_func=lambda f: f or "any", key=K + "family")
    extensions = middle.text_input("Extensions", key=K + "extensions", placeholder="e.g. jpg png")
    classes = right.multiselect("Storage class", STORAGE_CLASSES, key=K + "classes")
    left, middle, right, last = st.columns(4)
    min_size = left.text_input("Smallest size", key=K + "min", placeholder="e.g. 10MB")
    max_size = middle.text_input("Largest size", key=K + "max", placeholder="e.g. 1GiB")
    since = right.date_input("Modified from (UTC)", value=None, key=K + "since")
    until = last.date_input("Modified until (UTC, that day included)", value=None, key=K + "until")
    all_versions = st.toggle("All versions and delete markers (not only the latest)", key=K + "versions")

columns = st.multiselect(
    "Columns, in the order picked", EXPORTABLE, default=list(DEFAULT_EXPORT_COLUMNS), key=K + "columns"
)
left, right = st.columns(2)
fmt = left.selectbox("Format", list(FORMATS), format_func=lambda name: FORMATS[name].label, key=K + "format")
safe = right.checkbox(
    "Safe for spreadsheets",
    value=True,
    key=K + "safe",
    disabled=fmt != "csv",
    help="CSV only: cells starting with = + - @ get a leading ' so Excel does not run them as formulas. "
    "This changes those cells; turn it off for pandas, DuckDB or a warehouse.",
)

form = ExportForm(
    source=source,
    manifest_key=manifest_key,
    prefixes=prefixes,
    pattern_mode=mode,
    pattern=pattern,
    match_case=match_case,
    type_family=family,
    extensions=extensions,
    min_size=min_size,
    max_size=max_size,
    since=since,
    until=until,
    storage_classes=tuple(classes),
    all_versions=all_versions,
    columns=tuple(columns),
    format=fmt,
    spreadsheet_safe=safe,
)
try:
    request = form.to_request()
except BucketdeskError as error:
    show_error(error)
    st.stop()

counted: int | None = st.session_state.get(K + "counted", {}).get(request)
head_warning = st.empty()  # filled below, once a count may have been made in this run

# --- preview and count ------------------------------------------------------------------------------

left, middle, right = st.columns(3)
wants_preview = left.button("Preview", key=K + "preview", icon=":material/visibility:")
wants_count = middle.button("Count", key=K + "count-button", icon=":material/tag:")
wants_export = right.button("Export", key=K + "export", type="primary", icon=":material/download:")

if wants_preview or wants_count:
    try:
        if wants_preview:
            with st.spinner("Reading the first rows…"):
                st.session_state[K + "shown"] = (request, desk.export_preview(request))
        if wants_count or request.source == exports.SNAPSHOT:
            said = st.empty()

            def walked(progress) -> None:
                said.caption(f"Counting: {progress.objects:,} objects listed…")

            with st.spinner("Counting…"):
                counted = desk.export_count(request, progress=walked)
            said.empty()
            st.session_state[K + "counted"] = {request: counted}
    except BucketdeskError as error:
        show_error(error)

shown = st.session_state.get(K + "shown")
if shown and shown[0] == request:
    table = shown[1]
    if table.num_rows:
        st.dataframe(table.to_pandas(), hide_index=True, key=K + "rows")
        st.caption(f"The first {table.num_rows:,} rows, in the export's columns.")
    else:
        st.info("No object matches these filters; an export would hold only the header.")
if counted is not None:
    st.markdown(f"**{counted:,}** {'object matches' if counted == 1 else 'objects match'}.")
elif request.source != exports.SNAPSHOT:
    st.caption("A count needs a whole listing of the chosen prefixes: press Count to run one.")

head_columns = [name for name in request.columns if name in HEAD_COLUMNS]
if head_columns:
    cost = (
        f"{head_requests(counted, request.columns):,} HEAD requests"
        if counted is not None
        else "one HEAD request per exported object"
    )
    head_warning.warning(
        f"{', '.join(head_columns)} are not in a listing: they cost {cost} "
        f"({request.concurrency} at a time), which takes a while on a large export."
    )

# --- export -----------------------------------------------------------------------------------------

if wants_export:
    bar = st.progress(0.0, text="Starting…")

    def written(rows: int, finished: bool) -> None:
        share = min(rows / counted, 1.0) if counted else 0.0
        bar.progress(1.0 if finished else share, text=f"{rows:,} rows written" + ("" if finished else "…"))

    try:
        done = desk.export(request, progress=written)
    except BucketdeskError as error:  # recorded by the desk
        show_error(error)
        st.stop()
    summary, delivery = done.summary, done.delivery
    payload = exports.take_download(delivery) if isinstance(delivery, Download) else None
    st.session_state[K + "result"] = (summary, delivery, payload)

result = st.session_state.get(K + "result")
if result:
    summary, delivery, payload = result
    label = f"{summary.rows:,} {'row' if summary.rows == 1 else 'rows'}, {human_bytes(summary.bytes)}"
    if isinstance(delivery, Download):
        st.success(f"Exported {label}.")
        st.download_button(
            f"Download {delivery.filename}",
            data=payload,
            file_name=delivery.filename,
            mime=delivery.media_type,
            key=K + "download",
            icon=":material/download:",
            on_click="ignore",
        )
    elif isinstance(delivery, SignedLink):
        st.success(
            f"Exported {label}: too large to download from here, so it is stored in the bucket as "
            f"`{escape_markdown(delivery.key)}`."
        )
        st.link_button("Download from the bucket", delivery.url, icon=":material/open_in_new:")
        st.caption(f"The link works until {delivery.expires_at:%Y-%m-%d %H:%M} UTC.")
