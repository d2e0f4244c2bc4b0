"""Debian's Chromium driven by Playwright (Playwright cannot download its own browsers here)."""

from __future__ import annotations

import os
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return os.environ.get("BUCKETDESK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


def throttle_upload(page, bytes_per_second: int, latency_ms: int = 0):
    """Make Chromium send at most `bytes_per_second` from this page (DevTools' network emulation), so
    an upload is still under way when the test acts; returns a function that lifts the limit."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def emulate(upload: int, latency: int) -> None:
        conditions = {"offline": False, "latency": latency, "downloadThroughput": -1, "uploadThroughput": upload}
        cdp.send("Network.emulateNetworkConditions", conditions)

    emulate(bytes_per_second, latency_ms)
    return lambda: emulate(-1, 0)
