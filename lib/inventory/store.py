"""Snapshots: a folder of Parquet files in SCHEMA plus a manifest.json, kept in the bucket or on disk.

Where (`inventory_store`): `bucket` under `.bucketdesk/inventory/<id>/`, `disk` under
`inventory_cache_dir`, or `auto`: the bucket, falling back to disk when the bucket refuses the
write (like thumbnails). Queries always read local files: a snapshot kept in the bucket is
downloaded once into `inventory_cache_dir`, and beside its files each snapshot gets a local search
database (lib.inventory.localdb, built once when Browse's search first needs it); `Snapshot.connect`
answers from that database when it is ready and from the Parquet files until then.

A build streams batches into Parquet (bounded row groups, a new file every ROWS_PER_FILE rows), so
memory stays flat at any bucket size. The manifest is written last: a snapshot without one does
not exist, so a failed or cancelled build leaves the previous snapshot the latest (and its
partial files are removed). After a build, snapshots beyond `inventory_keep` are deleted.
"""

from __future__ import annotations

import builtins
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lib.errors import AccessDenied, BucketdeskError, InventoryError, StorageError
from lib.inventory import localdb, query
from lib.inventory.schema import SCHEMA
from lib.inventory.walk import WalkProgress, walk
from lib.names import safe_name
from lib.s3 import S3Gateway, storage_errors

log = logging.getLogger(__name__)

