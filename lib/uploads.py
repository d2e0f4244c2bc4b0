"""One person's uploads in one browser session: grants handed out, and what became of each file.

The page keeps an `UploadSession` in st.session_state and feeds it the component's events. The
server's own record of each grant is the source of truth: a report from the browser only says
*which* file to look at; the key, size, type and uploader checked are the ones signed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lib.auditlog import AuditLog
from lib.components.uploader import SignRequest, UploadReport
from lib.errors import StorageError
from lib.policy import Grant, Refusal, sign_upload
from lib.previews import thumbnail_after_upload
from lib.s3 import S3Gateway
from lib.verify import Verification, verify_upload

LINK_SECONDS = 3600


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
    grants: dict[str, Grant | Refusal] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def sign(self, gateway: S3Gateway, uploader: str, requests: list[SignRequest], audit: AuditLog | None = None) -> None:
        """Grant or refuse each declared file. Idempotent: an answer newer than the browser holds is kept;
        a browser holding the current grant asks for a fresh one (new key, later expiry)."""
        for request in requests:
            declared = request.file
            previous = self.grants.get(declared.id)
            current_seq = previous.sign_seq if isinstance(previous, Grant) else (0 if previous is None else 1)
            if current_seq > request.held_seq or isinstance(previous, Refusal):
                continue  # already answered (a repeated event, or a refusal that stands)
            outcome = self.outcomes.get(declared.id)
            if outcome and outcome.ok:
                continue  # stored and verified: nothing to re-sign
            answer = sign_upload(gateway, uploader, declared, sign_seq=current_seq + 1)
            self.grants[declared.id] = answer
            if isinstance(answer, Refusal) and audit:
                audit.record(uploader, "upload", self.bucket, None, "refused", name=answer.name, reason=answer.reason)

    def finish(self, gateway: S3Gateway, uploader: str, reports: list[UploadReport], audit: AuditLog | None = None) -> list[Outcome]:
        """Verify what each reported upload left in the bucket; return the new outcomes."""
        finished = []
        for report in reports:
            grant = self.grants.get(report.id)
            if not isinstance(grant, Grant) or report.sign_seq != grant.sign_seq:
                continue  # no grant from us, or a stale attempt: nothing we allowed to check
            known = self.outcomes.get(report.id)
            if known and known.sign_seq == grant.sign_seq:
                continue  # this attempt was already judged
            outcome = self._outcome(gateway, grant, report)
            self.outcomes[report.id] = outcome
            finished.append(outcome)
            if audit:
                audit.record(
                    uploader,
                    "upload",
                    grant.bucket,
                    outcome.key or grant.key,
                    "ok" if outcome.ok else "failed",
                    name=grant.original_name,
                    size=grant.size,
                    content_type=grant.content_type,
                    sha256=outcome.checksum_sha256,
                    message=outcome.message,
                    s3_code=report.code,
                )
        return finished

    def _outcome(self, gateway: S3Gateway, grant: Grant, report: UploadReport) -> Outcome:
        base = dict(
            file_id=grant.file_id,
            name=grant.original_name,
            size=grant.size,
            content_type=grant.content_type,
            sign_seq=grant.sign_seq,
        )
        try:
            if not report.ok and gateway.head(grant.key) is None:
                # The bucket refused it (or it never left): report S3's reason, nothing to verify.
                reason = report.message or "The upload did not complete."
                code = f" ({report.code})" if report.code and report.code not in reason else ""
                return Outcome(ok=False, message=reason + code, **base)
            checked: Verification = verify_upload(gateway, grant)
            if checked.ok and checked.final_key:
                thumbnail_after_upload(gateway, checked.final_key, grant.content_type)  # never raises
        except StorageError as exc:
            return Outcome(ok=False, message=f"{exc.message} The file could not be checked; {exc.hint}".strip(), key=grant.key, **base)
        return Outcome(
            ok=checked.ok,
            message=checked.message,
            key=checked.final_key,
            checksum_sha256=checked.checksum_sha256 or grant.sha256,
            seconds=report.ms / 1000 if report.ms else None,
            **base,
        )

    def component_data(self) -> dict:
        """What the component needs to know now: grants by file id, and verdicts."""
        verified = {
            file_id: {"ok": o.ok, "message": o.message, "signSeq": o.sign_seq} for file_id, o in self.outcomes.items()
        }
        # A verified file's grant is spent: leave it out so the payload stays small in long sessions.
        grants = {
            file_id: answer.for_browser()
            for file_id, answer in self.grants.items()
            if not (file_id in self.outcomes and self.outcomes[file_id].ok)
        }
        return {"grants": grants, "verified": verified}
