"""Browse: folders and objects of the bucket, a page at a time, with thumbnails, details and share links.

Thin on purpose: every read goes through the person's desk (lib.desk), which checks the access
rules before lib.browse.listing reads a page, lib.browse.details reads one object,
lib.browse.thumbnails makes thumbnails and lib.browse.sharing signs links, and records what was
done. lib.browse.filters narrows the page. This page lays out widgets and keeps where the reader is
in one lib.browse.state.BrowseState per bucket. A scoped person's top level is their own folders.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st

from lib.access import WHOLE_BUCKET, Action
from lib.browse import filters, listing, thumbnails
from lib.browse.details import ObjectDetails, object_details, text_preview, versions_frame
from lib.browse.search import SearchResult
from lib.browse.sharing import UNITS, describe, expiry_seconds
from lib.browse.state import BrowseState
from lib.components import copybutton
from lib.context import AppContext
from lib.desk import Fetchers
from lib.errors import BucketdeskError, PermissionDenied
from lib.inventory.query import MODES, ObjectQuery
from lib.names import code_span, escape_markdown
from lib.units import human_bytes
from pages import app_context, build_status, show_error, start_build

ctx: AppContext = app_context("browse")
profile = ctx.profile
S = f"browse:{profile.name}:"  # session-state keys of this bucket's browser
LISTING_TTL = 20  # seconds a page is reused: back and forth costs nothing, new uploads show up soon
THUMB_BUDGET = 3.0  # seconds a rerun waits for new thumbnails; the rest follow in the background
VIEWS = {"table": ":material/table_rows: Table", "gallery": ":material/grid_view: Gallery"}


# --- cached reads (behind the desk: it checks who may read before it asks these) ---------------------


@st.cache_data(ttl=LISTING_TTL, show_spinner=False, max_entries=1000)
def cached_page(
    profile_name, bucket, prefix, search, page_size, flat, start_after, token, refresh, _gateway
) -> listing.ListingPage:
    query = listing.ListingQuery(prefix=prefix, search=search, page_size=page_size, flat=flat, start_after=start_after)
    return listing.list_page(_gateway, query, token)


@st.cache_data(ttl=15, show_spinner=False, max_entries=200)
def cached_details(profile_name, bucket, key, refresh, _gateway):
    return object_details(_gateway, key)


@st.cache_data(ttl=60, show_spinner=False, max_entries=50)
def cached_text(profile_name, bucket, key, etag, size, kind, _gateway):
    return text_preview(_gateway, key, size, kind)


def fetchers() -> Fetchers:
    """The desk's reads, through this page's caches (keyed by bucket, and by Refresh where it matters)."""
    return Fetchers(
        list_page=lambda gateway, q, token: cached_page(
            profile.name,
            profile.bucket,
            q.prefix,
            q.search,
            q.page_size,
            q.flat,
            q.start_after,
            token,
            nav().refresh,
            gateway,
        ),
        details=lambda gateway, key: cached_details(profile.name, profile.bucket, key, nav().refresh, gateway),
        text=lambda gateway, key, size, kind, etag: cached_text(
            profile.name, profile.bucket, key, etag, size, kind, gateway
        ),
    )


desk = replace(ctx.desk, fetch=fetchers())


@st.cache_resource
def copy_button():
    return st.components.v2.component(copybutton.NAME, html=copybutton.HTML, css=copybutton.css(), js=copybutton.js())


# --- state and navigation -----------------------------------------------------------------------
# Widgets keep their values under their own keys (S + name); everything else is one BrowseState.


def nav() -> BrowseState:
    return st.session_state[S + "state"]


def go(prefix: str) -> None:
    """Open a folder: clear the search, the selection and the page stack."""
    nav().open_folder(prefix)
    st.session_state[S + "search"] = ""


def select(key: str | None) -> None:
    nav().select(key)


def turn(direction: str, next_token: str | None = None) -> None:
    nav().turn(direction, next_token)


def jump() -> None:
    nav().jump(st.session_state.get(S + "jump_to", ""))


def clear_jump() -> None:
    nav().start_after = ""


def page_buttons(kind: str, *, back: bool, on: bool, turn, previous_args: tuple, next_args: tuple, label: str) -> None:
    """First / Previous / "Page n · …" / Next, for a folder's pages and for search results alike."""
    st.button(
        "First", icon=":material/first_page:", key=S + kind + "first", disabled=not back, on_click=turn, args=("first",)
    )
    st.button(
        "Previous",
        icon=":material/chevron_left:",
        key=S + kind + "prev",
        disabled=not back,
        on_click=turn,
        args=previous_args,
    )
    st.markdown(label, width="content")
    st.button(
        "Next",
        icon=":material/chevron_right:",
        icon_position="right",
        key=S + kind + "next",
        disabled=not on,
        on_click=turn,
        args=next_args,
    )


