"""Who may do what, where: roles, access rules and prefix scopes, declared as data.

A *rule* names people (`who`), gives them *roles* on some *prefixes* (default: the whole bucket) of
some bucket profiles (default: every profile). A role is a set of *actions*; a person's permissions
in one bucket are the union over every rule that matches them. Nothing here touches S3: the action
layer (lib.desk) asks `Access` before it acts.

Prefixes and keys are compared on whole segments (`design/` never admits `design-old/`), and a key
is judged in every form something along the way may read it in: as stored (NFC), and
percent-decoded (a `%2F` that a proxy or a copied URL turns into `/`). A key with a `.` or `..`
segment in any form is outside every prefix, so no spelling of a path walks out of a scope.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from lib.errors import PermissionDenied
from lib.names import user_segment

DELIMITER = "/"
USER_PLACEHOLDER = "{user}"
WHOLE_BUCKET = ""


class Action(StrEnum):
    """Everything a person can ask bucketdesk to do. Pages and the desk name actions, never roles."""

    BROWSE = "browse"  # list a folder
    SEARCH = "search"  # find keys by name (listings, later the inventory index)
    DETAILS = "details"  # HEAD, tags, versions
    PREVIEW = "preview"  # read the first bytes, thumbnails
    LINK = "link"  # signed GET links: the table's row links, after-upload links
    SHARE = "share"  # a share link with a chosen expiry
    UPLOAD = "upload"  # sign uploads and parts, finish or cancel one's own uploads
    EXPORT = "export"  # export listings
    INDEX = "index"  # build the inventory index (walks a prefix)
    AUDIT = "audit"  # read the audit log, usage, configuration
    DELETE = "delete"  # delete an object
    ABORT_UNFINISHED = "abort-unfinished"  # abort anyone's unfinished multipart upload


ROLES: dict[str, frozenset[Action]] = {
    "viewer": frozenset({Action.BROWSE, Action.SEARCH, Action.DETAILS, Action.PREVIEW, Action.LINK, Action.SHARE}),
    "uploader": frozenset({Action.UPLOAD}),
    "analyst": frozenset({Action.EXPORT, Action.INDEX}),
    "admin": frozenset(Action),
}
# The pages and the action each needs somewhere in the bucket (None: everyone admitted sees it).
# Which role reaches which page follows from ROLES; this table is the one place pages are gated.
PAGE_ACTIONS: dict[str, Action | None] = {
    "home": None,
    "upload": Action.UPLOAD,
    "browse": Action.BROWSE,
    "audit": Action.AUDIT,
    "export": Action.EXPORT,
}

NO_ACCESS_HINT = PermissionDenied.hint


# --- keys and prefixes ---------------------------------------------------------------------------


def _segments_safe(text: str) -> bool:
    return not any(part in {".", ".."} for part in text.split(DELIMITER)) and "\\" not in text


def key_forms(key: str) -> set[str]:
    """Every spelling a key may be read as: stored (NFC) and fully percent-decoded (NFC)."""
    stored = unicodedata.normalize("NFC", key)
    decoded = stored
    for _ in range(5):  # %252F -> %2F -> /: decode until it stops changing
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    return {stored, unicodedata.normalize("NFC", decoded)}


def is_under(key: str, prefix: str) -> bool:
    """Does `key` (an object key or a folder prefix) lie inside the folder `prefix`, in every form?

    `prefix` is a normalised scope prefix ("" or ending in "/"); the match is on whole segments."""
    if prefix == WHOLE_BUCKET:
        return True  # nothing to walk out of
    forms = key_forms(key)
    if not all(_segments_safe(form) and not form.startswith(DELIMITER) for form in forms):
        return False
    return all(form.startswith(prefix) for form in forms)


def is_parent_of(folder: str, prefix: str) -> bool:
    """Is `folder` strictly above `prefix` (e.g. "" or "teams/" above "teams/design/")?"""
    forms = key_forms(folder)
    if not all(_segments_safe(form) for form in forms) or not (folder == "" or folder.endswith(DELIMITER)):
        return False
    return all(prefix.startswith(form) and prefix != form for form in forms)


def normalise_prefix(text: str) -> str:
    """A scope prefix as rules write it -> "" (whole bucket) or NFC text ending in "/".

    Raises ValueError with a sentence for anything that is not a plain folder path."""
    if not isinstance(text, str):
        raise ValueError('a prefix must be text such as "design/"')
    prefix = unicodedata.normalize("NFC", text.strip())
    if prefix in {"", DELIMITER}:
        return WHOLE_BUCKET
    if prefix.startswith(DELIMITER):
        raise ValueError(f'{text!r} starts with /; write folders without a leading slash, e.g. "design/"')
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in prefix):
        raise ValueError(f"{text!r} contains control or invisible characters")
    if any(ch in prefix for ch in "%\\*?"):
        raise ValueError(f"{text!r} contains %, \\, * or ?; prefixes are literal folder names, not patterns")
    template = prefix.replace(USER_PLACEHOLDER, "u")
    if "{" in template or "}" in template:
        raise ValueError(f"{text!r}: the only placeholder a prefix may hold is {USER_PLACEHOLDER}")
    prefix = prefix if prefix.endswith(DELIMITER) else prefix + DELIMITER
    parts = prefix.split(DELIMITER)[:-1]
    if any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"{text!r} has an empty, . or .. segment")
    return prefix


def _minimal(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without any prefix that another one already covers."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not any(prefix.startswith(other) for other in kept):
            kept.append(prefix)
    return tuple(kept)


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who is asking, as the rules see them: the identity (e-mail, else `sub`) and their groups."""

    id: str
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AccessRule:
    """One `[[bucketdesk.access]]` table."""

    who: tuple[str, ...]
    roles: tuple[str, ...]
    prefixes: tuple[str, ...] = (WHOLE_BUCKET,)
    buckets: tuple[str, ...] = ()  # profile names; empty: every profile
    where: str = "bucketdesk.access"  # how messages name this rule

    def matches(self, person: Person) -> bool:
        identity = person.id.strip().lower()
        for pattern in self.who:
            if pattern == "*":
                return True
            if pattern.startswith("group:"):
                if pattern[len("group:") :] in person.groups:
                    return True
            elif pattern.startswith("*@"):
                if "@" in identity and identity.rsplit("@", 1)[1] == pattern[2:].lower():
                    return True
            elif identity == pattern.lower():
                return True
        return False

    def applies_to(self, profile_name: str) -> bool:
        return not self.buckets or profile_name in self.buckets

    def actions(self) -> frozenset[Action]:
        return frozenset().union(*(ROLES[role] for role in self.roles))


