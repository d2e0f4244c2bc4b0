"""lib.identity: who is uploading, never chosen by the browser."""

from __future__ import annotations

import getpass

import pytest

from lib.identity import identity_from_user, local_identity

pytestmark = pytest.mark.unit


def test_logged_in_user_is_identified_by_email():
    identity = identity_from_user({"is_logged_in": True, "email": "ann@example.com", "name": "Ann", "sub": "123"})
    assert identity.id == "ann@example.com" and identity.display == "Ann" and identity.source == "login"


def test_subject_stands_in_when_there_is_no_email():
    identity = identity_from_user({"is_logged_in": True, "sub": "oidc|42"})
    assert identity.id == "oidc|42" and identity.display == "oidc|42"


@pytest.mark.parametrize(
    "user", [None, {}, {"is_logged_in": False, "email": "ann@example.com"}, {"is_logged_in": True}]
)
def test_nobody_logged_in_gives_no_identity(user):
    assert identity_from_user(user) is None


def test_local_identity_names_the_os_user(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "builder")
    identity = local_identity()
    assert identity.id == "local:builder" and identity.source == "local"


def test_local_identity_survives_a_container_without_a_user_name(monkeypatch):
    def no_user():
        raise KeyError("getpwuid(): uid not found: 1000")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert local_identity().id == "local:unknown"