def refresh() -> None:
    nav().refresh += 1


def pick_bucket() -> None:
    st.session_state["profile"] = st.session_state[S + "bucket"]  # the sidebar's picker follows


def reset_filters() -> None:
    for name in ("f_name", "f_kinds", "f_size", "f_dates", "f_sort", "f_desc"):
        st.session_state.pop(S + name, None)


def widget(name: str, default=None):
    return st.session_state.setdefault(S + name, default)


top_folders = desk.top_folders()
# Where this person starts: their one folder, or the top (which lists only their folders when scoped).
START = top_folders[0] if len(top_folders) == 1 else ""

if S + "state" not in st.session_state:
    # A link like /browse?prefix=photos/2026/ opens that folder (the desk refuses one outside this
    # person's folders); after switching buckets the URL still names the old bucket's folder, so the
    # new bucket opens at the start.
    arrived = "browse:bucket" not in st.session_state and st.query_params.get("prefix")
    st.session_state[S + "state"] = BrowseState(
        prefix=listing.as_folder(st.query_params.get("prefix", "")) if arrived else START
    )
st.session_state["browse:bucket"] = profile.name
here = nav()
# Act on the row picked in the table the last run drew, before any widget exists: opening a
# folder resets widgets (the search box).
if st.session_state.get(S + "view") == "table" and here.follow_table_pick(st.session_state.get(here.table_key)):
    st.session_state[S + "search"] = ""
prefix: str = here.prefix
if prefix:
    st.query_params["prefix"] = prefix
else:
    st.query_params.pop("prefix", None)


# --- header: bucket, breadcrumb, search, view -----------------------------------------------------

names = list(ctx.profile_names or [profile.name])
head_left, head_right = st.columns([3, 2], vertical_alignment="bottom")
with head_left:
    st.title("Browse", anchor=False)
    if len(names) > 1:
        st.session_state[S + "bucket"] = profile.name  # follow the sidebar when it changed there
        st.selectbox(
            "Bucket",
            names,
            key=S + "bucket",
            format_func=lambda n: ctx.settings.profiles[n].display_name,
            on_change=pick_bucket,
            width=360,
        )
with head_right:
    everywhere = st.toggle(
        "Search everywhere",
        key=S + "everywhere",
        help="Search every folder by any part of a name. Answers come from the bucket's index "
        "(a snapshot of its listing), with what was uploaded or deleted here since laid over it.",
    )
    st.text_input(
        "Search everywhere" if everywhere else "Search this folder",
        key=S + "search",
        type="search",
        live="300ms",
        placeholder="Any part of a name, in every folder…" if everywhere else "Names starting with…",
        icon=":material/search:",
        label_visibility="collapsed",
        help="Searches the bucket's index: every folder, any part of a name (or a glob or regular expression)."
        if everywhere
        else "S3 searches by how names start, across the whole folder (not just this page). "
        "Use Filters for 'contains' within the page.",
    )
    if everywhere:  # beside the box, so it can be chosen before anything is typed
        widget("mode", MODES[0])
        st.segmented_control(
            "Match",
            list(MODES),
            key=S + "mode",
            required=True,
            label_visibility="collapsed",
            format_func={"substring": "Part of a name", "glob": "Glob", "regex": "Regular expression"}.get,
            help="Part of a name: case-insensitive, literal. Glob: `*.png`, `photos/**/logo*`. "
            "Regular expression: RE2 syntax.",
        )

