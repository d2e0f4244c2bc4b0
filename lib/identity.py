"""Who is using the app: the signed-in user when `[auth]` is configured, else the OS user.

The identity is pinned into every upload grant (`x-amz-meta-uploaded-by`) and every audit record,
so it must be stable and never chosen by the browser. It comes from the provider's ID token, as
Streamlit hands it over in `st.user`:

- the e-mail address (lower-cased, so one person is one identity whatever case the provider sends),
  unless the provider marks it `email_verified: false`: an address the provider has not checked
  proves nothing about who is signing in;
- else the subject, as `sub:<sub>`: the prefix keeps a subject that looks like an e-mail address
  (some providers let users choose it) from ever being taken for that address.

Groups come from the claim the setting `groups_claim` names: a list of strings, or one string
separated by spaces or commas (providers differ).
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_GROUPS_CLAIM = "groups"
SUBJECT_PREFIX = "sub:"
LOCAL_PREFIX = "local:"

_GROUP_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Identity:
    id: str  # what grants and the audit log record: an e-mail, "sub:<subject>" or "local:<os user>"
    display: str
    source: str  # "login" or "local"
    groups: tuple[str, ...] = ()
    # What the provider said about the e-mail: True, False (then `id` is the subject), or None when it
    # said nothing (many providers, e.g. Entra ID, never send the claim) or nobody signed in.
    email_verified: bool | None = None

    @property
    def email_refused(self) -> bool:
        """The provider sent an e-mail address it has not verified, so the subject stands in."""
        return self.email_verified is False


def local_identity() -> Identity:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in containers without /etc/passwd entries
        user = "unknown"
    return Identity(id=f"{LOCAL_PREFIX}{user}", display=user, source="local")


def identity_from_user(user: Mapping[str, Any] | None, groups_claim: str = DEFAULT_GROUPS_CLAIM) -> Identity | None:
    """The identity in Streamlit's `st.user` (as a dict); None when nobody is signed in."""
    if not user or not user.get("is_logged_in"):
        return None
    verified = email_verified(user.get("email_verified"))
    email = str(user.get("email") or "").strip().lower()
    subject = str(user.get("sub") or "").strip()
    if email and verified is not False:
        stable = email
    elif subject:
        stable = SUBJECT_PREFIX + subject
    else:
        return None
    name = str(user.get("name") or "").strip()
    return Identity(
        id=stable,
        display=name or stable,
        source="login",
        groups=groups_from_claim(user.get(groups_claim)),
        email_verified=verified if email else None,
    )


def email_verified(value: Any) -> bool | None:
    """The `email_verified` claim as True/False, None when absent; anything unexpected is not verified.

    Some providers (older Cognito, some SAML bridges) send the strings "true"/"false"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def groups_from_claim(value: Any) -> tuple[str, ...]:
    """Group names from a claim: a list of strings or one space/comma separated string; in order, once each.

    Anything else (a number, a table, a missing claim) is no groups: guessing would grant access."""
    if isinstance(value, str):
        items: list[Any] = _GROUP_SEPARATORS.split(value)
    elif isinstance(value, list | tuple):
        items = [item for item in value if isinstance(item, str)]
    else:
        return ()
    groups = (item.strip() for item in items)
    return tuple(dict.fromkeys(group for group in groups if group))
