"""Audit (admins): what the bucket holds, what is hidden, how it is configured, and who did what.

Thin: every read and action goes through the desk (checked against Action.AUDIT, INDEX or
ABORT_UNFINISHED, and recorded); the numbers come from lib.audit; this script only lays them out.
Every number carries a caption naming the snapshot (its time and row count) or the live call it
came from. Text from the bucket (keys, folder names, rules) is shown in tables, code blocks or
escaped Markdown, never as Markdown of its own.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import altair as alt
import pandas as pd
import streamlit as st

from lib.access import WHOLE_BUCKET, Action
from lib.audit import events_export, hidden, usage
from lib.audit.config_review import TITLES, Finding, Status, origin_of, summarise
from lib.errors import BucketdeskError
from lib.events import FAILED, OK, REFUSED, Event, EventFilter
from lib.names import code_span, escape_markdown
from lib.units import human_bytes, human_duration
from lib.upload.resume import OpenUploadStore
from pages import app_context, build_status, show_error, start_build

ctx = app_context()
desk = ctx.desk
S = f"audit:{ctx.profile.name}:"  # session-state keys of this page, per bucket profile
STATUS_ICONS = {
    Status.PASS: ":material/check_circle:",
    Status.WARN: ":material/warning:",
    Status.FAIL: ":material/cancel:",
    Status.UNSUPPORTED: ":material/block:",
    Status.UNKNOWN: ":material/help:",
}
STATUS_WORDS = {
    Status.PASS: "pass",
    Status.WARN: "warn",
    Status.FAIL: "fail",
    Status.UNSUPPORTED: "not supported by this store",
    Status.UNKNOWN: "unknown",
}
EVENTS_PER_PAGE = 50


def open_uploads() -> OpenUploadStore:
    """bucketdesk's records of the multipart uploads it started (who started each, which file)."""
    return OpenUploadStore(ctx.settings.multipart_state_dir)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def snapshot_note(snapshot, now: datetime) -> str:
    """Where the numbers came from, in full: which snapshot, when, how old, how many rows, what kind."""
    manifest = snapshot.manifest
    age = human_duration(int((now - manifest.finished_at).total_seconds()))
    kind = "with every version and delete marker" if manifest.versions else "current objects only"
    scope = f" under {escape_markdown(manifest.prefix)}" if manifest.prefix else ""
    return (
        f"From snapshot {escape_markdown(manifest.id)} of {when(manifest.finished_at)} ({age} ago): "
        f"{manifest.rows:,} rows{scope}, {kind}."
    )


def snapshot_ref(snapshot) -> str:
    """The short form for the captions below the full note: which snapshot, when, how many rows."""
    manifest = snapshot.manifest
    return f"Snapshot {escape_markdown(manifest.id)} of {when(manifest.finished_at)}, {manifest.rows:,} rows."


def bar_chart(frame: pd.DataFrame, label: str, value: str = "bytes", sort: list[str] | None = None) -> None:
    """Horizontal bars, biggest first (or in `sort` order); hover shows the row."""
    order = sort if sort is not None else "-x"
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(f"{value}:Q", title=value),
            y=alt.Y(f"{label}:N", sort=order, title=None),
            tooltip=list(frame.columns),
        )
        .properties(height=alt.Step(26))  # one band per row, however many rows
    )
    st.altair_chart(chart, width="stretch")