bar = st.container(border=True, gap="small")
with bar, st.container(horizontal=True, vertical_alignment="center", gap="xxsmall"):
    crumbs = listing.breadcrumbs(prefix)
    st.markdown(f":material/database: **{escape_markdown(profile.bucket)}**", width="content")
    st.markdown(":gray[:material/chevron_right:]", width="content")
    for depth, (label, target) in enumerate(crumbs):
        text = escape_markdown(label) if label else "Top"
        if depth == len(crumbs) - 1:
            st.markdown(f"**{text}**", width="content")
        else:
            st.button(text, type="tertiary", key=S + f"crumb{depth}", on_click=go, args=(target,))
            st.markdown(":gray[/]", width="content")
    st.space("stretch")
    if prefix:
        st.button(
            "Up",
            icon=":material/arrow_upward:",
            key=S + "up",
            on_click=go,
            args=(listing.parent(prefix),),
            type="tertiary",
        )
    st.button("Refresh", icon=":material/refresh:", key=S + "refresh_btn", on_click=refresh, type="tertiary")

toolbar = bar.container(horizontal=True, vertical_alignment="center", gap="small")

# --- the page of the listing ----------------------------------------------------------------------


def search_everywhere(text: str, page_size: int) -> SearchResult:
    """The index's status line and one page of results; stops the page when there is nothing to show."""
    may_build = desk.can(Action.INDEX, WHOLE_BUCKET)
    building = build_status(desk, "the index", S)
    try:
        info = desk.index_info()
    except BucketdeskError as exc:
        show_error(exc)
        st.stop()
    if info is None:
        if not building:
            st.info(
                "There is no index of this bucket yet, so it cannot be searched everywhere. "
                + (
                    "Build one: it lists the whole bucket once."
                    if may_build
                    else "Ask an analyst or an admin to build one."
                ),
                icon=":material/manage_search:",
            )
            if may_build:
                st.button(
                    "Build the index",
                    icon=":material/manage_search:",
                    type="primary",
                    on_click=start_build,
                    args=(desk,),
                )
        st.stop()
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.caption(f":material/manage_search: {escape_markdown(info.describe())}")
        if may_build and not building:
            st.button(
                "Update index", icon=":material/refresh:", key=S + "update_index", on_click=start_build, args=(desk,)
            )
    if not text.strip():
        st.info("Type any part of a name to search every folder.", icon=":material/search:")
        st.stop()
    mode = widget("mode", MODES[0]) or MODES[0]
    here.search_for((text, mode, page_size))  # a new search starts at its first page
    try:
        result = desk.search_everywhere(ObjectQuery(text=text, mode=mode), page_size, here.search_offset)
    except BucketdeskError as exc:  # a bad pattern (BadQuery) gets its sentence, the rest too
        show_error(exc)
        st.stop()
    if result is None:  # the index went between two reads (pruned by hand): say so, never a traceback
        st.info("The index is gone since a moment ago. Refresh the page to see what is there now.")
        st.stop()
    return result


page_size = widget("page_size", listing.PAGE_SIZES[0]) or listing.PAGE_SIZES[0]
result: SearchResult | None = None
if everywhere:
    result = search_everywhere(widget("search", ""), page_size)
    frame = result.frame
    view_id: tuple = (result.query, result.offset)
else:
    query = listing.ListingQuery(
        prefix=prefix,
        search=widget("search", ""),
        page_size=page_size,
        flat=bool(widget("flat", False)),
        start_after=here.start_after,
    )
    pager = here.pager = here.pager.for_query(query)
    try:
        page = desk.list_folder(query, pager.token)
    except PermissionDenied as exc:
        show_error(exc)
        st.button("Go to your folders", icon=":material/folder_shared:", on_click=go, args=(START,), type="primary")
        st.stop()
    except BucketdeskError as exc:
        show_error(exc)
        st.stop()
    frame = page.frame
    view_id = (query, pager.page_number)

images = int((frame["kind"] == "image").sum())
if S + "view" not in st.session_state:  # first visit: image-heavy folders open as a gallery
    objects = int((~frame["is_folder"]).sum())
    st.session_state[S + "view"] = "gallery" if images and images >= 0.6 * max(1, objects) else "table"

with toolbar:
    st.segmented_control(
        "View", list(VIEWS), key=S + "view", format_func=VIEWS.get, required=True, label_visibility="collapsed"
    )
    st.segmented_control(
        "Per page",
        listing.PAGE_SIZES,
        key=S + "page_size",
        required=True,
        label_visibility="collapsed",
        format_func=lambda n: f"{n} per page" if n == listing.PAGE_SIZES[0] else str(n),
    )
    if not everywhere:
        st.toggle(
            "All keys below",
            key=S + "flat",
            help="Every key under this folder, without folders (like `aws s3 ls --recursive`).",
        )
    filters_popover = st.popover("Filters", icon=":material/filter_list:")
    st.space("stretch")

