"""Run the real app with `streamlit run`, and count the bytes its server receives.

app = start_app(env={...})               # free port, waits for /_stcore/health
with CountingProxy(app.port) as proxy:   # the browser talks to proxy.url, not app.url
    ...; proxy.bytes_to_server             # every byte the Streamlit server was sent
app.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)  # what it was started with (for a restart)

    @property
    def workdir(self) -> Path:
        return self.log_path.parent

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def start_app(
    env: dict[str, str] | None = None,
    timeout: float = 90,
    *,
    port: int | None = None,
    secrets_toml: str | None = None,
    workdir: Path | None = None,
) -> RunningApp:
    """Start streamlit_app.py as users do, with a clean BUCKETDESK_/AWS_ environment plus `env`.

    The app runs in a temporary directory (its cwd and HOME), so `secrets_toml` becomes that
    directory's `.streamlit/secrets.toml`, read by Streamlit and bucketdesk alike, and no secrets
    file is ever written into the checkout. Pass an earlier app's `workdir` (and `port`) to start it
    again as a deploy would: the same multipart_state_dir, audit log and address."""
    port = port or free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BUCKETDESK_", "AWS_", "STREAMLIT_"))}
    clean.update(env or {})
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bucketdesk-app-"))
    if secrets_toml is not None:
        (workdir / ".streamlit").mkdir(exist_ok=True)
        (workdir / ".streamlit" / "secrets.toml").write_text(secrets_toml, encoding="utf-8")
    clean.setdefault("BUCKETDESK_AUDIT_LOG_PATH", str(workdir / "audit.jsonl"))
    clean["HOME"] = str(workdir)  # no ~/.streamlit/secrets.toml of the developer's
    log_path = workdir / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "streamlit_app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, cwd=workdir, env=clean, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    app = RunningApp(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path, env=dict(env or {}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return app
        except OSError:
            time.sleep(0.3)
    app.stop()
    raise RuntimeError(f"streamlit did not become healthy in {timeout} s:\n{app.log_tail()}")


def start_again(app: RunningApp) -> RunningApp:
    """The stopped `app` started again as a deploy does: same address, settings, directory (so the same
    multipart_state_dir and audit log). Session state, held in the old process, is gone."""
    app.stop()
    return start_app(app.env, port=app.port, workdir=app.workdir)


class CountingProxy:
    """A TCP proxy on 127.0.0.1 that forwards to a port and counts bytes in each direction.

    Placed in front of the Streamlit server it measures what the app server receives (HTTP,
    WebSocket frames, everything), which is how we prove file bytes bypass it."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.bytes_to_server = 0
        self.bytes_to_client = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False

    def __enter__(self) -> CountingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True
        self._listener.close()

    def reset(self) -> None:
        with self._lock:
            self.bytes_to_server = self.bytes_to_client = 0

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the app is down (a restart): this connection fails, the next may not
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while chunk := source.recv(65536):
                with self._lock:
                    if to_server:
                        self.bytes_to_server += len(chunk)
                    else:
                        self.bytes_to_client += len(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
