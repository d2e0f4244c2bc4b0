"""Chromium as people run it, driven over the bare DevTools protocol (for benchmarks).

Playwright enables DevTools' Network domain (and Page, Runtime, …) on every page it drives, so Chromium
reports every request, its headers and progress to the driver as it happens: work a person's browser
never does, paid for by the measured upload. This driver starts Debian's Chromium with a debugging port
and uses only Target.*, Runtime.evaluate, Page.navigate / addScriptToEvaluateOnNewDocument and
DOM.setFileInputFiles, none of which turns on any reporting.

    with CdpBrowser.launch() as browser:
        page = browser.new_page()
        page.goto(url)                                  # waits until document.readyState is "complete"
        page.evaluate("1 + 1")                          # -> 2 (promises are awaited)
        page.set_input_files("input[type=file]", [path])  # the selector is searched in shadow roots too
        page.close()
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from websockets.sync.client import connect

from tests.support.browser import CHROMIUM_ARGS, chromium_path

# Finds the first element matching a selector in the document or any open shadow root under it.
_DEEP_QUERY = """(selector) => {
  const seen = [document];
  while (seen.length) {
    const root = seen.shift();
    const hit = root.querySelector(selector);
    if (hit) return hit;
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) seen.push(el.shadowRoot);
  }
  return null;
}"""


def deep(selector: str) -> str:
    """A JavaScript expression: the first element matching `selector`, in the document or a shadow root."""
    return f"({_DEEP_QUERY})({json.dumps(selector)})"


class CdpError(RuntimeError):
    pass


class CdpBrowser:
    def __init__(self, process: subprocess.Popen, profile: Path, ws_url: str):
        self.process, self.profile = process, profile
        self.socket = connect(ws_url, max_size=None, open_timeout=30)
        self.ids = itertools.count(1)

    @classmethod
    def launch(cls, timeout: float = 30) -> CdpBrowser:
        profile = Path(tempfile.mkdtemp(prefix="bucketdesk-cdp-"))
        command = [chromium_path() or "chromium", "--headless", *CHROMIUM_ARGS, "--remote-debugging-port=0"]
        command += [f"--user-data-dir={profile}", "about:blank"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise CdpError(f"Chromium did not open its debugging port (exit code {process.poll()})")
            time.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        return cls(process, profile, f"ws://127.0.0.1:{port}{path}")

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 3600):
        """One command; its result. Events (none are enabled but Target's own) are skipped."""
        ident = next(self.ids)
        message: dict = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def new_page(self) -> CdpPage:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return CdpPage(self, target, session)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # closing anyway: the browser may be gone already
            pass
        self.socket.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> CdpBrowser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CdpPage:
    def __init__(self, browser: CdpBrowser, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session

    def send(self, method: str, params: dict | None = None, timeout: float = 3600):
        return self.browser.send(method, params, self.session, timeout)

    def add_init_script(self, source: str) -> None:
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def goto(self, url: str, timeout: float = 90) -> None:
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while self.evaluate("location.href") != url or self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise CdpError(f"{url} did not load in {timeout:.0f} s")
            time.sleep(0.1)

    def evaluate(self, expression: str, arg=None, timeout: float = 3600):
        """The value of `expression` (a function of `arg` when one is given), promises awaited."""
        if arg is not None:
            expression = f"({expression})({json.dumps(arg)})"
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, timeout
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 90, poll_ms: int = 50):
        """Waits in the page (no traffic meanwhile) until `condition` (an expression) is truthy; its value."""
        source = f"""new Promise((resolve, reject) => {{
            const end = Date.now() + {timeout * 1000};
            const check = () => {{
                let value; try {{ value = ({condition}); }} catch (err) {{ value = null; }}
                if (value) resolve(value); else if (Date.now() > end) reject(new Error("timed out"));
                else setTimeout(check, {poll_ms});
            }};
            check();
        }})"""
        return self.evaluate(source, timeout=timeout + 10)

    def set_input_files(self, selector: str, paths: list[str]) -> None:
        found = self.send("Runtime.evaluate", {"expression": deep(selector), "returnByValue": False})["result"]
        if "objectId" not in found:
            raise CdpError(f"no element matches {selector}")
        self.send("DOM.setFileInputFiles", {"files": [str(p) for p in paths], "objectId": found["objectId"]})

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