with filters_popover:
    st.text_input("Name contains", key=S + "f_name", live="250ms", placeholder="e.g. invoice")
    st.multiselect(
        "Type", list(filters.KINDS), key=S + "f_kinds", format_func=filters.KINDS.get, placeholder="Any type"
    )
    st.select_slider("Size", list(filters.SIZE_STEPS), value=filters.ANY_SIZE, key=S + "f_size")
    st.date_input("Modified between", value=(), key=S + "f_dates", format="YYYY-MM-DD")
    sort_col, desc_col = st.columns([3, 2], vertical_alignment="bottom")
    sort_col.selectbox("Sort by", list(filters.SORTS), key=S + "f_sort", format_func=filters.SORTS.get)
    desc_col.toggle("Descending", key=S + "f_desc")
    st.button("Reset filters", icon=":material/filter_list_off:", on_click=reset_filters, type="tertiary")
    st.caption("Filters and sorting apply to the rows of this page; search and paging ask the bucket.")

spec = filters.page_filter(
    name=widget("f_name", ""),
    kinds=widget("f_kinds", []),
    size=widget("f_size", filters.ANY_SIZE),
    dates=widget("f_dates", ()),
    sort_by=widget("f_sort", "name"),
    descending=widget("f_desc", False),
)
shown = filters.apply_filter(frame, spec)

# --- empty and missing ----------------------------------------------------------------------------

if result is not None and result.empty:
    st.info(
        f"Nothing in the index matches “{escape_markdown(result.query.text)}”"
        + (" on this page." if result.offset else "."),
        icon=":material/search_off:",
    )
    if result.offset:
        st.button("Back to the first page", icon=":material/first_page:", on_click=nav().search_page, args=("first",))
    st.stop()
if result is None and page.empty and pager.page_number == 1:
    if query.search:
        st.info(f"No names in this folder start with “{escape_markdown(query.search)}”.", icon=":material/search_off:")
    elif query.start_after:
        st.info(
            f"Nothing in this folder comes after “{escape_markdown(query.start_after)}”.", icon=":material/last_page:"
        )
        st.button(
            "Back to the first page",
            icon=":material/first_page:",
            on_click=clear_jump,
        )
    elif prefix:
        st.info(
            f"Nothing is stored under {code_span(prefix)}. S3 has no empty folders: a folder exists "
            "while some key starts with it.",
            icon=":material/folder_off:",
        )
        st.button("Go up", icon=":material/arrow_upward:", on_click=go, args=(listing.parent(prefix),))
    else:
        st.info(f"The bucket **{escape_markdown(profile.bucket)}** is empty.", icon=":material/inbox:")
        if "upload" in desk.pages():
            st.page_link("pages/upload.py", label="Upload files", icon=":material/upload:")
    st.stop()

# --- rows: thumbnails and links for the rows on this page only --------------------------------------

thumb_rows = [
    (row.key, row.etag, int(row.size))
    for row in shown.itertuples()
    if row.kind == "image" and thumbnails.can_thumbnail(row.content_type)
]
where = "" if everywhere else prefix  # what the page shows: a folder, or results from every folder
thumbs, making = desk.thumbnails(thumb_rows, where, budget_seconds=THUMB_BUDGET)
links = desk.row_links([(row.key, row.content_type) for row in shown.itertuples() if not row.is_folder], folder=where)


def picture(row) -> str:
    """The row's thumbnail, its type icon while the thumbnail is being made, or its type icon."""
    return thumbs.get(row.key) or thumbnails.kind_icon_url(row.kind)


selected = here.selected
if selected is not None and selected not in set(frame["key"]):
    selected = None  # it belongs to another page or folder
main, side = st.columns([3, 2], gap="medium") if selected else (st.container(), None)

