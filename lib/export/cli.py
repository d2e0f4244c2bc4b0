"""`python -m lib.export`: a bucket's object listing as CSV, Parquet, JSON Lines or Excel.

Same configuration as the app (secrets.toml, BUCKETDESK_*, boto3's credential chain). Progress and
every message go to stderr, so `--output -` can be piped. Exit codes: 0 done (an empty result is
still a file with a header), 2 bad arguments or settings, 1 the storage (or disk) failed; always
with a sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any, NoReturn

import duckdb

from lib.config import ConfigError, Settings, load_settings
from lib.errors import BucketdeskError
from lib.export.arguments import parse_moment, parse_size, parse_storage_classes
from lib.export.columns import EXPORTABLE, UnknownColumns, choose, export_schema, needs_head
from lib.export.destinations import BadDestination, parse_output
from lib.export.formats import FORMATS, WriteOptions
from lib.export.pipeline import ExportSummary, export
from lib.export.request import (
    INVENTORY,
    LIVE,
    SNAPSHOT,
    ExportRequest,
    build_query,
    require_snapshot,
    rows,
    snapshot_words,
    until_before,
)
from lib.s3 import S3Gateway
from lib.units import human_bytes

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROG = "python -m lib.export"

EXAMPLES = f"""examples:
  {PROG} --format csv --output objects.csv
  {PROG} --format parquet --output photos.parquet --prefix photos/ --glob '*.jpg' --min-size 1MB
  {PROG} --format jsonl --output - --since 2024-05-01 --until 2024-05-31 | jq .key
  {PROG} --format xlsx --output s3://reports/objects.xlsx --columns key,size,content_type
  {PROG} --format csv --spreadsheet-safe --source snapshot --output for-excel.csv
