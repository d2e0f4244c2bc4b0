"""One export from rows to a finished file: count rows and bytes as they stream, report progress,
and describe the result for the audit log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from lib.export.destinations import CountingWriter, Destination
from lib.export.formats import DEFAULT_OPTIONS, Format, WriteOptions

# Progress is reported at most this often (seconds), plus once at the end.
PROGRESS_EVERY = 0.5


@dataclass(frozen=True)
class ExportSummary:
    """What an export did, for the person (CLI message, page) and the audit event the desk records."""

    format: str
    rows: int
    bytes: int
    where: str
    columns: tuple[str, ...]
    source: str
    # The filter in words, as the person set it (e.g. "prefix photos/; size >= 10 MB").
    filter: str
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_event(self) -> dict[str, Any]:
        return asdict(self)


def export(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    fmt: Format,
    destination: Destination,
    *,
    options: WriteOptions = DEFAULT_OPTIONS,
    source: str = "",
    filter: str = "",
    progress: Callable[[int, bool], None] | None = None,
) -> ExportSummary:
    """Write every batch to `destination` in `fmt`; `progress(rows_so_far, finished)` is called as it goes."""
    started = time.monotonic()
    counter = _RowCounter(progress)
    with destination.open() as raw:
        out = CountingWriter(raw)
        rows = fmt.write(counter.count(batches), schema, out, options)  # type: ignore[arg-type]
        out.flush()
    counter.finish()
    return ExportSummary(
        format=fmt.name,
        rows=rows,
        bytes=out.written,
        where=destination.where,
        columns=tuple(schema.names),
        source=source,
        filter=filter,
        seconds=round(time.monotonic() - started, 3),
    )


class _RowCounter:
    def __init__(self, progress: Callable[[int, bool], None] | None):
        self.progress = progress
        self.rows = 0
        self.last = time.monotonic()

    def count(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            yield batch
            if self.progress and time.monotonic() - self.last >= PROGRESS_EVERY:
                self.last = time.monotonic()
                self.progress(self.rows, False)

    def finish(self) -> None:
        if self.progress:
            self.progress(self.rows, True)
