"""The action layer: one `Desk` per person and bucket, through which every action goes.

Each method follows one pattern, so a reader can check any of them at a glance:

    self._require(Action.X, key_or_prefix, EventKind)   # role and prefix, before S3 is touched
    ...act...                                           # S3 failures are recorded, then raised
    self._record(EventKind(...))                        # a typed event, whatever the outcome

A refusal raises `PermissionDenied` with a sentence and is recorded as `refused`. Pages call the
desk for everything that reads the bucket's content or changes anything; they never reach the
gateway, the event store or the upload session's S3 calls themselves. New actions (search, audit,
export) are methods that follow the same three steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from lib.access import PAGE_ACTIONS, WHOLE_BUCKET, Access, Action, Person, is_parent_of
from lib.audit import events_export, hidden
from lib.audit.config_review import Finding, run_review
from lib.browse import details as object_info
from lib.browse import listing
from lib.browse.search import IndexInfo, SearchIndex, SearchResult, recent_writes
from lib.browse.sharing import RowLinks, ShareLink, share_link, signed_link
from lib.browse.thumbnails import ThumbnailStore, store_for
from lib.components.uploader import PartsRequest, SignRequest, UploadReport
from lib.config import BucketProfile, Settings
from lib.errors import BucketdeskError, BuildCancelled, PermissionDenied
from lib.events import (
    FAILED,
    MAX_PAGE,
    OK,
    REFUSED,
    AbortUnfinished,
    AuditView,
    BuildIndex,
    CancelUpload,
    Delete,
    Event,
    EventFilter,
    EventPage,
    EventStore,
    Export,
    ListFolder,
    Preview,
    Search,
    Share,
    SignLinks,
    SignParts,
    SignUpload,
    StoredEvent,
    Upload,
    ViewDetails,
)
from lib.export import request as exports
from lib.identity import Identity
from lib.inventory import jobs
from lib.inventory.jobs import BuildJob
from lib.inventory.query import ObjectQuery, RecentWrite
from lib.inventory.store import Snapshot, SnapshotStore
from lib.limits import VIEW_LINK_SECONDS
from lib.names import display_name, render_key
from lib.s3 import S3Gateway
from lib.upload.grants import Grant, Refusal
from lib.upload.multipart import MultipartGrant
from lib.upload.resume import OpenUploadStore
from lib.upload.session import Outcome, UploadSession

# A read repeated by a rerun (the same listing, the same details) is recorded once per this many seconds.
QUIET_REPEAT_SECONDS = 60.0
_ACTION_WORDS = {
    Action.BROWSE: "browse",
    Action.SEARCH: "search",
    Action.DETAILS: "see the details of",
    Action.PREVIEW: "preview",
    Action.LINK: "get links to",
    Action.SHARE: "share",
    Action.UPLOAD: "upload to",
    Action.EXPORT: "export",
    Action.INDEX: "index",
    Action.AUDIT: "audit",
    Action.DELETE: "delete",
    Action.ABORT_UNFINISHED: "abort unfinished uploads in",
}


class RepeatMemo:
    """Which reads were recorded lately, per session, so reruns do not flood the audit log."""

    def __init__(self) -> None:
        self._seen: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def fresh(self, event: Event, now: float) -> bool:
        slot = (event.action, event.key, tuple(sorted(event.details().items())))
        with self._lock:
            if now - self._seen.get(slot, float("-inf")) < QUIET_REPEAT_SECONDS:
                return False
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[slot] = now
            return True


@dataclass
class Fetchers:
    """How the desk reads the bucket once an action is allowed; pages may pass cached versions.

    A cache must sit *behind* the desk (here), never in front of it: a cached answer handed out
    before the check would reach people the rules keep out."""

    list_page: Callable[[S3Gateway, listing.ListingQuery, str | None], listing.ListingPage] = listing.list_page
    details: Callable[[S3Gateway, str], object_info.ObjectDetails | None] = object_info.object_details
    # (gateway, key, size, kind, etag): the ETag lets a cache tell an overwritten object from the old one.
    text: Callable[[S3Gateway, str, int, str, str], object_info.TextPreview] = lambda gateway, key, size, kind, etag: (
        object_info.text_preview(gateway, key, size, kind)
    )


@dataclass
class Desk:
    """Everything one person may do in one bucket, each action checked, done and recorded."""

    settings: Settings
    profile: BucketProfile
    gateway: S3Gateway
    identity: Identity
    access: Access
    events: EventStore
    fetch: Fetchers = field(default_factory=Fetchers)
    links: RowLinks | None = None  # the page's cached RowLinks, so a row's URL stays stable
    repeats: RepeatMemo = field(default_factory=RepeatMemo)

    @classmethod
    def open(
        cls,
        settings: Settings,
        profile: BucketProfile,
        gateway: S3Gateway,
        identity: Identity,
        events: EventStore,
        **options: Any,
    ) -> Desk:
        """The desk for `identity` in `profile`'s bucket: the local user without sign-in gets
        `local_roles` everywhere; a signed-in person gets what the access rules give them."""
        return cls(
            settings, profile, gateway, identity, access_for(settings, profile.name, identity), events, **options
        )

    @property
    def who(self) -> str:
        return self.identity.id

    @property
    def bucket(self) -> str:
        return self.profile.bucket

    # --- the three steps ---------------------------------------------------------------------

    def _require(self, action: Action, key: str, event_kind: type[Event], **details: Any) -> None:
        """Raise PermissionDenied (and record the refusal) unless `action` is allowed on `key`."""
        if self.access.allows(action, key):
            return
        sentence = self._refusal_sentence(action, key)
        self._record(
            event_kind(who=self.who, bucket=self.bucket, key=key, outcome=REFUSED, message=sentence, **details)
        )
        raise PermissionDenied(sentence)

    def _record(self, event: Event, *, quiet_repeats: bool = False) -> None:
        if quiet_repeats and event.outcome == OK and not self.repeats.fresh(event, time.time()):
            return
        self.events.record(event)

    def _refusal_sentence(self, action: Action, key: str) -> str:
        words = _ACTION_WORDS[action]
        allowed = self.access.prefixes(action)
        where = f"“{key}”" if key else "the top of the bucket"
        if not allowed:
            return f"You may not {words} anything in {self.profile.display_name}."
        scope = ", ".join(f"“{p}”" if p else "the whole bucket" for p in allowed)
        return f"You may not {words} {where}: in {self.profile.display_name} you may only {words} {scope}."

    # --- browse ----------------------------------------------------------------------------------

    def list_folder(self, query: listing.ListingQuery, token: str | None = None) -> listing.ListingPage:
        """One page of a folder. Inside an allowed prefix: S3's listing. Above allowed prefixes (e.g.
        the top for someone scoped to `design/`): only those prefixes, as folders, never S3's listing."""
        event = ListFolder(
            who=self.who,
            bucket=self.bucket,
            key=query.prefix,
            search=query.search or None,
            start_after=query.start_after or None,
            flat=query.flat,
        )
        if not self.access.allows(Action.BROWSE, query.prefix) and self.access.prefixes_below(
            query.prefix, Action.BROWSE
        ):
            self._record(event, quiet_repeats=True)
            return self._allowed_folders(query)
        for spelled in (query.prefix, query.s3_prefix, query.s3_start_after):
            if spelled is not None:
                self._require(Action.BROWSE, spelled, ListFolder, search=event.search, start_after=event.start_after)
        page = self._act(event, lambda: self.fetch.list_page(self.gateway, query, token))
        self._record(event, quiet_repeats=True)
        return page

    def _allowed_folders(self, query: listing.ListingQuery) -> listing.ListingPage:
        below = self.access.prefixes_below(query.prefix, Action.BROWSE)
        rows = [
            {"Prefix": prefix}
            for prefix in below
            if prefix[len(query.prefix) :].startswith(query.search)
            and (not query.start_after or prefix[len(query.prefix) :] > query.start_after)
        ]
        frame, hidden = listing.page_frame({"CommonPrefixes": rows}, query.prefix)
        return listing.ListingPage(query=query, token=None, frame=frame, next_token=None, hidden=hidden)

    def top_folders(self) -> tuple[str, ...]:
        """Where Browse opens: the prefixes this person may browse ("" is the whole bucket)."""
        return self.access.visible_prefixes()

    def pages(self) -> list[str]:
        """The pages this person may open in this bucket (lib.access.PAGE_ACTIONS decides)."""
        return self.access.pages()

    def page_refusal(self, page: str) -> str:
        """Why this person may not open `page` here: a sentence for the page to show."""
        if not self.access.admitted:
            return no_access_sentence(self.settings, self.profile, self.identity)
        action = PAGE_ACTIONS.get(page)
        words = action.value if action else "use this page"
        return f"You may not {words} in {self.profile.display_name}, so the {page.title()} page is not yours to use."

    def check_bucket(self) -> None:
        """Is the bucket there, and are the app's credentials let in? (StorageError if not.)"""
        if not self.access.admitted:
            raise PermissionDenied(no_access_sentence(self.settings, self.profile, self.identity))
        self.gateway.check_bucket()

    def can(self, action: Action, key: str | None = None) -> bool:
        """For showing or hiding a control; the action itself checks again."""
        return self.access.may(action) if key is None else self.access.allows(action, key)

    def details(self, key: str) -> object_info.ObjectDetails | None:
        self._require(Action.DETAILS, key, ViewDetails)
        event = ViewDetails(who=self.who, bucket=self.bucket, key=key)
        found = self._act(event, lambda: self.fetch.details(self.gateway, key))
        self._record(event, quiet_repeats=True)
        return found

    def preview_text(self, key: str, size: int, kind: str, etag: str = "") -> object_info.TextPreview:
        self._require(Action.PREVIEW, key, Preview, kind=kind)
        event = Preview(who=self.who, bucket=self.bucket, key=key, kind=kind)
        text = self._act(event, lambda: self.fetch.text(self.gateway, key, size, kind, etag))
        self._record(event, quiet_repeats=True)
        return text

    def preview_link(self, key: str, content_type: str | None, name: str = "", inline: bool | None = None) -> str:
        """A signed link for showing one object in the page (image, PDF, audio, video); inline only
        for lib.mime's allow-list (lib.browse.sharing decides)."""
        self._require(Action.PREVIEW, key, Preview, kind="link")
        event = Preview(who=self.who, bucket=self.bucket, key=key, kind="link")
        url = self._act(event, lambda: self._links().get(key, content_type, name, inline=inline))
        self._record(event, quiet_repeats=True)
        return url

    def row_links(self, rows: Iterable[tuple[str, str | None]], folder: str) -> dict[str, str]:
        """Signed links for the (key, content type) rows a page shows (folder: the listing they come from)."""
        rows = list(rows)
        for key, _ in rows:
            self._require(Action.LINK, key, SignLinks, count=len(rows))
        event = SignLinks(who=self.who, bucket=self.bucket, key=folder, count=len(rows))
        links = self._act(event, lambda: {key: self._links().get(key, content_type) for key, content_type in rows})
        if rows:
            self._record(event, quiet_repeats=True)
        return links

    def thumbnails(
        self, rows: list[tuple[str, str, int | None]], folder: str, budget_seconds: float = 3.0
    ) -> tuple[dict[str, str], int]:
        """Thumbnail URLs for (key, etag, size) rows, and how many are still being made."""
        for key, _, _ in rows:
            self._require(Action.PREVIEW, key, Preview, kind="thumbnail")
        if not rows:
            return {}, 0
        event = Preview(who=self.who, bucket=self.bucket, key=folder, kind="thumbnail")
        shown = self._act(event, lambda: self._thumbs().urls(rows, budget_seconds=budget_seconds))
        self._record(event, quiet_repeats=True)
        return shown

    def share_link(self, key: str, seconds: int, *, download: bool, name: str, content_type: str = "") -> ShareLink:
        self._require(Action.SHARE, key, Share, seconds=seconds, download=download)
        event = Share(who=self.who, bucket=self.bucket, key=key, seconds=seconds, download=download)
        made = self._act(
            event,
            lambda: share_link(self.gateway, key, seconds, download=download, name=name, content_type=content_type),
        )
        self._record(replace(event, download=made.download))
        return made

    def delete(self, key: str, etag: str = "") -> None:
        self._require(Action.DELETE, key, Delete, etag=etag or None)
        event = Delete(who=self.who, bucket=self.bucket, key=key, etag=etag or None)
        self._act(event, lambda: object_info.delete_object(self.gateway, key, etag=etag))
        if self.links is not None:
            self.links.forget(key)
        self._record(event)

    # --- upload ----------------------------------------------------------------------------------

    def upload_folders(self) -> tuple[str, ...]:
        """The destination folders this person may upload to; the first is the default."""
        return self.access.writable_prefixes()

    def key_template(self, folder: str | None = None) -> str:
        """Where uploads go: the chosen folder (default: the first writable one), then the profile's
        key template below it. Whether that is allowed is checked when signing."""
        folders = self.upload_folders()
        chosen = folder if folder is not None else (folders[0] if folders else "")
        return chosen + self.profile.upload_prefix

    def sign_uploads(self, session: UploadSession, requests: list[SignRequest], folder: str | None = None) -> None:
        """Grant or refuse each declared file: refused all at once without the uploader role or
        outside the folders this person may write to, before anything is signed."""
        template = self.key_template(folder)
        # Every placeholder renders as one safe segment, so a sample key stands for every key.
        sample = render_key(template, original_name="sample.bin", user=self.who, now=datetime.now(UTC))
        if not self.access.allows(Action.UPLOAD, sample):
            sentence = self._refusal_sentence(Action.UPLOAD, template.split("{", 1)[0])
            session.refuse(requests, sentence, "permission")
            for request in requests:
                self._record(self._sign_event(request, REFUSED, sentence, code="permission"))
            return
        # What each file held before (a grant recorded before an app restart included): answers kept are not re-recorded.
        before = {request.file.id: session.recall(self.who, request.file.id) for request in requests}
        try:
            session.sign(self.gateway, self.who, requests, template)
        except BucketdeskError as exc:
            for request in requests:
                self._record(self._sign_event(request, FAILED, exc.message))
            raise
        answered: set[str] = set()
        for request in requests:
            file_id = request.file.id
            answer = session.over_limit.get(file_id) or session.grants.get(file_id)
            if file_id in answered or answer is None or answer is before[file_id]:
                continue  # the same file twice in one event, or answered earlier: recorded then
            answered.add(file_id)
            self._record_answer(session, request, answer)

    def _record_answer(self, session: UploadSession, request: SignRequest, answer: Grant | MultipartGrant | Refusal):
        if isinstance(answer, Refusal):
            self._record(self._sign_event(request, REFUSED, answer.reason, code=answer.code))
            return
        if not self.access.allows(Action.UPLOAD, answer.key):
            # A resumed multipart upload lies where this person may no longer write.
            sentence = self._refusal_sentence(Action.UPLOAD, answer.key)
            session.grants[request.file.id] = Refusal(answer.file_id, answer.original_name, sentence, "permission")
            self._record(self._sign_event(request, REFUSED, sentence, code="permission", key=answer.key))
            return
        upload_id = answer.upload_id if isinstance(answer, MultipartGrant) else None
        self._record(
            replace(
                self._sign_event(request, OK, "", key=answer.key),
                content_type=answer.content_type,
                multipart=isinstance(answer, MultipartGrant),
                upload_id=upload_id,
            )
        )

    def _sign_event(
        self, request: SignRequest, outcome: str, message: str, code: str | None = None, key: str | None = None
    ) -> SignUpload:
        declared = request.file
        return SignUpload(
            who=self.who,
            bucket=self.bucket,
            key=key,
            outcome=outcome,
            message=message,
            name=display_name(declared.name),
            size=declared.size if isinstance(declared.size, int) else None,
            code=code,
        )

    def sign_parts(self, session: UploadSession, requests: list[PartsRequest]) -> None:
        """Part URLs for this person's own multipart uploads, each still inside a writable folder."""
        allowed = []
        for request in requests:
            grant = session.grants.get(request.id)
            key = grant.key if isinstance(grant, MultipartGrant) else ""
            if isinstance(grant, MultipartGrant) and not self.access.allows(Action.UPLOAD, key):
                sentence = self._refusal_sentence(Action.UPLOAD, key)
                self._record(SignParts(who=self.who, bucket=self.bucket, key=key, outcome=REFUSED, message=sentence))
                continue
            allowed.append(request)
        if requests and not allowed:
            raise PermissionDenied(self._refusal_sentence(Action.UPLOAD, ""))
        session.sign_parts(self.gateway, allowed)
        for request in allowed:
            grant = session.grants.get(request.id)
            signed = len(session.part_urls.get(request.id, {}))
            if isinstance(grant, MultipartGrant) and signed:
                self._record(
                    SignParts(who=self.who, bucket=self.bucket, key=grant.key, upload_id=grant.upload_id, parts=signed),
                    quiet_repeats=True,
                )

    def finish_uploads(self, session: UploadSession, reports: list[UploadReport]) -> list[Outcome]:
        """Complete (or, when cancelled, abort) and verify each reported upload; record each outcome."""
        checked = []
        for report in reports:
            grant = session.recall(self.who, report.id)  # also a grant recorded before an app restart
            if isinstance(grant, Grant | MultipartGrant) and not self.access.allows(Action.UPLOAD, grant.key):
                sentence = self._refusal_sentence(Action.UPLOAD, grant.key)
                self._record(Upload(who=self.who, bucket=self.bucket, key=grant.key, outcome=REFUSED, message=sentence))
                continue
            checked.append(report)
        outcomes = session.finish(self.gateway, self.who, checked)
        by_id = {report.id: report for report in checked}
        for outcome in outcomes:
            self._record(self._outcome_event(session.grants.get(outcome.file_id), outcome, by_id.get(outcome.file_id)))
        return outcomes

    def _outcome_event(self, grant: Any, outcome: Outcome, report: UploadReport | None) -> Event:
        key = outcome.key or getattr(grant, "key", None)
        state = OK if outcome.ok else FAILED
        if report is not None and report.code == "Cancelled" and isinstance(grant, MultipartGrant):
            return CancelUpload(who=self.who, bucket=self.bucket, key=key, name=outcome.name, upload_id=grant.upload_id)
        multipart_details: dict[str, Any] = {}
        if isinstance(grant, MultipartGrant):
            multipart_details = {"upload_id": grant.upload_id, "parts": grant.part_count, "part_size": grant.part_size}
        return Upload(
            who=self.who,
            bucket=self.bucket,
            key=key,
            outcome=state,
            message="" if outcome.ok else outcome.message,
            name=outcome.name,
            size=outcome.size,
            content_type=outcome.content_type,
            sha256=outcome.checksum_sha256,
            s3_code=report.code if report else None,
            **multipart_details,
        )

    def uploaded_link(self, outcome: Outcome) -> str:
        """The signed link shown after an upload (VIEW_LINK_SECONDS), with the headers lib.browse.sharing decides."""
        key = outcome.key or ""
        self._require(Action.UPLOAD, key, SignLinks, count=1)
        return signed_link(self.gateway, key, VIEW_LINK_SECONDS, outcome.content_type, outcome.name, inline=None)

    def abort_unfinished(self, key: str, upload_id: str, store: OpenUploadStore) -> hidden.AbortedUpload:
        """An admin aborts someone's unfinished multipart upload (its parts are deleted)."""
        self._require(Action.ABORT_UNFINISHED, key, AbortUnfinished, upload_id=upload_id)
        event = AbortUnfinished(who=self.who, bucket=self.bucket, key=key, upload_id=upload_id)
        aborted = self._act(event, lambda: hidden.abort_upload(self.gateway, key, upload_id))
        store.remove(upload_id)
        self._record(event)
        return aborted

    # --- audit (admins) --------------------------------------------------------------------------
    # Bucket-wide views: each requires Action.AUDIT on the whole bucket ("") and is recorded as an
    # AuditView naming the view (reruns of the same view are recorded once a minute).

    def _audit(self, view: str, do: Callable[[], Any], **details: Any) -> Any:
        self._require(Action.AUDIT, WHOLE_BUCKET, AuditView, view=view, **details)
        event = AuditView(who=self.who, bucket=self.bucket, key=WHOLE_BUCKET, view=view, **details)
        found = self._act(event, do)
        self._record(event, quiet_repeats=True)
        return found

    def _snapshot_store(self) -> SnapshotStore:
        return SnapshotStore(self.gateway)

    def audit_snapshots(self) -> list[Snapshot]:
        """The kept snapshots of this bucket, newest first."""
        return self._audit("snapshots", lambda: self._snapshot_store().list())

    def open_snapshot(self, snapshot: Snapshot) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the view `objects` over one snapshot (lib.audit.usage reads it)."""
        return self._audit("usage", snapshot.connect, snapshot=snapshot.id)

    def unfinished_uploads(
        self, store: OpenUploadStore, prefix: str = "", limit: int = 200
    ) -> tuple[list[hidden.UnfinishedUpload], bool]:
        """Unfinished multipart uploads (live calls), with who started them when bucketdesk did."""
        return self._audit(
            "unfinished-uploads",
            lambda: hidden.unfinished_uploads(self.gateway, store.records(), prefix=prefix, limit=limit),
        )

    def audit_review(self, app_origin: str | None) -> list[Finding]:
        """The configuration checklist (live calls), judging CORS for `app_origin`."""
        return self._audit("configuration", lambda: run_review(self.gateway, app_origin))

    def upload_checksums(self) -> Iterator[tuple[str, str]]:
        """(key, SHA-256) of every verified upload into this bucket, from the audit store (duplicates).
        Checked and recorded when asked, not when read."""
        self._require(Action.AUDIT, WHOLE_BUCKET, AuditView, view="duplicates")
        self._record(
            AuditView(who=self.who, bucket=self.bucket, key=WHOLE_BUCKET, view="duplicates"), quiet_repeats=True
        )
        return self._checksums()

    def _checksums(self) -> Iterator[tuple[str, str]]:
        for event in self._events_of(EventFilter(action=Upload.action, bucket=self.bucket, outcome=OK)):
            digest = event.details.get("sha256")
            if event.key and digest:
                yield event.key, str(digest)

    def audit_events(self, where: EventFilter, *, before: int | None = None, limit: int = 50) -> tuple[EventPage, int]:
        """One page of the matching events, newest first, and how many match in all (read together,
        before this view is itself recorded, so the two agree)."""
        return self._audit(
            "events", lambda: (self.events.page(where, limit=limit, before=before), self.events.count(where))
        )

    def export_events(self, where: EventFilter, fmt: str) -> events_export.Written:
        """The matching events as a CSV or JSON Lines file (bounded: events_export's caps)."""
        return self._audit("events-export", lambda: events_export.write_events(self._events_of(where), fmt), format=fmt)

    def _events_of(self, where: EventFilter) -> Iterator[StoredEvent]:
        """Every matching event, newest first, read a page at a time."""
        before = None
        while True:
            page = self.events.page(where, limit=MAX_PAGE, before=before)
            yield from page.events
            if page.next_before is None:
                return
            before = page.next_before

    def recent_uploads(self, limit: int = 20) -> list:
        """This person's latest finished uploads in this bucket (their own record: no check needed)."""
        return self.events.recent_uploads(self.who, self.bucket, limit)

    # --- export ----------------------------------------------------------------------------------

    def export_scope(self, request: exports.ExportRequest | None = None) -> list[str] | None:
        """The prefixes this person may export (None: the whole bucket); refused (and recorded) when
        they may export nothing here. lib.export keeps every row inside these prefixes."""
        if not self.access.may(Action.EXPORT):
            sentence = self._refusal_sentence(Action.EXPORT, "")
            self._record(self._export_event(request, outcome=REFUSED, message=sentence))
            raise PermissionDenied(sentence)
        allowed = self.access.prefixes(Action.EXPORT)
        return None if WHOLE_BUCKET in allowed else list(allowed)

    def latest_snapshot(self) -> Any:
        """The bucket's newest inventory snapshot (or None), for the Export page's source choice."""
        self.export_scope()
        return exports.latest_snapshot(self.gateway)

    def export_preview(self, request: exports.ExportRequest) -> Any:
        """The first rows an export would hold (an Arrow table), inside this person's prefixes."""
        return exports.preview(self.gateway, request, self.export_scope(request))

    def export_count(self, request: exports.ExportRequest, progress: Callable[..., None] | None = None) -> int:
        return exports.count(self.gateway, request, self.export_scope(request), progress=progress)

    def export(
        self, request: exports.ExportRequest, progress: Callable[[int, bool], None] | None = None
    ) -> exports.Delivered:
        """Write the export and hand it over (a download, or a signed link to it in the bucket)."""
        allowed = self.export_scope(request)
        event = self._export_event(request)
        done = self._act(
            event,
            lambda: exports.run(
                self.gateway,
                request,
                allowed,
                user=self.who,
                export_prefix=self.profile.export_prefix,
                download_max_bytes=self.settings.export_download_max_bytes,
                progress=progress,
            ),
        )
        summary = done.summary
        self._record(replace(event, key=summary.where, rows=summary.rows, bytes=summary.bytes, seconds=summary.seconds))
        return done

    def _export_event(self, request: exports.ExportRequest | None, **common: Any) -> Export:
        if request is None:
            return Export(who=self.who, bucket=self.bucket, **common)
        return Export(
            who=self.who,
            bucket=self.bucket,
            source=request.source,
            filter=request.describe(),
            format=request.format,
            columns=tuple(request.columns),
            **common,
        )

    # --- whole-bucket search (the inventory index) ------------------------------------------------

    def index_info(self) -> IndexInfo | None:
        """The latest whole-bucket snapshot's size and age (None: no index yet). A person scoped to
        some prefixes is not told the size: it counts objects outside them."""
        scope = self._require_search("")
        index = _search_index(self.gateway)
        snapshot = index.latest()
        if snapshot is None:
            return None
        info = index.info(snapshot)
        return info if scope is None else replace(info, objects=None)

    def search_everywhere(self, query: ObjectQuery, page_size: int, offset: int = 0) -> SearchResult | None:
        """One page of the latest snapshot's matches under this person's allowed prefixes, with the
        app's own uploads and deletes since the snapshot laid over it; None when there is no index."""
        scope = self._require_search(query.text)
        event = Search(who=self.who, bucket=self.bucket, key=None, query=query.text or None)
        index = _search_index(self.gateway)
        snapshot = self._act(event, index.latest)
        if snapshot is None:
            return None
        recent = self._recent_writes(snapshot.manifest.started_at.timestamp())
        result = self._act(
            event,
            lambda: index.search(snapshot, query, scope, page_size=page_size, offset=offset, recent=recent),
        )
        self._record(replace(event, rows=result.objects), quiet_repeats=True)
        return result

    def build_index(self, *, versions: bool = False) -> BuildJob:
        """Start (or join) a build of the whole bucket's snapshot in the background (lib.inventory.jobs:
        progress, cancel, the previous snapshot kept until the new one is complete). With `versions`
        it lists every version and delete marker too: the audit page's hidden storage needs them,
        and search answers from such a snapshot as well (current objects only)."""
        self._require(Action.INDEX, WHOLE_BUCKET, BuildIndex)
        index = _search_index(self.gateway)
        previous = index.latest(versions=versions)

        def run(progress, cancel):
            event = BuildIndex(who=self.who, bucket=self.bucket, key=WHOLE_BUCKET)
            try:
                snapshot = index.store.build(versions=versions, progress=progress, cancel=cancel)
            except BucketdeskError as exc:
                job = jobs.current(self._job_key)
                by = job.cancelled_by if isinstance(exc, BuildCancelled) and job is not None else None
                self._record(replace(event, outcome=FAILED, message=exc.message, cancelled_by=by))
                raise
            self._record(replace(event, objects=snapshot.manifest.rows))
            index.prepare(snapshot)  # its search database, in the background: searches are fast sooner
            return snapshot

        expected = previous.manifest.rows if previous else None
        job, _ = jobs.start(self._job_key, run, expected=expected, versions=versions)
        return job

    def cancel_index_build(self) -> None:
        """Stop the bucket's running build at its next progress report; the previous snapshot stays
        the latest, and the build's own event is recorded as failed, naming who cancelled it."""
        self._require(Action.INDEX, WHOLE_BUCKET, BuildIndex)
        job = jobs.current(self._job_key)
        if job is not None and job.running:
            job.request_cancel(self.who)

    def index_build(self) -> BuildJob | None:
        """The bucket's running index build, or the last one (for its progress bar)."""
        return jobs.current(self._job_key)

    @property
    def _job_key(self) -> str:
        return repr(_index_key(self.gateway))  # one build at a time per bucket and snapshot home

    def _require_search(self, text: str) -> list[str] | None:
        """The prefixes this person may search (None: the whole bucket); refused when none."""
        allowed = self.access.prefixes(Action.SEARCH)
        if not allowed:
            self._require(Action.SEARCH, "", Search, query=text or None)  # records the refusal, raises
        return None if "" in allowed else list(allowed)

    def _recent_writes(self, since: float) -> list[RecentWrite]:
        """Uploads and deletes this app made in this bucket since `since` (a snapshot's start: a write
        during the build may or may not have been listed, and laying it over again is harmless)."""
        rows = []
        for action in (Upload.action, Delete.action):
            before = None
            while True:
                page = self.events.page(
                    EventFilter(action=action, bucket=self.bucket, since=since, outcome=OK),
                    limit=MAX_PAGE,
                    before=before,
                )
                rows += [(e.action, e.key, e.details.get("size"), e.ts) for e in page.events]
                if page.next_before is None:
                    break
                before = page.next_before
        return recent_writes(rows)

    # --- helpers ---------------------------------------------------------------------------------

    def _act(self, event: Event, do: Callable[[], Any]) -> Any:
        """Run `do`; a BucketdeskError from it is recorded as `failed`, then raised."""
        try:
            return do()
        except BucketdeskError as exc:
            self._record(replace(event, outcome=FAILED, message=exc.message))
            raise

    def _links(self) -> RowLinks:
        if self.links is None:
            self.links = RowLinks(self.gateway)
        return self.links

    def _thumbs(self) -> ThumbnailStore:
        return store_for(self.gateway)


def access_for(settings: Settings, profile_name: str, identity: Identity) -> Access:
    """What `identity` may do in the profile's bucket: the local user without sign-in gets
    `local_roles` everywhere; a signed-in person gets what the access rules give them."""
    person = Person(identity.id, frozenset(getattr(identity, "groups", ()) or ()))
    if identity.source == "local":
        return Access.everything(person, profile_name, settings.local_roles)
    return Access.for_person(person, profile_name, settings.access)


def no_access_sentence(settings: Settings, profile: BucketProfile, identity: Identity) -> str:
    """What a person whom no rule admits reads instead of an empty app: why, and whom to ask."""
    if identity.source == "local":
        return (
            f"There is no sign-in here and the local user has no roles (local_roles is empty), so nothing in "
            f"{profile.display_name} can be used. Whoever runs this bucketdesk can set local_roles "
            "(BUCKETDESK_LOCAL_ROLES), or configure sign-in and access rules."
        )
    admins = sorted(
        {
            pattern
            for rule in settings.access
            if "admin" in rule.roles and rule.applies_to(profile.name)
            for pattern in rule.who
        }
    )
    ask = (
        f"Ask an admin of this bucketdesk ({', '.join(admins)}) to add you to an access rule."
        if admins
        else "Ask whoever runs this bucketdesk to add you to an access rule ([[bucketdesk.access]])."
    )
    return f"You are signed in as {identity.id}, but no access rule lets you use {profile.display_name}. {ask}"


def is_above(folder: str, prefixes: Iterable[str]) -> bool:
    """Is `folder` a parent of any of `prefixes`? (Browse's breadcrumbs above a scoped person's top.)"""
    return any(is_parent_of(folder, prefix) for prefix in prefixes)


_indexes: dict[tuple, SearchIndex] = {}
_indexes_lock = threading.Lock()


def _search_index(gateway: S3Gateway) -> SearchIndex:
    """One SearchIndex per bucket profile and snapshot home for the server's life (it keeps the
    snapshot's DuckDB view); the home is part of the key so a changed setting is never answered
    from the old place."""
    key = _index_key(gateway)
    with _indexes_lock:
        if key not in _indexes:
            _indexes[key] = SearchIndex(SnapshotStore(gateway))
        return _indexes[key]


def _index_key(gateway: S3Gateway) -> tuple[str, str, str, str]:
    profile = gateway.profile
    return profile.name, profile.bucket, profile.inventory_store, str(Path(profile.inventory_cache_dir).resolve())
