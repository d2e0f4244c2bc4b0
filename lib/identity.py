"""Who is using the app: the signed-in user when `[auth]` is configured, else the OS user.

The identity is pinned into every upload grant (`x-amz-meta-uploaded-by`) and every audit record,
so it must be stable and never chosen by the browser. Roles arrive in a later issue.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identity:
    id: str  # what grants and the audit log record: an e-mail, or "local:<os user>"
    display: str
    source: str  # "login" or "local"
    groups: frozenset[str] = frozenset()  # from the ID token's groups claim (access rules' group:<name>)


def local_identity() -> Identity:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in containers without /etc/passwd entries
        user = "unknown"
    return Identity(id=f"local:{user}", display=user, source="local")


def identity_from_user(user: Mapping[str, Any] | None) -> Identity | None:
    """The identity in Streamlit's `st.user` (as a dict); None when nobody is logged in."""
    if not user or not user.get("is_logged_in"):
        return None
    stable = user.get("email") or user.get("sub")
    if not stable:
        return None
    return Identity(id=str(stable), display=str(user.get("name") or stable), source="login")
