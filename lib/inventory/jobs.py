"""Snapshot builds that outlive the request that started them: the one way the app builds a snapshot
(Browse's "Update index" and the audit page's "Build a snapshot" alike; the command line builds in
its own process).

A build of a large bucket takes minutes; a Streamlit rerun takes milliseconds. So a build runs in a
thread of its own, one per bucket at a time (a second request joins the running build, whichever
page it came from), and pages poll `BuildJob.status()` for a progress bar and set `BuildJob.cancel`
to stop it. Leaving the page does not stop a build: whoever comes back sees its progress. A failed
or cancelled build leaves the previous snapshot the latest (lib.inventory.store publishes the
manifest last). Finished jobs stay readable until the next build of that bucket starts, so the
person who started one sees how it ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lib.errors import BucketdeskError, BuildCancelled
from lib.inventory.store import Snapshot
from lib.inventory.walk import WalkProgress

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


@dataclass(frozen=True)
class BuildStatus:
    state: str  # running | done | failed | cancelled
    objects: int
    objects_per_second: float
    prefixes_left: int
    elapsed_seconds: float
    expected: int | None  # the previous snapshot's size: what the progress bar measures against
    message: str = ""  # a failure's sentence
    snapshot_id: str | None = None

    @property
    def fraction(self) -> float:
        """How far along, for a progress bar: against the previous snapshot's size when there is one
        (never 100 % before the end), else a curve that keeps moving without claiming a total."""
        if self.state == DONE:
            return 1.0
        if self.expected:
            return min(0.99, self.objects / self.expected)
        return self.objects / (self.objects + 50_000)

    def describe(self) -> str:
        done = f"{self.objects:,} objects listed"
        if self.state == RUNNING:
            rate = f" · {self.objects_per_second:,.0f}/s" if self.objects_per_second else ""
            left = f" · {self.prefixes_left} parts of the bucket left" if self.prefixes_left else ""
            return f"{done}{rate}{left}"
        if self.state == DONE:
            return f"{done} in {self.elapsed_seconds:,.1f} s"
        return self.message or f"The build {self.state}."


class BuildJob:
    """One build running in its own thread; `run(progress, cancel)` returns the new snapshot.
    `versions`: the build lists every version and delete marker (what the page says it is doing)."""

    def __init__(
        self,
        run: Callable[[Callable[[WalkProgress], None], threading.Event], Snapshot],
        expected: int | None,
        versions: bool = False,
    ):
        self.expected = expected
        self.versions = versions
        self.cancel = threading.Event()
        self.cancelled_by: str | None = None  # who asked, for the build's own event
        self._started = time.monotonic()
        self._ended: float | None = None
        self._progress: WalkProgress | None = None
        self._state = RUNNING
        self._message = ""
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(run,), name="bucketdesk-index-build", daemon=True)
        self._thread.start()

    def _run(self, run) -> None:
        try:
            snapshot = run(self._report, self.cancel)
            state, message = DONE, ""
        except BuildCancelled as exc:
            snapshot, state, message = None, CANCELLED, exc.message
        except BucketdeskError as exc:
            snapshot, state, message = None, FAILED, exc.message
        except Exception as exc:  # a thread has no one to raise to: the page shows the sentence
            snapshot, state, message = None, FAILED, f"The index could not be built: {exc}"
        with self._lock:
            self._snapshot, self._state, self._message = snapshot, state, message
            self._ended = time.monotonic()

    def _report(self, progress: WalkProgress) -> None:
        with self._lock:
            self._progress = progress

    def request_cancel(self, who: str) -> None:
        """Stop at the walk's next progress report; `who` is kept so the build's event can name them."""
        self.cancelled_by = who
        self.cancel.set()

    def ended_seconds_ago(self) -> float | None:
        """How long ago the build ended (None while it runs)."""
        return None if self._ended is None else time.monotonic() - self._ended

    @property
    def running(self) -> bool:
        return self._state == RUNNING

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def status(self) -> BuildStatus:
        with self._lock:
            progress, state, message = self._progress, self._state, self._message
            snapshot = self._snapshot
        objects = snapshot.manifest.rows if snapshot else progress.objects if progress else 0
        return BuildStatus(
            state=state,
            objects=objects,
            objects_per_second=progress.objects_per_second if progress else 0.0,
            prefixes_left=progress.prefixes_left if progress else 0,
            elapsed_seconds=time.monotonic() - self._started
            if state == RUNNING
            else (progress.elapsed_seconds if progress else 0.0),
            expected=self.expected,
            message=message,
            snapshot_id=snapshot.id if snapshot else None,
        )


_jobs: dict[str, BuildJob] = {}
_jobs_lock = threading.Lock()


def start(bucket_key: str, run, expected: int | None = None, versions: bool = False) -> tuple[BuildJob, bool]:
    """The running build of this bucket, or a new one; True when this call started it. A running
    build is joined whatever it lists: the pages offer no build while one runs, so only two clicks
    at the same moment meet here, and one listing of the bucket at a time matters more."""
    with _jobs_lock:
        job = _jobs.get(bucket_key)
        if job is not None and job.running:
            return job, False
        job = _jobs[bucket_key] = BuildJob(run, expected, versions)
        return job, True


def current(bucket_key: str) -> BuildJob | None:
    """The bucket's running build, or the last one (until the next starts)."""
    with _jobs_lock:
        return _jobs.get(bucket_key)
