"""lib.identity: who is uploading, never chosen by the browser; groups from the ID token's claim."""

from __future__ import annotations

import getpass

import pytest

from lib.identity import identity_from_user, local_identity

pytestmark = pytest.mark.unit


def signed_in(**claims):
    return {"is_logged_in": True, "sub": "oidc|42", **claims}


def test_logged_in_user_is_identified_by_email():
    identity = identity_from_user(signed_in(email="ann@example.com", name="Ann"))
    assert identity.id == "ann@example.com" and identity.display == "Ann" and identity.source == "login"


def test_email_identity_is_the_same_whatever_case_the_provider_sends():
    assert identity_from_user(signed_in(email=" Ann@Example.COM ")).id == "ann@example.com"


def test_subject_stands_in_when_there_is_no_email():
    identity = identity_from_user(signed_in())
    assert identity.id == "sub:oidc|42" and identity.display == "sub:oidc|42"
    assert identity.email_verified is None and not identity.email_refused


def test_a_subject_that_looks_like_an_email_is_never_taken_for_that_address():
    identity = identity_from_user({"is_logged_in": True, "sub": "boss@example.com"})
    assert identity.id == "sub:boss@example.com"


@pytest.mark.parametrize("flag", [False, "false", "False", "no", 0])
def test_an_email_the_provider_has_not_verified_is_not_the_identity(flag):
    identity = identity_from_user(signed_in(email="boss@example.com", email_verified=flag, name="Mallory"))
    assert identity.id == "sub:oidc|42"
    assert identity.email_verified is False and identity.email_refused
    assert identity.display == "Mallory"


@pytest.mark.parametrize("flag", [True, "true", "TRUE"])
def test_a_verified_email_is_the_identity(flag):
    identity = identity_from_user(signed_in(email="ann@example.com", email_verified=flag))
    assert identity.id == "ann@example.com" and identity.email_verified is True


def test_an_email_without_a_verified_claim_is_used_as_many_providers_never_send_one():
    identity = identity_from_user(signed_in(email="ann@example.com"))
    assert identity.id == "ann@example.com" and identity.email_verified is None


@pytest.mark.parametrize(
    "user", [None, {}, {"is_logged_in": False, "email": "ann@example.com"}, {"is_logged_in": True}]
)
def test_nobody_logged_in_gives_no_identity(user):
    assert identity_from_user(user) is None


def test_unverified_email_and_no_subject_gives_no_identity():
    assert identity_from_user({"is_logged_in": True, "email": "x@example.com", "email_verified": False}) is None


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["design", "storage-admins"], ("design", "storage-admins")),
        ("design storage-admins", ("design", "storage-admins")),
        ("design,storage-admins", ("design", "storage-admins")),
        (" design , storage-admins\tdesign ", ("design", "storage-admins")),
        ([" design ", "", "design", "Design Team"], ("design", "Design Team")),
        (["design", 7, None, {"x": 1}], ("design",)),
        ("", ()),
        (None, ()),
        (42, ()),
        ({"design": True}, ()),
    ],
)
def test_groups_come_from_a_list_or_a_separated_string(claim, groups):
    assert identity_from_user(signed_in(email="ann@example.com", groups=claim)).groups == groups


def test_missing_groups_claim_means_no_groups():
    assert identity_from_user(signed_in(email="ann@example.com")).groups == ()


def test_groups_are_read_from_the_configured_claim():
    user = signed_in(email="ann@example.com", groups=["ignored"], roles="admins auditors")
    assert identity_from_user(user, groups_claim="roles").groups == ("admins", "auditors")


def test_local_identity_names_the_os_user(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "builder")
    identity = local_identity()
    assert identity.id == "local:builder" and identity.source == "local" and identity.groups == ()


def test_local_identity_survives_a_container_without_a_user_name(monkeypatch):
    def no_user():
        raise KeyError("getpwuid(): uid not found: 1000")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert local_identity().id == "local:unknown"
