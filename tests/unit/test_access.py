"""lib.access: rules as data, who they match, the union of permissions, and whole-segment prefix scopes."""

from __future__ import annotations

import re

import pytest

from lib.access import (
    Access,
    AccessRule,
    Action,
    Person,
    is_under,
    normalise_prefix,
    parse_rules,
)
from lib.identity import groups_from_claim
from lib.names import user_segment

pytestmark = pytest.mark.unit
PROFILES = {"assets", "archive"}


def rules(*tables) -> tuple[AccessRule, ...]:
    parsed, problems = parse_rules(list(tables), "bucketdesk.access", PROFILES)
    assert problems == []
    return parsed


def problems_of(*tables) -> list[str]:
    return parse_rules(list(tables), "bucketdesk.access", PROFILES)[1]


def access(person: Person, *tables, profile: str = "assets") -> Access:
    return Access.for_person(person, profile, rules(*tables))


# --- parsing and every error ------------------------------------------------------------------------


def test_the_issues_example_parses_into_three_rules():
    parsed = rules(
        {"who": ["group:storage-admins"], "roles": ["admin"]},
        {
            "who": ["group:design", "bob@example.com"],
            "roles": ["viewer", "uploader"],
            "prefixes": ["design/", "uploads/{user}/"],
            "buckets": ["assets"],
        },
        {"who": ["*@example.com"], "roles": ["viewer"], "prefixes": ["public/"]},
    )
    assert parsed[0].prefixes == ("",) and parsed[0].buckets == ()
    assert parsed[1].prefixes == ("design/", "uploads/{user}/") and parsed[1].buckets == ("assets",)
    assert parsed[2].where == "bucketdesk.access[2]"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"who": [], "roles": ["viewer"]}, "bucketdesk.access[0].who: name at least one person"),
        ({"who": [""], "roles": ["viewer"]}, "bucketdesk.access[0].who: name at least one person"),
        ({"roles": ["viewer"]}, "bucketdesk.access[0].who: missing"),
        ({"who": ["*"]}, "bucketdesk.access[0].roles: missing"),
        ({"who": ["*"], "roles": ["owner"]}, "bucketdesk.access[0].roles: unknown role 'owner'"),
        ({"who": ["*"], "roles": []}, "bucketdesk.access[0].roles: name at least one role"),
        ({"who": ["*"], "roles": "viewer", "prefixes": ["../x/"]}, "bucketdesk.access[0].prefixes: '../x/' has"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": ["/abs/"]}, "starts with /"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": ["a//b/"]}, "empty, . or .. segment"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": ["design/*"]}, "not patterns"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": ["a%2Fb/"]}, "not patterns"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": ["{team}/"]}, "only placeholder"),
        ({"who": ["*"], "roles": ["viewer"], "prefixes": []}, "name at least one prefix"),
        ({"who": ["*"], "roles": ["viewer"], "buckets": ["nope"]}, "bucketdesk.access[0].buckets: unknown bucket"),
        ({"who": ["group:"], "roles": ["viewer"]}, "names no group"),
        ({"who": ["*@"], "roles": ["viewer"]}, "not a domain pattern"),
        ({"who": ["b*b@x.com"], "roles": ["viewer"]}, "not inside a name"),
        ({"who": ["*"], "roles": ["admin"], "prefixes": ["design/"]}, "admin covers every prefix"),
        ({"who": ["*"], "roles": ["viewer"], "colour": "red"}, "bucketdesk.access[0].colour: unknown field"),
        ({"who": [3], "roles": ["viewer"]}, "who must be a list of strings"),
    ],
)
def test_every_bad_rule_is_named_with_its_field(table, expected):
    found = problems_of(table)
    assert found and expected in found[0], found


def test_a_bad_rule_among_good_ones_is_named_by_its_index():
    found = problems_of({"who": ["*"], "roles": ["viewer"]}, {"who": ["*"], "roles": ["viewer"]}, {"who": ["*"]})
    assert found == ["bucketdesk.access[2].roles: missing; every rule names roles."]


def test_rules_that_are_not_an_array_are_refused():
    assert "array of tables" in parse_rules({"who": "*"}, "bucketdesk.access", PROFILES)[1][0]


def test_a_prefix_without_a_slash_means_that_folder():
    assert normalise_prefix("design") == "design/" and normalise_prefix("/") == "" and normalise_prefix("") == ""


# --- who matches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "person", "matches"),
    [
        ("bob@example.com", Person("Bob@Example.com"), True),
        ("bob@example.com", Person("bob@example.com.evil.io"), False),
        ("*@example.com", Person("ann@example.com"), True),
        ("*@example.com", Person("ann@EXAMPLE.com"), True),
        ("*@example.com", Person("ann@sub.example.com"), False),
        ("*@example.com", Person("ann@notexample.com"), False),
        ("*@example.com", Person("example.com"), False),
        ("group:design", Person("x@y.z", frozenset({"design", "web"})), True),
        ("group:design", Person("x@y.z", frozenset({"Design"})), False),
        ("group:design", Person("design"), False),
        ("*", Person("oidc|42"), True),
    ],
)
def test_who_patterns(pattern, person, matches):
    rule = rules({"who": [pattern], "roles": ["viewer"]})[0]
    assert rule.matches(person) is matches


def test_a_group_from_a_string_claim_matches():
    person = Person("x@y.z", frozenset(groups_from_claim("ops design")))  # lib.identity reads the claim
    assert access(person, {"who": ["group:design"], "roles": ["viewer"]}).may(Action.BROWSE)


# --- union of rules ---------------------------------------------------------------------------------


def test_permissions_are_the_union_of_every_matching_rule():
    bob = Person("bob@example.com", frozenset({"design"}))
    got = access(
        bob,
        {"who": ["group:design"], "roles": ["viewer"], "prefixes": ["design/"]},
        {"who": ["bob@example.com"], "roles": ["uploader"], "prefixes": ["uploads/{user}/"]},
        {"who": ["*@example.com"], "roles": ["viewer"], "prefixes": ["public/"]},
        {"who": ["group:ops"], "roles": ["admin"]},
        {"who": ["*"], "roles": ["analyst"], "buckets": ["archive"]},
    )
    assert got.visible_prefixes() == ("design/", "public/")
    assert got.writable_prefixes() == (f"uploads/{user_segment('bob@example.com')}/",)
    assert got.roles == {"viewer", "uploader"}
    assert not got.may(Action.DELETE) and not got.may(Action.EXPORT)  # admin: ops only; analyst: archive only
    assert got.pages() == ["home", "upload", "browse"]


def test_nobody_matched_is_not_admitted_and_sees_no_page():
    got = access(Person("eve@evil.io"), {"who": ["*@example.com"], "roles": ["viewer"]})
    assert not got.admitted and got.pages() == []


def test_admin_reaches_every_page_and_every_action_everywhere():
    got = access(Person("root@example.com", frozenset({"ops"})), {"who": ["group:ops"], "roles": ["admin"]})
    assert got.pages() == ["home", "upload", "browse", "audit", "export"]
    assert all(got.allows(action, "any/where/at/all.txt") for action in Action)


def test_prefixes_covered_by_another_are_not_listed_twice():
    got = access(Person("a@x.io"), {"who": ["*"], "roles": ["viewer"], "prefixes": ["design/", "design/old/", ""]})
    assert got.visible_prefixes() == ("",)


# --- {user} -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity",
    ["../", "/", "a/../../b@x.com", "..", ".", "émilie@exämple.com", "Ωμέγα@x.gr", "x" * 5000 + "@x.com", "💥@x.io"],
)
def test_user_slug_of_a_hostile_identity_is_one_safe_segment(identity):
    slug = user_segment(identity)
    assert slug and "/" not in slug and slug not in {".", ".."} and ".." not in slug
    assert len(slug) <= 64 and re.fullmatch(r"[\w.\-]+", slug)
    assert user_segment(identity) == slug  # stable
    got = access(Person(identity), {"who": ["*"], "roles": ["uploader"], "prefixes": ["uploads/{user}/"]})
    assert got.writable_prefixes() == (f"uploads/{slug}/",)


def test_two_identities_that_sanitise_alike_get_different_folders():
    slugs = {user_segment(who) for who in ["../", "/", "..", "bob+1@x.com", "bob_1@x.com", "bob 1@x.com"]}
    assert len(slugs) == 6


# --- prefixes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "inside"),
    [
        ("design/a.png", True),
        ("design/", True),
        ("design/sub/deeper/x", True),
        ("design-old/a.png", False),
        ("designs/a.png", False),
        ("design", False),
        ("Design/a.png", False),
        ("design/../secret/x", False),
        ("design/./x", False),
        ("design/..", False),
        ("design%2F..%2Fsecret/x", False),  # decodes to design/../secret/x
        ("design%2Fx", False),  # stored at the top, though it decodes into design/
        ("design/a%2F..%2F..%2Fsecret", False),
        ("design/%252E%252E/x", False),  # double-encoded ..
        ("design\\..\\secret", False),
        ("/design/a", False),
        ("design/a%20b.png", True),  # an encoded space stays inside
        ("de\u0301sign/x", False),  # a different word, however it is normalised
    ],
)
def test_keys_under_design(key, inside):
    assert is_under(key, "design/") is inside


def test_a_rule_written_in_one_unicode_form_admits_keys_stored_in_the_other():
    nfc, nfd = "caf\u00e9/", "cafe\u0301/"
    assert normalise_prefix(nfd) == nfc
    assert is_under(nfd + "menu.pdf", nfc) and is_under(nfc + "menu.pdf", nfc)


def test_a_folder_above_the_scope_shows_only_the_scoped_prefixes():
    got = access(
        Person("a@x.io"), {"who": ["*"], "roles": ["viewer"], "prefixes": ["teams/design/", "teams/web/", "public/"]}
    )
    assert got.prefixes_below("", Action.BROWSE) == ("public/", "teams/design/", "teams/web/")
    assert got.prefixes_below("teams/", Action.BROWSE) == ("teams/design/", "teams/web/")
    assert got.prefixes_below("teams/design/", Action.BROWSE) == ()  # inside: S3 lists it
    assert got.prefixes_below("teams/../", Action.BROWSE) == ()
    assert not got.allows(Action.BROWSE, "teams/") and got.allows(Action.BROWSE, "teams/web/x/")


def test_the_whole_bucket_admits_any_key_even_odd_ones():
    got = access(Person("a@x.io"), {"who": ["*"], "roles": ["viewer"]})
    assert got.allows(Action.BROWSE, "a/../b") and got.allows(Action.BROWSE, "")


def test_buckets_limit_a_rule_to_its_profiles():
    tables = ({"who": ["*"], "roles": ["viewer"], "buckets": ["archive"]},)
    assert not access(Person("a@x.io"), *tables, profile="assets").admitted
    assert access(Person("a@x.io"), *tables, profile="archive").admitted


def test_the_local_user_has_local_roles_everywhere():
    got = Access.everything(Person("local:me"), "assets", ["viewer"])
    assert got.allows(Action.SHARE, "x/y") and not got.may(Action.UPLOAD)
    assert got.pages() == ["home", "browse"]
