"""Start a throwaway LocalStack (host mode, no Docker) for tests, and talk to it with boto3.

    ls = start_localstack()          # free port, own temp dirs, waits until S3 is up
    s3 = localstack_client(ls.endpoint_url)
    ...
    ls.stop()                        # kills the whole process group, removes the temp dirs

LocalStack runs from its own virtualenv (its pins clash with the app's): the python named by
`BUCKETDESK_LOCALSTACK_PYTHON`, else `<repo>/.venv-localstack/bin/python` as made by
`scripts/localstack-venv.sh`. `LocalStackUnavailable` means that python does not exist, so a
caller can decide between skipping and failing; any other startup problem raises
`LocalStackFailed` carrying the log's tail and path.

Isolation: in host mode LocalStack puts every directory it writes (state, cache, tmp, logs,
certificates) under `FILESYSTEM_ROOT` (default: inside its own site-packages, shared by every
run), and its scratch `config.TMP_FOLDER` under `tempfile.gettempdir()`, i.e. `TMPDIR`. Both
point into a fresh temp dir per launch, so parallel runs never share state. (LocalStack logs
"TMPDIR is deprecated": that is about its old config variable of that name; the standard meaning,
which Python's tempfile and so LocalStack's spooled uploads follow, is what is used here.)
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
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_ENV = "BUCKETDESK_LOCALSTACK_PYTHON"
DEFAULT_PYTHON = REPO_ROOT / ".venv-localstack" / "bin" / "python"
STARTUP_TIMEOUT = 90.0
TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
REGION = "us-east-1"


class LocalStackUnavailable(RuntimeError):
    """The LocalStack python is not there (run scripts/localstack-venv.sh)."""


class LocalStackFailed(RuntimeError):
    """LocalStack was there but did not come up (the message carries the log tail)."""


def localstack_python() -> Path:
    """The python that runs LocalStack; raises LocalStackUnavailable when it does not exist."""
    configured = os.environ.get(PYTHON_ENV, "").strip()
    python = Path(configured).expanduser() if configured else DEFAULT_PYTHON
    if not python.is_file():
        source = f"${PYTHON_ENV}" if configured else "the default location"
        raise LocalStackUnavailable(
            f"No LocalStack python at {python} ({source}). Create it with scripts/localstack-venv.sh "
            f"and/or set {PYTHON_ENV} to the python it prints."
        )
    return python


@dataclass
class LocalStack:
    endpoint_url: str
    port: int
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    _log_file: object = field(repr=False, default=None)
    _stopped: bool = field(repr=False, default=False)

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def stop(self, keep_log: bool = False, timeout: float = 15.0) -> None:
        """Stop LocalStack and everything it spawned; remove its temp dirs (the log too unless keep_log)."""
        if self._stopped:
            return
        self._stopped = True
        _kill_group(self.process, timeout)
        if self._log_file is not None:
            self._log_file.close()
        if keep_log:
            for child in self.workdir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                elif child != self.log_path:
                    child.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_localstack(
    services: str = "s3",
    *,
    timeout: float = STARTUP_TIMEOUT,
    extra_env: dict[str, str] | None = None,
    attempts: int = 2,
) -> LocalStack:
    """Launch LocalStack on a free 127.0.0.1 port and wait until every service in `services` is up."""
    python = localstack_python()
    last_error: LocalStackFailed | None = None
    for _ in range(attempts):
        try:
            return _launch(python, services, timeout, extra_env or {})
        except LocalStackFailed as exc:
            last_error = exc
            # A port taken between picking and binding is worth another try; anything else is not.
            if "address already in use" not in str(exc).lower():
                raise
    assert last_error is not None
    raise last_error


def app_env(endpoint_url: str, bucket: str) -> dict[str, str]:
    """The environment that points the app at `bucket` in this LocalStack (path-style, its test keys)."""
    return {
        "BUCKETDESK_BUCKET": bucket,
        "BUCKETDESK_ADDRESSING_STYLE": "path",
        "AWS_ENDPOINT_URL_S3": endpoint_url,
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": REGION,
    }


def localstack_client(endpoint_url: str, **config: object):
    """A boto3 S3 client for LocalStack: test/test credentials, us-east-1, path-style addressing."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            **config,
        ),
        **TEST_CREDENTIALS,
    )


def _launch(python: Path, services: str, timeout: float, extra_env: dict[str, str]) -> LocalStack:
    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-localstack-"))
    (workdir / "fs").mkdir()
    (workdir / "tmp").mkdir()
    log_path = workdir / "localstack.log"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"

    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(
        {
            "SERVICES": services,
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "S3_SKIP_SIGNATURE_VALIDATION": "0",
            "FILESYSTEM_ROOT": str(workdir / "fs"),
            "TMPDIR": str(workdir / "tmp"),
            "PERSISTENCE": "0",
            "DISABLE_EVENTS": "1",  # no analytics calls home
            "DNS_ADDRESS": "0",  # no DNS server on port 53 (parallel runs would fight over it)
            "SKIP_SSL_CERT_DOWNLOAD": "1",  # self-signed cert instead of a download at startup
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env)

    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        [str(python), "-m", "localstack.runtime.main"],
        # A fixed, empty cwd: `python -m` puts the cwd on sys.path, and plux keys its entry-point cache
        # (~/.cache/plux) on sys.path, so a per-run cwd would leave one more cache file behind each run.
        cwd=_stable_cwd(),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop() reaches every child
    )
    stack = LocalStack(endpoint, port, process, workdir, log_path, log_file)
    atexit.register(stack.stop, True)  # safety net if a test run dies before teardown
    try:
        _wait_healthy(stack, [s.strip() for s in services.split(",") if s.strip()], timeout)
    except BaseException:
        stack.stop(keep_log=True)
        raise
    return stack


def _wait_healthy(stack: LocalStack, services: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"{stack.endpoint_url}/_localstack/health"
    status: dict = {}
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise LocalStackFailed(
                f"LocalStack exited with code {stack.process.returncode} before it was ready.\n"
                f"Log: {stack.log_path}\n--- last lines ---\n{stack.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status = json.load(response).get("services", {})
            if all(status.get(name) in {"available", "running"} for name in services):
                return
        except (OSError, ValueError):  # not listening yet / half-started
            pass
        time.sleep(0.25)
    raise LocalStackFailed(
        f"LocalStack did not report {', '.join(services)} healthy at {url} within {timeout:.0f} s "
        f"(last status: {status or 'no answer'}).\nLog: {stack.log_path}\n--- last lines ---\n{stack.log_tail()}"
    )


def _kill_group(process: subprocess.Popen, timeout: float) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Children may outlive the leader (or ignore SIGTERM): finish the group off either way.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def _stable_cwd() -> Path:
    cwd = Path(tempfile.gettempdir()) / "bucketdesk-localstack-cwd"
    cwd.mkdir(exist_ok=True)
    return cwd


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
