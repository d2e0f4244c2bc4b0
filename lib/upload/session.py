"""One person's uploads in one browser session: grants handed out, and what became of each file.

The page keeps an `UploadSession` in st.session_state and feeds it the component's events. The
server's own record of each grant is the source of truth: a report from the browser only says
*which* file to look at; the key, size, type and uploader checked are the ones signed here.
Large files get a multipart grant (lib.upload.multipart): their part URLs are signed as the browser asks,
and their report completes (or, when cancelled, aborts) the upload before it is verified.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lib.browse.thumbnails import thumbnail_after_upload
from lib.components.uploader import PartsRequest, SignRequest, UploadReport
from lib.errors import StorageError, UploadIncomplete
from lib.limits import MAX_FILES_PER_SESSION, MAX_PARTS_PER_EVENT
from lib.names import display_name
from lib.s3 import S3Gateway
from lib.upload import multipart
from lib.upload.grants import DeclaredFile, Grant, Refusal, is_multipart, sign_upload, upload_key
from lib.upload.journal import GrantJournal
from lib.upload.multipart import MultipartGrant, PartUrl
from lib.upload.resume import OpenUploadStore
from lib.upload.verify import Verification, verify_upload

Granted = Grant | MultipartGrant
log = logging.getLogger(__name__)
# Objects checked at once after a `done` event: each check is a few small S3 requests, so a thousand
# small files are verified in a few seconds instead of one after another (boto3's pool holds 10).
VERIFY_THREADS = 8


@dataclass
class Outcome:
    """The end of one file's journey, as the page shows it."""

    file_id: str
    name: str
    ok: bool
    message: str
    sign_seq: int = 1
    key: str | None = None
    size: int | None = None
    content_type: str | None = None
    checksum_sha256: str | None = None
    seconds: float | None = None

    @property
    def is_image(self) -> bool:
        return bool(self.ok and self.content_type and self.content_type.startswith("image/"))


