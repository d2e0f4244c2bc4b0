"""Benchmark (not a test): how long does the audit page's Usage tab take on a large snapshot?

    python bench/audit_page_bench.py                  # 100,000 rows
    python bench/audit_page_bench.py --rows 1000000 --repeat 5

Synthesises a versions snapshot (bench/audit_bench.py's synthesise: folders, extensions, storage
classes, ages, ~25 % noncurrent versions, ~3 % delete markers) and publishes it as the sandbox
bucket's latest snapshot (on disk), then runs the whole app through AppTest on /audit as an admin:
every run is the shell (settings, desk, navigation) plus the Usage tab's queries and rendering.
The baseline, measured in the same run, is the same page on an empty snapshot; the Usage queries
alone (lib.audit.usage on the same files) are timed too. Medians of --repeat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_bench import synthesise  # noqa: E402
from lib.audit import usage  # noqa: E402
from lib.inventory import query  # noqa: E402
from lib.inventory.schema import SCHEMA  # noqa: E402
from lib.inventory.store import SnapshotStore  # noqa: E402
from lib.s3 import S3Gateway  # noqa: E402
from lib.sandbox import start_sandbox  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"


def page_seconds(repeat: int) -> float:
    from streamlit.testing.v1 import AppTest

    times = []
    for _ in range(repeat):
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.switch_page("pages/audit.py")
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, [e.value for e in at.exception]
        assert any(m.label == "Objects" for m in at.metric), "the Usage tab did not render its totals"
    return statistics.median(times)


def queries_seconds(files: list[Path], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        con = query.connect(files)
        usage.totals(con)
        usage.by_prefix(con)
        usage.by_family(con)
        usage.by_extension(con)
        usage.by_storage_class(con)
        usage.by_age(con, datetime.now(UTC))
        usage.largest(con)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-audit-page-bench-"))
    os.chdir(workdir)  # the app's cache dirs and database are relative: keep them here
    os.environ["HOME"] = str(workdir)
    for name in [n for n in os.environ if n.startswith(("BUCKETDESK_", "AWS_"))]:
        del os.environ[name]
    os.environ["BUCKETDESK_DATABASE_PATH"] = str(workdir / "bucketdesk.db")

    box = start_sandbox()
    store = SnapshotStore(S3Gateway(box.profile), mode="disk", cache_dir=Path(".bucketdesk/inventory"))

    store.publish(iter(SCHEMA.empty_table().to_batches()), source="listing", versions=True)
    baseline = page_seconds(args.repeat)

    table = synthesise(args.rows)
    snapshot = store.publish(iter(table.to_batches(max_chunksize=100_000)), source="listing", versions=True)
    page = page_seconds(args.repeat)
    queries = queries_seconds(snapshot.local_files(), args.repeat)

    print(f"audit page, Usage tab, median of {args.repeat} (AppTest, whole app run):")
    print(f"  empty snapshot (baseline)      {baseline:7.3f} s")
    print(f"  {args.rows:>9,}-row snapshot        {page:7.3f} s   ({page / baseline:5.2f}x baseline)")
    print(f"  of which the Usage queries     {queries:7.3f} s   (lib.audit.usage on the same files)")


if __name__ == "__main__":
    main()
