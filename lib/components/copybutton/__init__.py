"""A "Copy link" button (Streamlit components v2): copies `data.text` to the clipboard in the browser.

The text is a signed link the page already shows; nothing comes back to Python. The JS uses the
Clipboard API (secure contexts: HTTPS or localhost) and falls back to a selected textarea and
`document.execCommand("copy")` elsewhere. Registration happens in the page (lib/ never imports
streamlit).
"""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent
NAME = "bucketdesk.copybutton"
HTML = '<div class="bd-copy"></div>'


def js() -> str:
    return (ASSETS / "copybutton.js").read_text(encoding="utf-8")


def css() -> str:
    return (ASSETS / "copybutton.css").read_text(encoding="utf-8")


def data(text: str, label: str = "Copy link") -> dict:
    return {"text": text, "label": label}