def _strings(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{what} must be a list of strings")
    return list(items)


def _who(value: Any) -> tuple[str, ...]:
    patterns = [item.strip() for item in _strings(value, "who")]
    if not patterns or not all(patterns):
        raise ValueError('name at least one person: an e-mail, "*@example.com", "group:<name>" or "*"')
    for pattern in patterns:
        if pattern == "*":
            continue
        if pattern.startswith("group:"):
            if not pattern[len("group:") :].strip():
                raise ValueError(f"{pattern!r} names no group; write group:<name>")
        elif pattern.startswith("*@"):
            domain = pattern[2:]
            if not domain or "@" in domain or "*" in domain or "." not in domain:
                raise ValueError(f"{pattern!r} is not a domain pattern like *@example.com")
        elif "*" in pattern:
            raise ValueError(f'{pattern!r}: "*" works alone or as "*@domain", not inside a name')
    return tuple(patterns)


def _roles(value: Any) -> tuple[str, ...]:
    roles = [item.strip().lower() for item in _strings(value, "roles")]
    if not roles:
        raise ValueError(f"name at least one role: {', '.join(ROLES)}")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {', '.join(map(repr, unknown))}; use {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


def parse_rules(raw: Any, where: str, profile_names: Iterable[str]) -> tuple[tuple[AccessRule, ...], list[str]]:
    """Rules from the array of tables (TOML, or BUCKETDESK_ACCESS's JSON): (rules, problems).

    Each problem names the rule and field, e.g. `bucketdesk.access[2].roles: unknown role 'owner'…`."""
    if not isinstance(raw, list):
        return (), [f"{where}: must be an array of tables ([[bucketdesk.access]]), one per rule."]
    known = set(profile_names)
    rules: list[AccessRule] = []
    problems: list[str] = []
    for index, table in enumerate(raw):
        name = f"{where}[{index}]"
        if not isinstance(table, Mapping):
            problems.append(f"{name}: must be a table with who and roles.")
            continue
        found = _parse_rule(table, name, known, problems)
        if found:
            rules.append(found)
    return tuple(rules), problems


def _parse_rule(table: Mapping[str, Any], name: str, known: set[str], problems: list[str]) -> AccessRule | None:
    values: dict[str, Any] = {}
    checks = {"who": _who, "roles": _roles, "prefixes": _prefixes, "buckets": lambda v: _buckets(v, known)}
    for unknown in sorted(set(table) - set(checks)):
        problems.append(f"{name}.{unknown}: unknown field; a rule has who, roles, prefixes and buckets.")
    for field_name, check in checks.items():
        if field_name not in table:
            if field_name in {"who", "roles"}:
                problems.append(f"{name}.{field_name}: missing; every rule names {field_name}.")
            continue
        try:
            values[field_name] = check(table[field_name])
        except ValueError as exc:
            problems.append(f"{name}.{field_name}: {exc}.")
    if {"who", "roles"} - set(values):
        return None
    rule = AccessRule(where=name, **values)
    if "admin" in rule.roles and "prefixes" in table and rule.prefixes != (WHOLE_BUCKET,):
        problems.append(
            f"{name}.prefixes: admin covers every prefix of the bucket; drop prefixes from this rule, "
            "or give the scoped people viewer, uploader or analyst instead."
        )
        return None
    return rule


def _prefixes(value: Any) -> tuple[str, ...]:
    prefixes = tuple(normalise_prefix(item) for item in _strings(value, "prefixes"))
    if not prefixes:
        raise ValueError("name at least one prefix, or leave prefixes out for the whole bucket")
    return prefixes


def _buckets(value: Any, known: set[str]) -> tuple[str, ...]:
    buckets = tuple(item.strip() for item in _strings(value, "buckets"))
    if not buckets:
        raise ValueError("name at least one bucket profile, or leave buckets out for every profile")
    unknown = [name for name in buckets if name not in known]
    if unknown:
        raise ValueError(
            f"unknown bucket profile {', '.join(map(repr, unknown))}; profiles are {', '.join(sorted(known)) or 'none'}"
        )
    return buckets


# --- what one person may do in one bucket ------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One person's permissions in one bucket: for each scope prefix, the actions allowed there."""

    person: Person
    profile_name: str
    grants: Mapping[str, frozenset[Action]] = field(default_factory=dict)  # prefix -> actions
    roles: frozenset[str] = frozenset()

    @classmethod
    def for_person(cls, person: Person, profile_name: str, rules: Iterable[AccessRule]) -> Access:
        """The union of every rule that matches `person` and applies to `profile_name`."""
        grants: dict[str, set[Action]] = {}
        roles: set[str] = set()
        slug = user_segment(person.id)
        for rule in rules:
            if not (rule.applies_to(profile_name) and rule.matches(person)):
                continue
            roles.update(rule.roles)
            for prefix in rule.prefixes:
                grants.setdefault(prefix.replace(USER_PLACEHOLDER, slug), set()).update(rule.actions())
        return cls(person, profile_name, {p: frozenset(a) for p, a in grants.items()}, frozenset(roles))

    @classmethod
    def everything(cls, person: Person, profile_name: str, roles: Iterable[str]) -> Access:
        """The local user without sign-in: `roles` on the whole bucket."""
        roles = frozenset(roles)
        actions = frozenset().union(*(ROLES[role] for role in roles))
        return cls(person, profile_name, {WHOLE_BUCKET: actions} if actions else {}, roles)

    @property
    def admitted(self) -> bool:
        """Does any rule let this person do anything at all in this bucket?"""
        return any(self.grants.values())

    def allows(self, action: Action, key: str) -> bool:
        """May `action` be done on `key` (an object key, or a folder prefix ending in "/")?"""
        return any(action in actions and is_under(key, prefix) for prefix, actions in self.grants.items())

    def may(self, action: Action) -> bool:
        """May `action` be done anywhere in this bucket?"""
        return any(action in actions for actions in self.grants.values())

    def prefixes(self, action: Action) -> tuple[str, ...]:
        """Where `action` is allowed: sorted, none inside another ("" is the whole bucket)."""
        return _minimal(prefix for prefix, actions in self.grants.items() if action in actions)

    def visible_prefixes(self) -> tuple[str, ...]:
        """Browse's top level for a scoped person."""
        return self.prefixes(Action.BROWSE)

    def writable_prefixes(self) -> tuple[str, ...]:
        """Upload's destination folders; the first is the default."""
        return self.prefixes(Action.UPLOAD)

    def prefixes_below(self, folder: str, action: Action) -> tuple[str, ...]:
        """Allowed prefixes strictly inside `folder`, when `folder` itself is not allowed: what a
        listing of a parent (e.g. the top for someone scoped to `design/`) may show."""
        return tuple(prefix for prefix in self.prefixes(action) if is_parent_of(folder, prefix))

    def pages(self) -> list[str]:
        """The pages this person may use, in PAGE_ACTIONS order (nothing when no rule admits them)."""
        if not self.admitted:
            return []
        return [page for page, action in PAGE_ACTIONS.items() if action is None or self.may(action)]