with main:
    if spec.active:
        st.caption(f":material/filter_alt: {len(shown)} of {len(frame)} rows on this page match the filters.")
    if st.session_state[S + "view"] == "table":
        table = shown.assign(
            thumbnail=[picture(row) for row in shown.itertuples()],
            link=[links.get(row.key) for row in shown.itertuples()],
            type=["Folder" if row.is_folder else row.content_type for row in shown.itertuples()],
        )
        table_key = S + "table:" + hashlib.sha1(repr((view_id, spec, here.nonce)).encode()).hexdigest()[:12]
        here.table_key = table_key
        here.rows = list(zip(shown["key"], shown["is_folder"], strict=True))
        st.dataframe(
            table,
            key=table_key,
            on_select="rerun",
            selection_mode=["single-row", "single-cell"],
            hide_index=True,
            placeholder="",
            height=min(38 + 36 * max(1, len(table)), 720),
            row_height=36,
            # Beside the details panel the table is narrower: type and storage class are in the panel.
            column_order=["thumbnail", "name", "size", "modified", "link"]
            if selected
            else ["thumbnail", "name", "size", "modified", "type", "storage_class", "link"],
            column_config={
                "thumbnail": st.column_config.ImageColumn("", width=44),
                "name": st.column_config.TextColumn("Name", width="large"),
                "size": st.column_config.NumberColumn("Size", format="bytes", width="small"),
                "modified": st.column_config.DatetimeColumn("Modified (UTC)", format="YYYY-MM-DD HH:mm"),
                "type": st.column_config.TextColumn("Type"),
                "storage_class": st.column_config.TextColumn("Storage class", width="small"),
                "link": st.column_config.LinkColumn(
                    "Link", display_text="Open", width="small", help="Signed link, valid for an hour"
                ),
            },
        )
    else:
        with st.grid("auto", min_column_width=150, gap="small"):
            for row in shown.itertuples():
                with st.container(border=True, gap="xxsmall"):
                    st.image(picture(row), width="stretch")
                    label = escape_markdown(row.name.rstrip("/") or row.name)
                    if row.is_folder:
                        st.button(
                            label,
                            icon=":material/folder:",
                            key=S + f"g:{row.key}",
                            type="tertiary",
                            on_click=go,
                            args=(row.key,),
                        )
                    else:
                        st.button(label, key=S + f"g:{row.key}", type="tertiary", on_click=select, args=(row.key,))
                        st.caption(human_bytes(int(row.size)))

    if making:

        @st.fragment(run_every="2s")
        def thumbnails_in_progress():
            _, waiting = desk.thumbnails(thumb_rows, where, budget_seconds=0)
            if waiting == 0:
                st.rerun(scope="app")
            st.caption(f":material/hourglass_top: Making {waiting} thumbnails…")

        thumbnails_in_progress()

    if result is not None:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            page_buttons(
                "s_",
                back=bool(result.offset),
                on=bool(result.has_more),
                turn=nav().search_page,
                previous_args=("previous", result.page_size),
                next_args=("next", result.page_size),
                label=f"Page **{result.page_number}** · {result.objects:,} matches",
            )
        st.caption(
            f"Searched in {result.seconds * 1000:.0f} ms"
            + (" · more matches follow" if result.has_more else " · last page")
            + (
                f" · {result.overlaid} upload{'s' if result.overlaid != 1 else ''} and deletes since the index taken into account"
                if result.overlaid
                else ""
            )
        )
    else:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            count = ", ".join(
                f"{n:,} {word}{'' if n == 1 else 's'}"
                for n, word in ((page.folders, "folder"), (page.objects, "object"))
                if n or word == "object"
            )
            page_buttons(
                "",
                back=pager.has_previous,
                on=page.has_next,
                turn=turn,
                previous_args=("previous",),
                next_args=("next", page.next_token),
                label=f"Page **{pager.page_number}** · {count}",
            )
            st.space("stretch")
            with st.popover("Start after…", icon=":material/low_priority:"):
                st.text_input(
                    "Start after name",
                    key=S + "jump_to",
                    placeholder="e.g. 2026-03",
                    help="The listing begins just after this name (S3's StartAfter): one request however deep.",
                )
                st.button("Go", key=S + "jump_go", on_click=jump, type="primary")
            if query.start_after:
                st.button(
                    f"Clear “{escape_markdown(query.start_after[:30])}”",
                    icon=":material/close:",
                    key=S + "jump_clear",
                    type="tertiary",
                    on_click=clear_jump,
                )
        st.caption(
            f"Listed in {page.seconds * 1000:.0f} ms"
            + (" · more pages follow" if page.has_next else " · last page")
            + (" · bucketdesk's own `.bucketdesk/` folder is hidden" if page.hidden and not prefix else "")
        )