def with_sizes(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy with a readable size next to each byte column (the byte column stays, for sorting)."""
    shown = frame.copy()
    for column in columns:
        shown.insert(list(shown.columns).index(column) + 1, f"{column} (readable)", shown[column].map(human_bytes))
    return shown


# --- snapshots ----------------------------------------------------------------------------------


def build_button(label: str) -> None:
    """Build a versions snapshot (it answers usage, hidden storage and search alike) in the
    background, like Browse's "Update index": the bar shows while it runs, Cancel stops it, and the
    previous snapshot stays the latest until the new one is complete."""
    if not desk.can(Action.INDEX, WHOLE_BUCKET):
        st.caption("Building a snapshot needs the index permission (analysts and admins).")
        return
    st.button(label, key=S + "build", icon=":material/inventory_2:", on_click=start_build, args=(desk, True))


# --- usage --------------------------------------------------------------------------------------


def folder_picker(frame: pd.DataFrame, state: str, key: str, columns: tuple[str, ...]) -> None:
    """The folders table; selecting a row drills into it, the breadcrumbs lead back up."""
    prefix = st.session_state.get(state, "")
    crumbs = [""] + [prefix[: i + 1] for i, ch in enumerate(prefix) if ch == "/"]
    cells = st.columns(min(len(crumbs), 8))
    for index, crumb in enumerate(crumbs[-8:]):
        name = "(top)" if crumb == "" else escape_markdown(crumb[:-1].rsplit("/", 1)[-1] + "/")
        if cells[index].button(name, key=f"{key}:crumb:{crumb}", disabled=crumb == prefix, type="tertiary"):
            st.session_state[state] = crumb
            st.rerun()
    shown = frame.copy()
    shown["folder"] = shown["folder"].fillna("(objects here)")
    picked = st.dataframe(
        with_sizes(shown, *columns),
        key=f"{key}:{prefix}",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = picked.selection.rows if picked else []
    if rows:
        folder = frame["folder"].iloc[rows[0]]
        if isinstance(folder, str) and folder != prefix:
            st.session_state[state] = folder
            st.rerun()


def usage_section(snapshots: list) -> None:
    latest = snapshots[0] if snapshots else None
    building = build_status(desk, "a snapshot", S)
    if latest is None:
        if not building:
            st.info(
                "There is no snapshot of this bucket yet. A snapshot lists every object (and every version) once, "
                "in parallel, into Parquet files that this page, search and exports read without listing again.",
                icon=":material/inventory_2:",
            )
            build_button("Build a snapshot now")
        return
    now = datetime.now(UTC)
    st.caption(snapshot_note(latest, now))
    note = snapshot_ref(latest)
    if not building:
        build_button("Build a new snapshot")
    con = desk.open_snapshot(latest)

    counted = usage.totals(con)
    cells = st.columns(4)
    cells[0].metric("Objects", f"{counted.objects:,}")
    cells[1].metric("Bytes (current)", human_bytes(counted.bytes))
    cells[2].metric("Stored versions", f"{counted.versions:,}")
    cells[3].metric("Bytes billed (all versions)", human_bytes(counted.version_bytes))
    st.caption(f"Totals: current objects (latest version, not delete markers) and every stored version. {note}")

    st.subheader("Where: biggest folders")
    prefix = st.session_state.get(S + "prefix", "")
    folders = usage.by_prefix(con, prefix)
    if len(folders):
        bar_chart(folders.assign(folder=folders["folder"].fillna("(objects here)")), "folder")
    folder_picker(folders, S + "prefix", S + "folders", ("bytes",))
    st.caption(
        f"Current objects one level below {escape_markdown(prefix) or 'the top'}; pick a row to look inside. {note}"
    )

    st.subheader("What: type families and extensions")
    left, right = st.columns(2)
    families = usage.by_family(con)
    with left:
        if len(families):
            bar_chart(families, "family")
        st.dataframe(with_sizes(families, "bytes"), hide_index=True, key=S + "families")
    with right:
        st.dataframe(with_sizes(usage.by_extension(con), "bytes"), hide_index=True, key=S + "extensions")
    st.caption(f"Families by file extension (lib/mime.py), current objects. {note}")

    left, right = st.columns(2)
    with left:
        st.subheader("Storage classes")
        classes = usage.by_storage_class(con)
        if len(classes):
            bar_chart(classes, "storage_class")
        st.dataframe(with_sizes(classes, "bytes"), hide_index=True, key=S + "classes")
    with right:
        st.subheader("Age (last modified)")
        ages = usage.by_age(con, now)
        bar_chart(ages, "age", sort=[label for label, _ in usage.AGE_BANDS])
        st.dataframe(with_sizes(ages, "bytes"), hide_index=True, key=S + "ages")
    st.caption(f"Current objects; ages at {when(now)}. {note}")

    st.subheader("Largest objects")
    st.dataframe(with_sizes(usage.largest(con), "size"), hide_index=True, key=S + "largest")
    st.caption(note)

    st.subheader("Growth")
    growth_section(snapshots)


def growth_section(snapshots: list) -> None:
    if len(snapshots) < 2:
        st.caption("Growth needs two snapshots or more; this bucket has one so far. Build another later to compare.")
        return
    points = usage.growth_from_snapshots([(s.manifest.finished_at, desk.open_snapshot(s)) for s in snapshots])
    chart = (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(x=alt.X("finished:T", title="snapshot"), y=alt.Y("bytes:Q"), tooltip=list(points.columns))
    )
    st.altair_chart(chart, width="stretch")
    st.dataframe(with_sizes(points, "bytes"), hide_index=True, key=S + "growth")
    st.caption(f"Current objects and bytes in each of the {len(snapshots)} kept snapshots, oldest first.")


# --- hidden storage -----------------------------------------------------------------------------


def hidden_section(snapshots: list) -> None:
    st.subheader("Noncurrent versions and delete markers")
    versioned = next((s for s in snapshots if s.manifest.versions), None)
    if versioned is None:
        st.info("Hidden versions need a snapshot that lists versions; build one on the Usage tab.")
    else:
        st.caption(snapshot_note(versioned, datetime.now(UTC)))
        note = snapshot_ref(versioned)
        con = desk.open_snapshot(versioned)
        counted = usage.totals(con)
        cells = st.columns(3)
        cells[0].metric("Noncurrent versions", f"{counted.noncurrent:,}")
        cells[1].metric("Their bytes", human_bytes(counted.noncurrent_bytes))
        cells[2].metric("Delete markers", f"{counted.delete_markers:,}")
        places = usage.hidden_by_prefix(con, st.session_state.get(S + "hidden_prefix", ""))
        folder_picker(places, S + "hidden_prefix", S + "hidden", ("noncurrent_bytes",))
        st.caption(note)
        duplicates_section(con, versioned.id, note)
    unfinished_section()


def duplicates_section(con, snapshot_id: str, note: str) -> None:
    st.subheader("Duplicates")
    slot = S + "duplicates"
    if st.session_state.get(slot, (None,))[0] != snapshot_id:  # the checksums are read once per snapshot
        found = (hidden.duplicates_by_checksum(con, desk.upload_checksums()), hidden.duplicates_by_etag(con))
        st.session_state[slot] = (snapshot_id, *found)
    _, by_checksum, by_etag = st.session_state[slot]
    for title, found, source in (
        ("Same SHA-256", by_checksum, "the SHA-256 bucketdesk recorded when each file was uploaded"),
        ("Same ETag (single-part uploads only)", by_etag, "ETags of single-part uploads (MD5 of the bytes)"),
    ):
        st.markdown(
            f"**{title}**: {found.total_groups:,} groups waste {human_bytes(found.total_wasted_bytes)} "
            "beyond one copy each."
        )
        if len(found.groups):
            shown = found.groups.assign(keys=found.groups["keys"].map(lambda keys: ", ".join(keys)))
            st.dataframe(with_sizes(shown, "size", "wasted_bytes"), hide_index=True, key=S + "dup:" + title)
        st.caption(f"By {source}; a multipart ETag is not a content hash and is never compared. {note}")


def unfinished_section() -> None:
    st.subheader("Unfinished multipart uploads")
    slot = S + "unfinished"
    if st.button("Look again", key=slot + ":refresh", icon=":material/refresh:"):
        st.session_state.pop(slot, None)
    if slot not in st.session_state:
        try:
            st.session_state[slot] = (*desk.unfinished_uploads(open_uploads()), datetime.now(UTC))
        except BucketdeskError as exc:
            show_error(exc)
            return
    found, more, asked = st.session_state[slot]
    st.caption(
        f"Live calls ListMultipartUploads and ListParts at {when(asked)}"
        + (": more than shown (the oldest first); abort or let a lifecycle rule remove them." if more else ".")
    )
    if not found:
        st.success("No unfinished uploads: nothing is stored and billed out of sight.", icon=":material/check:")
        return
    stored = sum(upload.bytes_stored for upload in found)
    st.markdown(f"**{len(found):,}** unfinished uploads hold **{human_bytes(stored)}** in parts.")
    table = pd.DataFrame(
        [
            {
                "key": u.key,
                "started": u.started,
                "started by": u.started_by or u.initiator or "(not recorded)",
                "file": u.file_name,
                "parts": u.parts,
                "bytes stored": human_bytes(u.bytes_stored),
                "storage class": u.storage_class,
            }
            for u in found
        ]
    )
    st.dataframe(table, hide_index=True, key=slot + ":table")
    if not desk.can(Action.ABORT_UNFINISHED):
        st.caption("Aborting needs the abort-unfinished permission (admins).")
        return
    cells = st.columns([4, 1], vertical_alignment="bottom")
    chosen = cells[0].selectbox(
        "Upload to abort",
        found,
        format_func=lambda u: f"{u.key} (started {when(u.started) if u.started else 'at an unknown time'})",
        key=slot + ":chosen",
    )
    if cells[1].button("Abort…", key=slot + ":abort", icon=":material/delete:") and chosen is not None:
        confirm_abort(chosen)


@st.dialog("Abort an unfinished upload")
def confirm_abort(upload: hidden.UnfinishedUpload) -> None:
    st.write("Its parts are deleted and the upload cannot be resumed. This is recorded in the audit log.")
    st.code(upload.key, language=None)
    st.caption(f"{upload.parts} parts, {human_bytes(upload.bytes_stored)} stored; upload id {upload.upload_id}")
    if st.button("Abort the upload", type="primary", key=S + "abort:confirm"):
        try:
            done = desk.abort_unfinished(upload.key, upload.upload_id, open_uploads())
        except BucketdeskError as exc:
            show_error(exc)
            return
        st.session_state.pop(S + "unfinished", None)
        st.session_state[S + "aborted"] = done
        st.rerun()


# --- configuration review -----------------------------------------------------------------------


def config_section() -> None:
    slot = S + "review"
    origin = origin_of(st.context.url)
    if st.button("Run the checks again", key=slot + ":refresh", icon=":material/refresh:"):
        st.session_state.pop(slot, None)
    if slot not in st.session_state:
        try:
            st.session_state[slot] = (desk.audit_review(origin), datetime.now(UTC))
        except BucketdeskError as exc:
            show_error(exc)
            return
    findings, asked = st.session_state[slot]
    counts = summarise(findings)
    st.markdown(" · ".join(f"{STATUS_ICONS[status]} {counts[status]} {STATUS_WORDS[status]}" for status in Status))
    st.caption(
        f"Live calls reading the bucket's configuration at {when(asked)}; the CORS check judges this app's "
        f"origin as your browser reached it: {code_span(origin) if origin else '(unknown)'}."
    )
    for finding in findings:
        finding_card(finding)


def finding_card(finding: Finding) -> None:
    with st.container(border=True):
        st.markdown(
            f"{STATUS_ICONS[finding.status]} **{TITLES.get(finding.check, finding.check)}** "
            f"· {STATUS_WORDS[finding.status]}"
        )
        st.markdown(escape_markdown(finding.summary))
        st.caption(escape_markdown(finding.meaning))
        if finding.fix_command:
            st.code(finding.fix_command, language="bash", wrap_lines=True)
        if finding.alternative:
            st.code(finding.alternative, language=None, wrap_lines=True)


# --- who did what -------------------------------------------------------------------------------


def event_filter() -> EventFilter:
    cells = st.columns([2, 1.2, 2, 2, 1])
    who = cells[0].text_input("Who", key=S + "who", placeholder="alice@example.com")
    actions = sorted({kind.action for kind in Event.__subclasses__()})
    action = cells[1].selectbox("Action", ["(any)", *actions], key=S + "action")
    key = cells[2].text_input("Key or prefix", key=S + "key", placeholder="design/")
    today = datetime.now(UTC).date()
    span = cells[3].date_input("Between (UTC)", (today - timedelta(days=30), today), key=S + "span")
    outcome = cells[4].selectbox("Outcome", ["(any)", OK, REFUSED, FAILED], key=S + "outcome")
    since, until = day_range(span)
    return EventFilter(
        who=who.strip() or None,
        action=None if action == "(any)" else action,
        bucket=ctx.profile.bucket,
        key_prefix=key or None,
        since=since,
        until=until,
        outcome=None if outcome == "(any)" else outcome,
    )


def day_range(span) -> tuple[float | None, float | None]:
    """A date_input range as [start of the first day, start of the day after the last) in UTC."""
    days = list(span) if isinstance(span, list | tuple) else [span]
    days = [day for day in days if isinstance(day, date)]
    if not days:
        return None, None
    first, last = days[0], days[-1]
    start = datetime.combine(first, clock.min, UTC).timestamp()
    end = datetime.combine(last + timedelta(days=1), clock.min, UTC).timestamp()
    return start, end


def events_section() -> None:
    where = event_filter()
    cursors_slot = S + "cursors"
    if st.session_state.get(S + "filter") != where:  # new filters: back to the newest page
        st.session_state[S + "filter"] = where
        st.session_state[cursors_slot] = [None]
    cursors = st.session_state[cursors_slot]
    page, matching = desk.audit_events(where, before=cursors[-1], limit=EVENTS_PER_PAGE)
    rows = [events_export.event_row(event) for event in page.events]
    st.dataframe(
        pd.DataFrame(rows, columns=list(events_export.COLUMNS)).assign(
            details=lambda frame: frame["details"].map(lambda d: ", ".join(f"{k}={v}" for k, v in d.items()))
        ),
        hide_index=True,
        key=S + "events",
    )
    first = (len(cursors) - 1) * EVENTS_PER_PAGE + 1
    st.caption(
        f"{matching:,} events match; showing {first:,}–{first + len(rows) - 1:,}, newest first. "
        f"From the audit store at {when(datetime.now(UTC))}."
    )
    cells = st.columns(4)
    if cells[0].button("Newer", key=S + "newer", disabled=len(cursors) == 1, icon=":material/arrow_back:"):
        cursors.pop()
        st.rerun()
    if cells[1].button("Older", key=S + "older", disabled=page.next_before is None, icon=":material/arrow_forward:"):
        cursors.append(page.next_before)
        st.rerun()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for cell, fmt, label in ((cells[2], "csv", "Download CSV"), (cells[3], "jsonl", "Download JSON Lines")):
        cell.download_button(
            label,
            data=lambda fmt=fmt: desk.export_events(where, fmt).file,  # made when clicked, not on every run
            file_name=f"bucketdesk-events-{ctx.profile.bucket}-{stamp}.{fmt}",
            mime=events_export.MIME_TYPES[fmt],
            key=S + "download:" + fmt,
            on_click="ignore",
            icon=":material/download:",
        )
    if matching > events_export.DEFAULT_MAX_ROWS:
        st.warning(
            f"A download holds the newest {events_export.DEFAULT_MAX_ROWS:,} of these {matching:,} events "
            f"(at most {human_bytes(events_export.DEFAULT_MAX_BYTES)}); narrow the time range for the rest.",
            icon=":material/info:",
        )


# --- the page -----------------------------------------------------------------------------------

st.title("Audit")
if not desk.can(Action.AUDIT):  # navigation hides this page; a deep link still lands here
    show_error(desk.page_refusal("audit"), "Ask an admin to give you the admin role for this bucket.")
    st.stop()
st.caption(f"Bucket **{escape_markdown(ctx.profile.display_name)}**. Every number says where it came from.")
aborted = st.session_state.pop(S + "aborted", None)
if aborted is not None:
    st.success(
        f"Aborted the upload of {escape_markdown(aborted.key)}: {aborted.parts} parts "
        f"({human_bytes(aborted.bytes_freed)}) deleted."
        if not aborted.already_gone
        else f"The upload of {escape_markdown(aborted.key)} had already finished or been aborted.",
        icon=":material/check:",
    )

# The tabs track which one is open, so only that section runs: a rerun makes the live calls and
# queries of the section a person is looking at, not of all four.
SECTIONS = {
    "Usage": lambda: usage_section(desk.audit_snapshots()),
    "Hidden storage": lambda: hidden_section(desk.audit_snapshots()),
    "Configuration review": config_section,
    "Who did what": events_section,
}
for tab, section in zip(st.tabs(list(SECTIONS), key=S + "tab", on_change="rerun"), SECTIONS.values(), strict=True):
    if tab.open:
        with tab:
            try:
                section()
            except BucketdeskError as problem:  # one section's failure leaves the page standing
                show_error(problem)