BUCKET_PREFIX = ".bucketdesk/inventory/"
MANIFEST = "manifest.json"
ROWS_PER_FILE = 2_000_000  # ~60 MB of Parquet: small enough to download and scan file by file
ROW_GROUP_ROWS = 100_000  # DuckDB and Athena read row groups in parallel and skip them by statistics
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    id: str
    source: str  # "listing" | "s3-inventory"
    bucket: str
    prefix: str
    versions: bool
    started: str  # ISO 8601 UTC
    finished: str
    rows: int
    files: list[str]
    schema: list[dict[str, str]] = field(
        default_factory=lambda: [{"name": f.name, "type": str(f.type)} for f in SCHEMA]
    )
    where: str = "disk"  # "bucket" | "disk": where the snapshot is kept
    report: str | None = None  # the S3 Inventory manifest key, for imports
    format_version: int = FORMAT_VERSION

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.started)

    @property
    def finished_at(self) -> datetime:
        return datetime.fromisoformat(self.finished)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Snapshot:
    manifest: Manifest
    store: SnapshotStore

    @property
    def id(self) -> str:
        return self.manifest.id

    def local_files(self) -> list[Path]:
        """The Parquet files on this machine (downloaded into the cache once, when kept in the bucket)."""
        return self.store._local_files(self.manifest)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the view `objects` over this snapshot: its local search database
        when one is ready (lib.inventory.localdb), else its Parquet files. Same rows, same SQL."""
        database = self.store._database(self.manifest)
        if database is not None:
            return query.connect_database(database)
        return query.connect(self.local_files())

    def search_ready(self) -> bool:
        """Is the local search database built (so `connect` answers from it)?"""
        return self.store._database(self.manifest) is not None

    def prepare_search(self) -> bool:
        """Build the local search database if it is not there (downloading the files first when the
        snapshot is kept in the bucket); False when it could not be built: searches then read the
        Parquet files, slower but the same answers."""
        return self.store._prepare_database(self.manifest)


class SnapshotStore:
    """The snapshots of one bucket profile."""

    def __init__(
        self,
        gateway: S3Gateway,
        *,
        mode: str | None = None,
        keep: int | None = None,
        cache_dir: Path | None = None,
        concurrency: int | None = None,
        rows_per_file: int = ROWS_PER_FILE,
    ):
        profile = gateway.profile
        self.gateway = gateway
        self.mode = mode or profile.inventory_store
        self.keep = keep or profile.inventory_keep
        self.concurrency = concurrency or profile.listing_concurrency
        # Absolute now: background threads (search database builds) outlive the request that started
        # them, and a relative path would follow any later change of the working directory.
        self.root = (Path(cache_dir or profile.inventory_cache_dir) / safe_name(profile.bucket)).resolve()
        self.rows_per_file = rows_per_file
        self._download_lock = threading.Lock()
        self._database_locks: dict[str, threading.Lock] = {}
        self._database_locks_lock = threading.Lock()

    # --- building ---------------------------------------------------------------------------

    def build(
        self,
        prefix: str = "",
        versions: bool = False,
        progress: Callable[[WalkProgress], None] | None = None,
        cancel: threading.Event | None = None,
        **walk_options: Any,
    ) -> Snapshot:
        """List the bucket (or `prefix`) in parallel into a new snapshot; the previous one stays until it is done."""
        batches = walk(
            self.gateway,
            prefix,
            versions=versions,
            concurrency=self.concurrency,
            progress=progress,
            cancel=cancel,
            **walk_options,
        )
        return self.publish(batches, source="listing", prefix=prefix, versions=versions)

    def import_report(self, manifest_key: str) -> Snapshot:
        """A snapshot from an AWS S3 Inventory report (its manifest.json key), without listing."""
        from lib.inventory import s3inventory

        manifest = s3inventory.read_manifest(self.gateway, manifest_key)
        batches = s3inventory.report_batches(self.gateway, manifest_key, manifest)
        versions = s3inventory.has_versions(manifest)
        return self.publish(batches, source="s3-inventory", versions=versions, report=manifest_key)

    def publish(
        self,
        batches: Iterable[pa.RecordBatch],
        *,
        source: str,
        prefix: str = "",
        versions: bool = False,
        report: str | None = None,
    ) -> Snapshot:
        """Write `batches` as a new snapshot, manifest last; on any failure nothing of it remains."""
        started = _now()
        snapshot_id = started.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)
        staging = self.root / "snapshots" / snapshot_id
        where = "disk" if self.mode == "disk" else "bucket"
        uploaded: list[str] = []
        try:
            files, rows = [], 0
            for path, count in self._write_files(batches, staging):
                files.append(path.name)
                rows += count
                if where == "bucket":
                    where = self._upload(path, f"{BUCKET_PREFIX}{snapshot_id}/{path.name}", uploaded)
            manifest = Manifest(
                id=snapshot_id,
                source=source,
                bucket=self.gateway.bucket,
                prefix=prefix,
                versions=versions,
                started=started.isoformat(),
                finished=_now().isoformat(),
                rows=rows,
                files=files,
                where=where,
                report=report,
            )
            _write_atomically(staging / MANIFEST, manifest.to_json())
            if where == "bucket":
                self._upload(staging / MANIFEST, f"{BUCKET_PREFIX}{snapshot_id}/{MANIFEST}", uploaded)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            self._delete_keys(uploaded)
            raise
        self._prune()
        return Snapshot(manifest, self)

    def _write_files(self, batches: Iterable[pa.RecordBatch], folder: Path) -> Iterator[tuple[Path, int]]:
        """Stream batches into part-00000.parquet, part-00001.parquet…; yields each file once closed."""
        folder.mkdir(parents=True, exist_ok=True)
        writer: pq.ParquetWriter | None = None
        path, in_file, number = folder / "part-00000.parquet", 0, 0
        for batch in batches:
            offset = 0
            while offset < batch.num_rows:
                if writer is None:
                    path = folder / f"part-{number:05d}.parquet"
                    writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
                take = min(batch.num_rows - offset, self.rows_per_file - in_file)
                writer.write_batch(batch.slice(offset, take), row_group_size=ROW_GROUP_ROWS)
                offset += take
                in_file += take
                if in_file >= self.rows_per_file:
                    writer.close()
                    yield path, in_file
                    writer, in_file, number = None, 0, number + 1
        if writer is not None or number == 0:
            if writer is None:  # an empty listing is still a snapshot: one file with no rows
                writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
            writer.close()
            yield path, in_file

    def _upload(self, path: Path, key: str, uploaded: builtins.list[str]) -> str:
        """Put one file in the bucket; "disk" when auto mode meets a bucket that refuses writes."""
        try:
            with storage_errors(f"writing the inventory snapshot file {key}"):
                self.gateway.client.upload_file(str(path), self.gateway.bucket, key)
            uploaded.append(key)
            return "bucket"
        except AccessDenied:
            if self.mode != "auto":
                raise
            log.info("bucket %s refuses inventory writes; keeping snapshots on disk", self.gateway.bucket)
            self._delete_keys(uploaded)
            uploaded.clear()
            return "disk"

    # --- reading ----------------------------------------------------------------------------

    def list(self) -> list[Snapshot]:
        """Every complete snapshot (one with a manifest), newest first."""
        manifests: dict[str, Manifest] = {}
        if self.mode != "disk":
            try:
                for manifest in self._bucket_manifests():
                    manifests[manifest.id] = manifest
            except AccessDenied:
                if self.mode == "bucket":
                    raise
        for manifest in self._disk_manifests():
            manifests.setdefault(manifest.id, manifest)
        return [Snapshot(m, self) for m in sorted(manifests.values(), key=lambda m: m.id, reverse=True)]

    def latest(self) -> Snapshot | None:
        snapshots = self.list()
        return snapshots[0] if snapshots else None

    def _bucket_manifests(self) -> Iterator[Manifest]:
        ids: builtins.list[str] = []
        token = None
        while True:
            page = self.gateway.list_page(BUCKET_PREFIX, delimiter="/", token=token)
            ids += [p["Prefix"][len(BUCKET_PREFIX) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
            token = page.get("NextContinuationToken")
            if not token:
                break
        for snapshot_id in sorted(ids, reverse=True):
            cached = self.root / "snapshots" / snapshot_id / MANIFEST
            manifest = _cached_manifest(cached)
            if manifest is not None:
                yield manifest
                continue
            key = f"{BUCKET_PREFIX}{snapshot_id}/{MANIFEST}"
            if self.gateway.head(key) is None:
                continue  # a build still running (or one that died before publishing)
            yield Manifest.from_json(self.gateway.read(key))

    def _disk_manifests(self) -> Iterator[Manifest]:
        folder = self.root / "snapshots"
        if not folder.is_dir():
            return
        for path in folder.glob(f"*/{MANIFEST}"):
            try:
                manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("skipping unreadable snapshot manifest %s: %s", path, exc)
                continue
            if manifest.where == "disk":
                yield manifest

    def _local_files(self, manifest: Manifest) -> builtins.list[Path]:
        folder = self.root / "snapshots" / manifest.id
        paths = [folder / name for name in manifest.files]
        if manifest.where == "disk":
            missing = [p for p in paths if not p.is_file()]
            if missing:
                raise InventoryError(
                    f"Snapshot {manifest.id} is missing {missing[0].name} on this server.",
                    "Build a new snapshot; disk snapshots live on the server that built them.",
                )
            return paths
        with self._download_lock:
            folder.mkdir(parents=True, exist_ok=True)
            for path in paths:
                if path.is_file():
                    continue
                partial = path.with_suffix(".part")
                key = f"{BUCKET_PREFIX}{manifest.id}/{path.name}"
                with storage_errors(f"downloading the inventory snapshot file {key}"):
                    self.gateway.client.download_file(self.gateway.bucket, key, str(partial))
                partial.replace(path)  # atomic: a reader never sees half a file
            _write_atomically(folder / MANIFEST, manifest.to_json())
        return paths

    # --- the local search database -----------------------------------------------------------

    def _database(self, manifest: Manifest) -> Path | None:
        path = localdb.path_in(self.root / "snapshots" / manifest.id)
        return path if localdb.is_current(path, manifest.id) else None

    def _prepare_database(self, manifest: Manifest) -> bool:
        with self._database_locks_lock:
            lock = self._database_locks.setdefault(manifest.id, threading.Lock())
        with lock:  # one build per snapshot in this process; another process builds its own copy
            if self._database(manifest) is not None:
                return True
            try:
                files = self._local_files(manifest)
                localdb.build(self.root / "snapshots" / manifest.id, manifest.id, files)
            except BucketdeskError as exc:  # the download failed: the next search says so itself
                log.warning("could not fetch snapshot %s for its search database: %s", manifest.id, exc.message)
                return False
            except (duckdb.Error, OSError) as exc:  # e.g. a full disk: searches read the Parquet files
                log.warning("could not build the search database of snapshot %s: %s", manifest.id, exc)
                return False
            return True

    # --- keeping the last few ---------------------------------------------------------------

    def _prune(self) -> None:
        try:
            snapshots = self.list()
        except StorageError as exc:
            log.warning("could not list snapshots to prune: %s", exc.message)
            return
        for old in snapshots[self.keep :]:
            self.delete(old.manifest)

    def delete(self, manifest: Manifest) -> None:
        if manifest.where == "bucket":
            keys = [f"{BUCKET_PREFIX}{manifest.id}/{MANIFEST}"]  # the manifest first: it stops existing at once
            keys += [f"{BUCKET_PREFIX}{manifest.id}/{name}" for name in manifest.files]
            self._delete_keys(keys)
        shutil.rmtree(self.root / "snapshots" / manifest.id, ignore_errors=True)

    def _delete_keys(self, keys: builtins.list[str]) -> None:
        for key in keys:
            try:
                self.gateway.delete(key)
            except StorageError as exc:  # a leftover file costs storage, not correctness
                log.warning("could not delete %s: %s", key, exc.message)


def _now() -> datetime:
    return datetime.now(UTC)


def _cached_manifest(path: Path) -> Manifest | None:
    """The manifest cached on this server, or None (absent, or damaged: then the bucket's copy decides)."""
    if not path.is_file():
        return None
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring unreadable cached manifest %s: %s", path, exc)
        return None


def _write_atomically(path: Path, text: str) -> None:
    """Readers (another thread listing snapshots) see the old file or the whole new one, never half."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