# --- details of the selected object ---------------------------------------------------------------


def ask_delete(key: str) -> None:
    nav().deleting = key


def stop_deleting() -> None:
    nav().deleting = None


# Drawn on every run while a delete is asked for, so its buttons work however the rerun happens.
@st.dialog("Delete this object?", icon=":material/delete:", on_dismiss=stop_deleting)
def confirm_delete(key: str, etag: str, versioning: str) -> None:
    st.markdown(f"{code_span(key)} will be deleted from **{escape_markdown(profile.bucket)}**.")
    if versioning == "Enabled":
        st.caption("Versioning is on: S3 adds a delete marker and keeps the older versions.")
    else:
        st.warning("This cannot be undone.", icon=":material/warning:")
    yes, no = st.columns(2)
    if yes.button("Delete", type="primary", icon=":material/delete:", width="stretch"):
        try:
            desk.delete(key, etag=etag)  # forgets its row link and thumbnail too
        except BucketdeskError as exc:  # DeleteNotAllowed and PermissionDenied included
            show_error(exc)
            return
        stop_deleting()
        cached_page.clear()
        cached_details.clear()
        select(None)
        st.toast(f"Deleted {escape_markdown(key)}", icon=":material/delete:")
        st.rerun()
    if no.button("Cancel", width="stretch"):
        stop_deleting()
        st.rerun()


def details_header(key: str, info: ObjectDetails | None) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.subheader(escape_markdown(info.name if info else key.rsplit("/", 1)[-1]), anchor=False)
        st.space("stretch")
        st.button("Close", icon=":material/close:", key=S + "close", type="tertiary", on_click=select, args=(None,))


def media_preview(key: str, info: ObjectDetails, kind: str) -> None:
    """Images, audio, video and PDF through a signed link lib.browse.sharing decides (inline only when safe)."""
    if kind == "pdf":  # uploads are stored as attachments; the frame asks for inline
        st.iframe(desk.preview_link(key, info.content_type, info.name, inline=True), height=520)
        return
    url = desk.preview_link(key, info.content_type, info.name)
    if kind == "image":
        st.image(url, width="stretch")
    elif kind == "audio":
        st.audio(url, format=info.content_type)
    else:
        st.video(url, format=info.content_type)


def text_panel(key: str, info: ObjectDetails, kind: str) -> None:
    """The first 64 KB as source text, a JSON tree or a table; never rendered as Markdown or HTML."""
    try:
        text = desk.preview_text(key, info.size, kind, info.etag)
    except BucketdeskError as exc:
        show_error(exc)
        return
    if text.kind == "json" and text.parsed is not None:
        st.json(text.parsed, expanded=2)
    elif text.kind == "csv" and text.parsed is not None:
        st.dataframe(text.parsed, height=280, hide_index=True)
    else:
        short = text.text.count("\n") < 12 and len(text.text) < 1200
        st.code(text.text, language=None, height="content" if short else 320, wrap_lines=True)
    notes = [text.problem] if text.problem else []
    if text.truncated:
        notes.append(f"Showing the first 64 KB of {human_bytes(info.size)}.")
    if notes:
        st.caption(escape_markdown(" ".join(notes)))


def preview(key: str, info: ObjectDetails) -> None:
    kind = info.preview
    if kind in {"image", "audio", "video", "pdf"}:
        media_preview(key, info, kind)
    elif kind in {"text", "json", "csv"} and info.size:
        text_panel(key, info, kind)
    else:
        st.caption(f":material/visibility_off: No preview for {escape_markdown(info.content_type)}.")


def make_share_link(key: str, info: ObjectDetails, mode: str) -> None:
    try:
        seconds = expiry_seconds(st.session_state[S + "expiry_amount"], st.session_state[S + "expiry_unit"])
        made = desk.share_link(
            key, seconds, download=mode == "download", name=info.name, content_type=info.content_type
        )
    except BucketdeskError as exc:
        nav().link = None
        show_error(exc)
        return
    nav().link = (key, made)