@dataclass
class UploadSession:
    bucket: str
    grants: dict[str, Grant | MultipartGrant | Refusal] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    # The server-wide record of open multipart uploads (outlives this session, for resumes).
    open_uploads: OpenUploadStore = field(default_factory=lambda: OpenUploadStore(None))
    # Part URLs the browser is still waiting for, by file id and part number.
    part_urls: dict[str, dict[int, PartUrl]] = field(default_factory=dict)
    # Refusals for files past MAX_FILES_PER_SESSION in the last sign event (not kept beyond it).
    over_limit: dict[str, Refusal] = field(default_factory=dict)
    # A dropped folder's files share one {uuid}: the browser's batch id -> the uuid this server chose;
    # a file signed again keeps its key, so a retry does not move it out of its folder. Which keys the
    # batch has handed out is the journal's to say (it outlives this session): see `_key`.
    batches: dict[str, str] = field(default_factory=dict)
    folder_keys: dict[str, str] = field(default_factory=dict)
    # The server-wide record of grants and verdicts by file id (outlives this session: an app restarted
    # mid-upload takes up the uploads its earlier self granted). Defaults to one beside `open_uploads`.
    journal: GrantJournal | None = None
    # What the browser still needs in `component_data`, so a thousand files do not mean a thousand grants
    # and verdicts re-sent on every rerun. A grant handed out in sign event k is delivered once a later
    # sign event no longer waits for it (or a report or parts request names it); a verdict given on done
    # event k is acknowledged once a later done event no longer lists its file (the browser re-lists every
    # result until it saw the verdict). Delivered grants go as {signSeq} only: the browser holds them.
    _sign_events: int = field(default=0, repr=False, compare=False)
    # Names this session's sign events in `grantsThrough`, which the browser echoes in every event: the grants
    # of sign events up to the one it names reached the browser (a restarted app's events are other ones).
    _epoch: str = field(default_factory=lambda: uuid.uuid4().hex[:12], repr=False, compare=False)
    _done_events: int = field(default=0, repr=False, compare=False)
    _undelivered: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _unacknowledged: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # Streamlit's fast reruns can start a callback while the previous one still runs: sign,
    # sign_parts and finish check-then-act on the dicts above, so one at a time per session.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Kept for the session: a done event comes many times a second, and starting threads for each costs more
    # than verifying a small file. Idle threads end with the session (the executor is collected).
    _verifier: ThreadPoolExecutor | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.journal is None:
            self.journal = GrantJournal(self.open_uploads.directory)

    @property
    def _journal(self) -> GrantJournal:
        assert self.journal is not None  # set in __post_init__
        return self.journal

    def delivered(self, through: str | None) -> None:
        """The browser holds every grant handed out up to the sign event `through` names (the
        `grantsThrough` of the data it last received): from now on they go as their seq only. Without
        this a thousand files waiting for a free slot would have their full grants re-sent on every rerun."""
        epoch, _, number = (through or "").partition(":")
        if epoch != self._epoch or not number.isdigit():
            return  # none, or from an earlier app (before a restart): its numbers are not ours
        with self._lock:
            for file_id, event in list(self._undelivered.items()):
                if event <= int(number):
                    del self._undelivered[file_id]

    def recall(self, uploader: str, file_id: str) -> Grant | MultipartGrant | Refusal | None:
        """This session's answer for a file, else the one an earlier session (before a restart) recorded."""
        if file_id in self.grants:
            return self.grants[file_id]
        recorded = self._journal.grant(uploader, file_id)
        if recorded is None:
            return None
        grant, outcome = recorded
        self.grants[file_id] = grant
        if outcome and outcome.get("sign_seq") == grant.sign_seq:
            known = {f.name for f in fields(Outcome)}
            self.outcomes[file_id] = Outcome(**{k: v for k, v in outcome.items() if k in known})
        return grant

    def sign(
        self, gateway: S3Gateway, uploader: str, requests: list[SignRequest], key_template: str | None = None
    ) -> None:
        """Grant or refuse each declared file. Idempotent: an answer newer than the browser holds is kept;
        a browser holding the current grant asks for a fresh one (new key, later expiry). Keys follow
        `key_template` (default: the profile's upload_prefix)."""
        with self._lock:
            self._sign(gateway, uploader, requests, key_template)

    def refuse(self, requests: list[SignRequest], reason: str, code: str) -> None:
        """Refuse every declared file with one reason (e.g. the access rules allow no upload here)."""
        with self._lock:
            for request in requests:
                if not isinstance(self.grants.get(request.file.id), Refusal):
                    self.grants[request.file.id] = Refusal(
                        request.file.id, display_name(request.file.name), reason, code
                    )
                    self.part_urls.pop(request.file.id, None)

    def _sign(self, gateway: S3Gateway, uploader: str, requests: list[SignRequest], key_template: str | None) -> None:
        self.over_limit = {}
        self._sign_events += 1
        waiting = {request.file.id for request in requests}
        for file_id, event in list(self._undelivered.items()):
            if event < self._sign_events and file_id not in waiting:
                del self._undelivered[file_id]
        seen: set[str] = set()
        for request in requests:
            declared = request.file
            if declared.id in seen:
                continue  # the same file twice in one event: answered once
            seen.add(declared.id)
            previous = self.recall(uploader, declared.id)
            if previous is None and len(self.grants) >= MAX_FILES_PER_SESSION:
                self.over_limit[declared.id] = Refusal(
                    declared.id,
                    display_name(declared.name),
                    f"This page has handled {MAX_FILES_PER_SESSION:,} files; reload it to upload more.",
                    "too_many",
                )
                continue
            current_seq = previous.sign_seq if isinstance(previous, Granted) else (0 if previous is None else 1)
            if current_seq > request.held_seq or isinstance(previous, Refusal):
                if isinstance(previous, Granted):
                    self._undelivered[declared.id] = self._sign_events  # still waiting: it has not got it
                continue  # already answered (a repeated event, or a refusal that stands)
            outcome = self.outcomes.get(declared.id)
            if outcome and outcome.ok:
                continue  # stored and verified: nothing to re-sign
            if self._completed_before(gateway, previous, request):
                continue  # its report, re-sent until answered, is verified against this grant
            # Above the browser's too: a browser that outlived this server's records numbers on from its own.
            next_seq = max(current_seq, request.held_seq) + 1
            answer: Grant | MultipartGrant | Refusal
            # The desk's destination folder leads the template; a dropped folder's files share one {uuid}.
            key = self._key(gateway, uploader, declared, previous, key_template) or upload_key(
                gateway.profile, declared, uploader, template=key_template
            )
            if isinstance(declared.size, int) and is_multipart(gateway.profile, declared.size):
                answer = multipart.start_or_resume(
                    gateway,
                    self.open_uploads,
                    uploader,
                    declared,
                    sign_seq=next_seq,
                    resume_id=request.resume_upload_id,
                    last_modified=request.last_modified,
                    key=key,
                )
            else:
                answer = sign_upload(gateway, uploader, declared, sign_seq=next_seq, key=key)
            if isinstance(previous, MultipartGrant) and not (
                isinstance(answer, MultipartGrant) and answer.upload_id == previous.upload_id
            ):
                self._abort_superseded(gateway, previous)
            self.grants[declared.id] = answer
            self._undelivered[declared.id] = self._sign_events
            self.part_urls.pop(declared.id, None)
            if not isinstance(answer, Refusal):
                self._journal.granted(uploader, answer)

    def _completed_before(self, gateway: S3Gateway, previous: Granted | Refusal | None, request: SignRequest) -> bool:
        """A large file whose upload an earlier self completed but did not judge (the app restarted in between):
        the browser, its grant gone from the page, asks again naming that upload. Starting it over would send
        every byte again, so the grant stands and the file goes straight to verification."""
        return (
            isinstance(previous, MultipartGrant)
            and request.resume_upload_id == previous.upload_id
            and not self.outcomes_for(previous)
            and multipart.already_complete(gateway, previous)
        )

    def _key(
        self,
        gateway: S3Gateway,
        uploader: str,
        declared: DeclaredFile,
        previous: Granted | Refusal | None,
        template: str | None,
    ) -> str | None:
        """The key for a file of a dropped folder: under its batch's one {uuid}, never one already handed
        out in the batch. None (a fresh key) for a single file, or a template without {relative_path}."""
        if not declared.batch or "{relative_path}" not in (template or gateway.profile.upload_prefix):
            return None
        if declared.id not in self.folder_keys and isinstance(previous, Granted):
            self.folder_keys[declared.id] = previous.key  # granted before the app restarted
        if declared.id in self.folder_keys:
            return self.folder_keys[declared.id]
        unique = self.batches.get(declared.batch) or self._journal.batch_uuid(uploader, declared.batch)
        if unique is None:
            unique = uuid.uuid4().hex
            self._journal.remember_batch(uploader, declared.batch, unique)
        self.batches[declared.batch] = unique
        key = upload_key(gateway.profile, declared, uploader, unique, template=template)
        stem, dot, ext = key.rpartition(".")
        if not dot or "/" in ext:
            stem, dot, ext = key, "", ""
        copy = 1
        # "a b.jpg" and "a_b.jpg" both sanitise to a_b.jpg; the file that holds it may have been granted
        # before the app restarted, so the claims live in the journal, not in this session.
        while not self._journal.claim_key(uploader, declared.batch, key, declared.id):
            copy += 1
            key = f"{stem}-{copy}{dot}{ext}"
        self.folder_keys[declared.id] = key
        return key

    def _abort_superseded(self, gateway: S3Gateway, grant: MultipartGrant) -> None:
        """A re-signed file gets a new upload: the one it replaces can never complete, so its parts go."""
        try:
            multipart.abort(gateway, self.open_uploads, grant)
        except StorageError as exc:  # a lifecycle rule removes it later; the new grant matters more
            log.warning("could not abort superseded upload %s of %s: %s", grant.upload_id, grant.key, exc.message)

    def sign_parts(self, gateway: S3Gateway, requests: list[PartsRequest]) -> None:
        """Presign the part URLs the browser asks for. Idempotent like `sign`: a URL newer than the one
        the browser holds (with the same checksum) is kept; answers no longer asked for are dropped."""
        with self._lock:
            self._sign_parts(gateway, requests)

    def _sign_parts(self, gateway: S3Gateway, requests: list[PartsRequest]) -> None:
        answered: dict[str, dict[int, PartUrl]] = {}
        for request in requests:
            grant = self.grants.get(request.id)
            if isinstance(grant, MultipartGrant) and request.sign_seq == grant.sign_seq:
                self._undelivered.pop(request.id, None)  # asking for its parts: the browser holds it
        budget = MAX_PARTS_PER_EVENT  # new signatures this event; the rest are asked for again later
        for request in requests:
            if request.id in answered:
                continue  # the same file twice in one event: answered once
            grant = self.grants.get(request.id)
            if (
                not isinstance(grant, MultipartGrant)
                or request.sign_seq != grant.sign_seq
                or request.id in self.outcomes_for(grant)
            ):
                continue  # not ours, an older grant's, or already judged
            held = self.part_urls.get(request.id, {})
            answers: dict[int, PartUrl] = {}
            digests: dict[int, str] = {}
            for wanted in request.parts:
                if wanted.number > grant.part_count or budget <= 0:
                    continue
                current = held.get(wanted.number)
                checksum = wanted.sha256 if grant.checksums else None
                if current and current.seq > wanted.held_seq and current.sha256 == checksum and not current.refused:
                    answers[wanted.number] = current  # already answered; the browser has not seen it yet
                    continue
                seq = max(wanted.held_seq, current.seq if current else 0) + 1
                budget -= 1
                answers[wanted.number] = multipart.sign_part(gateway, grant, wanted.number, wanted.sha256, seq)
                if wanted.sha256:
                    digests[wanted.number] = wanted.sha256
            answered[request.id] = answers
            if digests:
                self.open_uploads.remember_parts(grant.upload_id, digests)
        # The event lists every URL still wanted: anything not in it was received (or given up).
        self.part_urls = answered

    def on_their_way(self) -> int:
        """Files granted and not yet judged: waiting for a slot, being sent, or being verified. A single upload's
        grant counts until it expires: one the browser dropped (cancelled before the grant reached it) is never
        reported, and a file still queued then asks for a fresh one."""
        now = time.time()
        return sum(
            1
            for answer in self.grants.values()
            if (isinstance(answer, MultipartGrant) or (isinstance(answer, Grant) and answer.expires_at > now))
            and not self.outcomes_for(answer)
        )

    def outcomes_for(self, grant: Granted) -> set[str]:
        """File ids whose current grant was already judged."""
        outcome = self.outcomes.get(grant.file_id)
        return {grant.file_id} if outcome and outcome.sign_seq == grant.sign_seq else set()

    def finish(self, gateway: S3Gateway, uploader: str, reports: list[UploadReport]) -> list[Outcome]:
        """Verify what each reported upload left in the bucket (complete or abort multipart ones first);
        return the new outcomes. The desk records them. `uploader` finds grants recorded before a restart."""
        with self._lock:
            return self._finish(gateway, uploader, reports)

    def _finish(self, gateway: S3Gateway, uploader: str, reports: list[UploadReport]) -> list[Outcome]:
        self._done_events += 1
        listed = {report.id for report in reports}
        for file_id, event in list(self._unacknowledged.items()):
            if event < self._done_events and file_id not in listed:
                del self._unacknowledged[file_id]
        to_judge: dict[str, tuple[Granted, UploadReport]] = {}
        for report in reports:
            grant = self.recall(uploader, report.id)
            if not isinstance(grant, Granted) or report.sign_seq != grant.sign_seq:
                continue  # no grant from us, or a stale attempt: nothing we allowed to check
            self._undelivered.pop(report.id, None)  # a report on this grant: the browser holds it
            known = self.outcomes.get(report.id)
            if known and known.sign_seq == grant.sign_seq:
                self._unacknowledged.setdefault(report.id, self._done_events)  # its verdict, again
                continue  # this attempt was already judged
            to_judge.setdefault(report.id, (grant, report))
        judged = list(to_judge.values())
        if len(judged) > 1:
            if self._verifier is None:
                self._verifier = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="verify")
            outcomes = list(self._verifier.map(lambda pair: self._outcome(gateway, *pair), judged))
        else:
            outcomes = [self._outcome(gateway, *pair) for pair in judged]
        finished = []
        for (grant, report), outcome in zip(judged, outcomes, strict=True):
            self.outcomes[report.id] = outcome
            self._unacknowledged[report.id] = self._done_events
            self._journal.judged(uploader, grant, asdict(outcome))
            self.part_urls.pop(report.id, None)
            finished.append(outcome)
        return finished

    def _outcome(self, gateway: S3Gateway, grant: Granted, report: UploadReport) -> Outcome:
        base: dict[str, Any] = dict(
            file_id=grant.file_id,
            name=grant.original_name,
            size=grant.size,
            content_type=grant.content_type,
            sign_seq=grant.sign_seq,
        )
        try:
            if isinstance(grant, MultipartGrant):
                unfinished = self._settle_multipart(gateway, grant, report)
                if unfinished:
                    return Outcome(ok=False, message=unfinished, **base)
            elif not report.ok and gateway.head(grant.key) is None:
                # The bucket refused it (or it never left): report S3's reason, nothing to verify.
                reason = report.message or "The upload did not complete."
                code = f" ({report.code})" if report.code and report.code not in reason else ""
                return Outcome(ok=False, message=reason + code, **base)
            checked: Verification = verify_upload(gateway, grant)
            if checked.ok and checked.final_key:
                thumbnail_after_upload(gateway, checked.final_key, grant.content_type)  # never raises
        except UploadIncomplete as exc:
            return Outcome(ok=False, message=f"{exc.message} {exc.hint}".strip(), **base)
        except StorageError as exc:
            return Outcome(
                ok=False,
                message=f"{exc.message} The file could not be checked; {exc.hint}".strip(),
                key=grant.key,
                **base,
            )
        return Outcome(
            ok=checked.ok,
            message=checked.message,
            key=checked.final_key,
            checksum_sha256=checked.checksum_sha256 or grant.sha256,
            seconds=report.ms / 1000 if report.ms else None,
            **base,
        )

    def _settle_multipart(self, gateway: S3Gateway, grant: MultipartGrant, report: UploadReport) -> str | None:
        """Complete the upload the browser filled, or abort a cancelled one. A sentence when there is
        no object to verify; raises UploadIncomplete when the report and the bucket disagree."""
        if report.code == "Cancelled":
            multipart.abort(gateway, self.open_uploads, grant)
            return "You cancelled this upload; its parts were removed from the bucket."
        if not report.ok:
            reason = report.message or "The upload did not complete."
            code = f" ({report.code})" if report.code and report.code not in reason else ""
            return f"{reason}{code} The parts already sent stay in the bucket: choose the same file again to resume."
        # ListParts gives every part's ETag; the ones the browser could read are checked against it.
        multipart.complete(
            gateway, self.open_uploads, grant, {part.number: part.etag for part in report.parts if part.etag}
        )
        return None

    def component_data(self) -> dict:
        """What the component needs to know now: grants by file id, and the verdicts it has not yet seen.
        Sent on every rerun, so it carries what changed, not the whole session (see `_undelivered`)."""
        verified = {
            file_id: {"ok": o.ok, "message": o.message, "signSeq": o.sign_seq}
            for file_id, o in self.outcomes.items()
            if file_id in self._unacknowledged
        }
        # A verified file's grant is spent: leave it out. A delivered one is named with its seq only, so the
        # browser knows this server still holds it (a grant missing altogether means the app restarted).
        grants = {
            file_id: answer.for_browser()
            if isinstance(answer, Refusal) or file_id in self._undelivered
            else {"signSeq": answer.sign_seq}
            for file_id, answer in self.grants.items()
            if not (file_id in self.outcomes and self.outcomes[file_id].ok)
        }
        grants.update({file_id: refusal.for_browser() for file_id, refusal in self.over_limit.items()})
        part_urls = {
            file_id: {str(number): url.for_browser() for number, url in urls.items()}
            for file_id, urls in self.part_urls.items()
            if urls
        }
        return {
            "grants": grants,
            "partUrls": part_urls,
            "verified": verified,
            "grantsThrough": f"{self._epoch}:{self._sign_events}",
        }
