"""Command line for schedulers: `python -m lib.inventory build|import|list|search`.

Same configuration as the app (.streamlit/secrets.toml, BUCKETDESK_*, boto3's chain). Results on
stdout, progress and errors on stderr. Exit codes: 0 done, 1 the store or the configuration
failed, 2 bad arguments. Every failure ends with a sentence saying what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TextIO

from lib.config import load_settings
from lib.errors import BadQuery, BucketdeskError
from lib.inventory.query import ObjectQuery, iter_matches
from lib.inventory.store import SnapshotStore
from lib.inventory.walk import WalkProgress
from lib.s3 import S3Gateway

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; this adds the sentence on what to do
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\nRun with --help to see the commands and their options.\n")


def parser() -> argparse.ArgumentParser:
    main = _Parser(prog="python -m lib.inventory", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    main.add_argument("--profile", help="bucket profile from secrets.toml (default: the default profile)")
    commands = main.add_subparsers(dest="command", required=True, parser_class=_Parser)
    build = commands.add_parser("build", help="list the bucket into a new snapshot")
    build.add_argument("--prefix", default="", help="only keys under this prefix")
    build.add_argument("--versions", action="store_true", help="every version and delete marker")
    build.add_argument("--quiet", action="store_true", help="no progress on stderr")
    build.add_argument(
        "--no-search-database",
        action="store_true",
        help="skip preparing this machine's search database (the app builds its own at its first search)",
    )
    imported = commands.add_parser("import", help="make a snapshot from an S3 Inventory report")
    imported.add_argument("manifest_key", metavar="MANIFEST_KEY", help="key of the report's manifest.json")
    commands.add_parser("list", help="the kept snapshots, newest first")
    find = commands.add_parser("search", help="matching keys of the latest snapshot, one per line")
    find.add_argument("query", metavar="QUERY")
    mode = find.add_mutually_exclusive_group()
    mode.add_argument("--glob", action="store_true", help="QUERY is a glob: *.png, photos/**/logo*")
    mode.add_argument("--regex", action="store_true", help="QUERY is a regular expression (RE2)")
    find.add_argument("--prefix", action="append", default=[], help="only keys under this prefix (repeatable)")
    find.add_argument("--case-sensitive", action="store_true")
    find.add_argument("--all-versions", action="store_true", help="noncurrent versions and delete markers too")
    find.add_argument("--json", action="store_true", help="JSON Lines with every column")
    return main


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        settings = load_settings()
        if settings.needs_sandbox:
            err.write(
                "No bucket is configured, and the embedded sandbox only runs inside the app.\n"
                "Set BUCKETDESK_BUCKET (and boto3's AWS_* settings) or a profile in .streamlit/secrets.toml.\n"
            )
            return EXIT_FAILED
        if args.profile and args.profile not in settings.profiles:
            err.write(f"There is no profile {args.profile!r}; choose one of {', '.join(sorted(settings.profiles))}.\n")
            return EXIT_USAGE
        store = SnapshotStore(S3Gateway(settings.profile(args.profile)))
        return _COMMANDS[args.command](store, args, out, err)
    except BadQuery as exc:
        _explain(err, exc)
        return EXIT_USAGE
    except BucketdeskError as exc:
        _explain(err, exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("Interrupted; the previous snapshot is still the latest.\n")
        return EXIT_FAILED


def _explain(err: TextIO, exc: BucketdeskError) -> None:
    err.write(exc.message.rstrip() + "\n")
    if exc.hint:
        err.write(exc.hint.rstrip() + "\n")


def _build(store: SnapshotStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    def report(p: WalkProgress) -> None:
        if not args.quiet:
            err.write(f"\r{p.objects:,} objects, {p.objects_per_second:,.0f}/s, {p.prefixes_left} pieces left   ")
            err.flush()

    cancel = threading.Event()
    snapshot = store.build(args.prefix, versions=args.versions, progress=report, cancel=cancel)
    if not args.quiet:
        err.write("\n")
    m = snapshot.manifest
    out.write(f"{m.id}\t{m.rows} rows\t{len(m.files)} files\tkept on {m.where}\n")
    out.flush()  # the snapshot is published: say so before the (longer, optional) database step
    if not args.no_search_database:
        # Searches from this machine (the app on this server, `search`) are fast from the first one.
        if not args.quiet:
            err.write("Preparing this machine's search database…\n")
        if not snapshot.prepare_search():
            err.write(
                "Could not prepare the search database (the warning above says why); searches read the snapshot's "
                "Parquet files instead, slower but with the same answers.\n"
            )
    return EXIT_OK


def _import(store: SnapshotStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    snapshot = store.import_report(args.manifest_key)
    m = snapshot.manifest
    out.write(f"{m.id}\t{m.rows} rows\t{len(m.files)} files\tkept on {m.where}\n")
    return EXIT_OK


def _list(store: SnapshotStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    snapshots = store.list()
    if not snapshots:
        err.write("No snapshots yet. Build one with: python -m lib.inventory build\n")
    for snapshot in snapshots:
        m = snapshot.manifest
        scope = f"/{m.prefix}" if m.prefix else "whole bucket"
        what = "all versions" if m.versions else "current objects"
        out.write(f"{m.id}\t{m.finished}\t{m.source}\t{m.rows} rows\t{scope}\t{what}\t{m.where}\n")
    return EXIT_OK


def _search(store: SnapshotStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    mode = "glob" if args.glob else "regex" if args.regex else "substring"
    query = ObjectQuery(
        text=args.query,
        mode=mode,
        case_sensitive=args.case_sensitive,
        prefixes=tuple(args.prefix),
        versions="all" if args.all_versions else "latest",
    )
    query.where_sql()  # a bad pattern is a usage error, before anything is downloaded
    snapshot = store.latest()
    if snapshot is None:
        err.write("There is no snapshot of this bucket yet. Build one with: python -m lib.inventory build\n")
        return EXIT_FAILED
    con = snapshot.connect()
    for batch in iter_matches(con, query):
        for row in batch.to_pylist() if args.json else ({"key": key} for key in batch.column("key").to_pylist()):
            out.write(json.dumps(row, default=_json_value, ensure_ascii=False) if args.json else row["key"])
            out.write("\n")
    return EXIT_OK


def _json_value(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


_COMMANDS = {"build": _build, "import": _import, "list": _list, "search": _search}

if __name__ == "__main__":
    sys.exit(main())