def share_tab(key: str, info: ObjectDetails) -> None:
    amount_col, unit_col = st.columns(2)
    amount_col.number_input("Valid for", min_value=1, max_value=10_000, value=1, step=1, key=S + "expiry_amount")
    unit_col.selectbox("Unit", list(UNITS), index=2, key=S + "expiry_unit")
    mode = st.segmented_control(
        "Opens",
        ["inline", "download"],
        default="inline",
        required=True,
        key=S + "disposition",
        format_func=lambda m: (
            ":material/visibility: In the browser"
            if m == "inline"
            else f":material/download: As “{escape_markdown(info.name)}”"
        ),
    )
    if st.button("Create link", icon=":material/link:", type="primary", key=S + "make_link"):
        make_share_link(key, info, mode or "inline")
    made_for = nav().link
    if made_for and made_for[0] == key:
        made = made_for[1]
        st.code(made.url, language=None, wrap_lines=True)
        with st.container(horizontal=True, vertical_alignment="center"):
            copy_button()(key=S + "copy", data=copybutton.data(made.url))
            st.link_button("Open", made.url, icon=":material/open_in_new:")
        left = made.expires_at - datetime.now(UTC)
        st.caption(
            f"Valid for {describe(made.seconds)}, until {made.expires_at:%Y-%m-%d %H:%M} UTC"
            + (f" (about {describe(int(left.total_seconds()))} left)" if left.total_seconds() > 60 else "")
            + ". Anyone with the link can read the object until then; links signed with temporary "
            "credentials (a role, SSO) stop working when those credentials expire."
        )
        if made.note:
            st.caption(f":material/shield: {escape_markdown(made.note)}")
    st.caption("S3 signs links for 5 minutes up to 7 days.")


def about_tab(info: ObjectDetails) -> None:
    facts = {
        "Uploaded by": info.uploader or "—",
        "Original name": info.original_name or "—",
        **info.headers,
        "Size (bytes)": f"{info.size:,} ({human_bytes(info.size)})",
    }
    st.dataframe(
        {"": list(facts), "value": [str(v) for v in facts.values()]},
        hide_index=True,
        column_config={
            "": st.column_config.TextColumn("Field"),
            "value": st.column_config.TextColumn("Value", width="large"),
        },
    )
    if info.metadata:
        st.markdown("**User metadata** (`x-amz-meta-*`)")
        st.dataframe({"name": list(info.metadata), "value": list(info.metadata.values())}, hide_index=True)


def tags_tab(info: ObjectDetails) -> None:
    if info.tags_error:
        st.caption(f":material/lock: Tags could not be read: {escape_markdown(info.tags_error)}")
    elif info.tags:
        st.dataframe({"tag": list(info.tags), "value": list(info.tags.values())}, hide_index=True)
    else:
        st.caption("No tags.")


def versions_tab(info: ObjectDetails) -> None:
    if info.versions_error:
        st.caption(f":material/lock: Versions could not be read: {escape_markdown(info.versions_error)}")
    elif not info.versioning:
        st.caption("Versioning is off for this bucket: each key holds one version.")
    else:
        st.caption(f"Versioning: **{escape_markdown(info.versioning)}**.")
        st.dataframe(
            versions_frame(info),
            hide_index=True,
            column_config={
                "size": st.column_config.NumberColumn("Size", format="bytes"),
                "modified": st.column_config.DatetimeColumn("Modified (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            },
        )
        if info.versions_more:
            st.caption("Showing the newest 100 versions.")


def details_panel(key: str) -> None:
    try:
        info = desk.details(key)
    except BucketdeskError as exc:
        show_error(exc)
        return
    details_header(key, info)
    if info is None:
        st.warning("This object is gone (deleted or moved since the page was listed).", icon=":material/help:")
        return
    st.code(key, language=None, wrap_lines=True)
    preview(key, info)
    share, about, tags, versions = st.tabs(
        [":material/share: Share", ":material/info: Details", ":material/sell: Tags", ":material/history: Versions"]
    )
    with share:
        share_tab(key, info)
    with about:
        about_tab(info)
    with tags:
        tags_tab(info)
    with versions:
        versions_tab(info)
    if profile.allow_delete and desk.can(Action.DELETE, key):
        st.divider()
        st.button("Delete…", icon=":material/delete:", key=S + "delete", on_click=ask_delete, args=(key,))
        if here.deleting == key:
            confirm_delete(key, info.etag, info.versioning)


if side is not None and selected is not None:
    with side, st.container(border=True):
        details_panel(selected)
