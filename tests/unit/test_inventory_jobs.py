"""Index builds run in their own thread, one per bucket; the page reads their progress and outcome."""

from __future__ import annotations

import threading

import pytest

from lib.errors import BuildCancelled, StorageError
from lib.inventory import jobs
from lib.inventory.walk import WalkProgress

pytestmark = pytest.mark.unit


class FakeSnapshot:
    id = "snap"
    manifest = type("M", (), {"rows": 7})()


def test_a_second_update_joins_the_running_build_and_progress_is_readable():
    release = threading.Event()

    def run(progress, cancel):
        progress(WalkProgress(5, 100.0, 2, 0.05, True))
        release.wait(5)
        return FakeSnapshot()

    first, started = jobs.start("bucket-a", run, expected=10)
    again, started_again = jobs.start("bucket-a", run)
    assert started and not started_again and again is first
    for _ in range(100):
        if first.status().objects:
            break
        threading.Event().wait(0.01)
    status = first.status()
    assert (status.state, status.objects, status.prefixes_left) == (jobs.RUNNING, 5, 2)
    assert status.fraction == 0.5 and "5 objects listed" in status.describe()
    release.set()
    first.join(5)
    done = first.status()
    assert (done.state, done.objects, done.fraction, done.snapshot_id) == (jobs.DONE, 7, 1.0, "snap")
    assert jobs.current("bucket-a") is first


def test_a_failed_or_cancelled_build_says_why_in_a_sentence():
    def fails(progress, cancel):
        raise StorageError("The bucket refused the listing.")

    job, _ = jobs.start("bucket-b", fails)
    job.join(5)
    assert (job.status().state, job.status().describe()) == (jobs.FAILED, "The bucket refused the listing.")

    def cancelled(progress, cancel):
        cancel.wait(5)
        raise BuildCancelled("The listing was cancelled before it finished.")

    job, _ = jobs.start("bucket-b", cancelled)  # the last one ended: a new one starts
    job.cancel.set()
    job.join(5)
    assert job.status().state == jobs.CANCELLED


def test_without_a_previous_snapshot_the_bar_moves_but_never_claims_the_end():
    status = jobs.BuildStatus(jobs.RUNNING, 1_000_000, 0.0, 0, 1.0, None)
    assert 0.9 < status.fraction < 1.0
    assert jobs.BuildStatus(jobs.RUNNING, 500, 0.0, 0, 1.0, 100).fraction == 0.99