"""


class UsageError(BucketdeskError):
    hint = f"Run {PROG} --help for every option."


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is a UsageError (a sentence and exit 2), not a usage dump and exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message[0].upper() + message[1:] + ("" if message.endswith(".") else "."))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Export a bucket's object listing (filtered) as CSV, Parquet, JSON Lines or Excel.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", required=True, choices=list(FORMATS), help="file format")
    parser.add_argument(
        "--output", required=True, metavar="PATH", help="a file, - for stdout (csv, jsonl), or s3://bucket/key"
    )
    parser.add_argument(
        "--source",
        default="live",
        metavar="live|snapshot|inventory:KEY",
        help="live listing (default), the latest snapshot, or an S3 Inventory report by its manifest.json key",
    )
    parser.add_argument("--profile", help="bucket profile from the configuration (default: the default profile)")
    found = parser.add_argument_group("which objects")
    found.add_argument("--prefix", action="append", default=[], help="only keys under this prefix (repeatable)")
    pattern = found.add_mutually_exclusive_group()
    pattern.add_argument("--match", metavar="TEXT", help="keys containing this text")
    pattern.add_argument("--glob", metavar="PATTERN", help="keys matching this glob, e.g. '*.jpg'")
    pattern.add_argument("--regex", metavar="PATTERN", help="keys matching this regular expression (RE2 syntax)")
    found.add_argument("--extension", action="append", default=[], help="only this file extension (repeatable)")
    found.add_argument("--min-size", metavar="SIZE", help="at least this size, e.g. 1500, 10MB, 1GiB")
    found.add_argument("--max-size", metavar="SIZE", help="at most this size")
    found.add_argument("--since", metavar="WHEN", help="modified at or after, e.g. 2024-05-01 or 2024-05-01T12:00Z")
    found.add_argument("--until", metavar="WHEN", help="modified before (a date includes that whole day)")
    found.add_argument("--storage-class", action="append", default=[], help="e.g. STANDARD, GLACIER (repeatable)")
    found.add_argument("--versions", action="store_true", help="every version and delete marker, not only the latest")
    shape = parser.add_argument_group("what the file holds")
    shape.add_argument("--columns", help="comma-separated, in order; from: " + ", ".join(EXPORTABLE))
    shape.add_argument(
        "--spreadsheet-safe",
        action="store_true",
        help="CSV: prefix ' to cells starting with = + - @ (changes those cells; for Excel users)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="parallel listing and HEAD requests (default 16, at most 64)"
    )
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, stderr: IO[str] | None = None) -> int:
    err = stderr or sys.stderr
    try:
        summary = run(argv, env, err)
    except (UsageError, UnknownColumns, BadDestination, ConfigError) as exc:
        return _fail(err, exc, EXIT_USAGE)
    except BucketdeskError as exc:
        return _fail(err, exc, EXIT_FAILED)
    except duckdb.Error as exc:
        return _fail(err, BucketdeskError(f"The listing could not be filtered: {exc}"), EXIT_FAILED)
    except BrokenPipeError:
        return _fail(err, BucketdeskError("The export stopped: whatever read stdout closed it early."), EXIT_FAILED)
    except OSError as exc:
        return _fail(err, BucketdeskError(f"The export could not be written: {exc.strerror or exc}."), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(err, BucketdeskError("The export was interrupted; no file was left behind."), 130)
    err.write(
        f"Exported {summary.rows:,} {'row' if summary.rows == 1 else 'rows'} ({human_bytes(summary.bytes)}) "
        f"as {FORMATS[summary.format].label} to {summary.where} in {summary.seconds:.1f} s.\n"
    )
    return EXIT_OK


def run(argv: Sequence[str] | None, env: Mapping[str, str] | None, err: IO[str]) -> ExportSummary:
    """Check every argument, then export; raises BucketdeskError subclasses (see main)."""
    args = build_parser().parse_args(argv)
    fmt = FORMATS[args.format]
    columns = choose(args.columns)
    filters = _filters(args)
    if not 1 <= args.concurrency <= 64:
        raise UsageError("--concurrency must be between 1 and 64.")
    try:
        query = build_query(filters)
    except BucketdeskError as exc:
        raise UsageError(exc.message, exc.hint) from None
    settings = load_settings(env=env)
    gateway = S3Gateway(_profile(settings, args.profile))
    destination = parse_output(args.output, fmt, lambda: gateway.client)
    request = ExportRequest(
        query=query,
        source=args.source,
        columns=columns,
        format=args.format,
        spreadsheet_safe=args.spreadsheet_safe,
        concurrency=args.concurrency,
    )
    if needs_head(columns):
        err.write("The chosen columns need one HEAD request per exported object; this takes longer on big buckets.\n")
    latest = None
    if request.source == SNAPSHOT:
        latest = require_snapshot(gateway)
        err.write(f"Reading the latest snapshot ({snapshot_words(latest)}).\n")
    # The command line runs with the operator's own credentials: the whole bucket is in scope.
    return export(
        rows(gateway, request, None, snapshot=latest),
        export_schema(columns),
        fmt,
        destination,
        options=WriteOptions(spreadsheet_safe=args.spreadsheet_safe),
        source=args.source,
        filter=request.describe(),
        progress=_progress(err),
    )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    """The filter arguments as ObjectQuery fields, parsed and checked (UsageError on the first bad one)."""
    try:
        filters: dict[str, Any] = {
            "prefixes": tuple(args.prefix),
            "text": args.match or args.glob or args.regex,
            "mode": "substring" if args.match else "glob" if args.glob else "regex" if args.regex else None,
            # Keys are matched as typed: `--match Photo` does not find photo.jpg.
            "case_sensitive": True,
            "extensions": tuple(ext.strip().lstrip(".").lower() for ext in args.extension if ext.strip()),
            "min_size": parse_size(args.min_size) if args.min_size else None,
            "max_size": parse_size(args.max_size) if args.max_size else None,
            "modified_since": parse_moment(args.since) if args.since else None,
            "modified_until": until_before(parse_moment(args.until, end_of_day=True)) if args.until else None,
            "storage_classes": parse_storage_classes(args.storage_class),
            "versions": "all" if args.versions else "latest",
        }
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if (
        filters["min_size"] is not None
        and filters["max_size"] is not None
        and filters["min_size"] > filters["max_size"]
    ):
        raise UsageError("--min-size is larger than --max-size, so nothing could match.")
    if (
        filters["modified_since"]
        and filters["modified_until"]
        and filters["modified_since"] > filters["modified_until"]
    ):
        raise UsageError("--since is not before --until, so nothing could match.")
    if filters["mode"] == "regex":
        _check_regex(filters["text"])
    if not (args.source in (LIVE, SNAPSHOT) or args.source.startswith(INVENTORY) and args.source[len(INVENTORY) :]):
        raise UsageError(f"--source {args.source!r}: use live, snapshot, or inventory:<manifest.json key>.")
    return filters


def _check_regex(pattern: str) -> None:
    # DuckDB runs the filter, so DuckDB's engine (RE2) is the judge of the pattern.
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [pattern])
    except duckdb.Error as exc:
        raise UsageError(f"--regex {pattern!r} is not a regular expression DuckDB (RE2) accepts: {exc}") from None


def _profile(settings: Settings, name: str | None):
    if settings.needs_sandbox:
        raise UsageError(
            "No bucket is configured, so there is nothing to export (the app's sandbox lives only inside the app).",
            "Set BUCKETDESK_BUCKET (and AWS_* credentials or AWS_ENDPOINT_URL_S3), or a profile in .streamlit/secrets.toml.",
        )
    if name and name not in settings.profiles:
        raise UsageError(f"--profile {name!r} is not configured; choose one of {', '.join(sorted(settings.profiles))}.")
    return settings.profile(name)


def _progress(err: IO[str]):
    interactive = err.isatty()

    def report(rows: int, finished: bool) -> None:
        if interactive:
            err.write(f"\r{rows:,} rows written" + ("\n" if finished else "…"))
        elif not finished:
            err.write(f"{rows:,} rows written…\n")
        err.flush()

    return report


def _fail(err: IO[str], exc: BucketdeskError, code: int) -> int:
    err.write(f"{PROG}: {exc.message}\n")
    if exc.hint:
        err.write(f"{exc.hint}\n")
    return code
