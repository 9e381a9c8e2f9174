"""The pure parts of docs/reference/authorization.md and the User decider: no AWS."""

from __future__ import annotations

import pytest

from chronicle.domain import user
from chronicle.errors import BusinessRuleViolation
from chronicle.policy import Actor, Need, covers, missing, may


@pytest.mark.parametrize("pattern, resource, expected", [
    ("*", "project:p", True), ("*", "*", True), ("project:*", "project:p", True), ("project:*", "project:*", True),
    ("project:*", "template:t", False), ("project:*", "*", False), ("project:p", "project:p", True),
    ("project:p", "project:q", False), ("project:p", "project:*", False), ("user:*", "user:u", True),
])
def test_covers(pattern, resource, expected):
    assert covers(pattern, resource) is expected


def test_permissions_imply_the_weaker_ones():
    writer = Actor("w", frozenset({("project:p", "write")}))
    assert may(writer, "read", "project:p") and may(writer, "write", "project:p")
    assert not may(writer, "admin", "project:p") and not may(writer, "read", "project:q")
    assert may(Actor("boot", bootstrap_admin=True), "admin", "*")


def test_missing_names_each_lacking_pair_unless_the_actor_is_exempt():
    need = Need((("admin", "project:a"), ("admin", "template:b")), frozenset({"owner"}))
    holder = Actor("h", frozenset({("project:*", "admin")}))
    assert missing(holder, need) == [{"permission": "admin", "resource": "template:b"}]
    assert missing(Actor("owner"), need) == []


def opened(**overrides):
    return {**user.initial_state(), "exists": True, "version": 1, "email": "a@example.com",
            "displayName": "A", **overrides}


def test_register_normalises_the_email():
    assert user.decide("RegisterUser", {"email": " A@Example.COM ", "displayName": "A"}, user.initial_state()) == [
        ("UserRegistered", {"email": "a@example.com", "displayName": "A"})]


def test_profile_update_records_only_what_changes():
    assert user.decide("UpdateUserProfile", {"email": "A@example.com", "displayName": "B"}, opened()) == [
        ("UserProfileUpdated", {"displayName": "B"})]
    with pytest.raises(BusinessRuleViolation) as nothing:
        user.decide("UpdateUserProfile", {"email": "a@EXAMPLE.com"}, opened())
    assert nothing.value.details[0]["rule"] == "ProfileChanges"


def test_permissions_fold_and_disjointness():
    state = opened()
    grant = {"resource": "project:p", "permission": "write"}
    [(kind, data)] = user.decide("ChangeUserPermissions", {"grant": [grant]}, state)
    state = user.evolve(state, {"eventType": kind, "eventData": data, "eventSequence": 2, "timestamp": "t"})
    assert state["permissions"] == [grant]
    assert user.decide("ChangeUserPermissions", {"revoke": [grant]}, state) == [
        ("UserPermissionsChanged", {"granted": [], "revoked": [grant]})]
    with pytest.raises(BusinessRuleViolation) as both:
        user.decide("ChangeUserPermissions", {"grant": [grant], "revoke": [grant]}, state)
    assert both.value.details[0]["rule"] == "PermissionChangeDisjoint"


def test_erased_users_change_no_more():
    state = user.evolve(opened(), {"eventType": "UserPersonalDataErased", "eventData": {"fields": ["email"]},
                                   "eventSequence": 2, "timestamp": "t"})
    assert state["erased"] and state["email"] is None and state["displayName"] is None
    for command, data in (("UpdateUserProfile", {"displayName": "X"}), ("EraseUserPersonalData", {})):
        with pytest.raises(BusinessRuleViolation):
            user.decide(command, data, state)


def test_who_may_act_on_a_user():
    state = opened(registeredBy="admin-1")
    assert user.authorize("RegisterUser", {}, user.initial_state(), "me", "me") == Need()
    assert user.authorize("UpdateUserProfile", {}, state, "u", "x").unless == {"u", "admin-1"}
    assert user.authorize("EraseUserPersonalData", {}, state, "u", "x").unless == {"u"}
    assert user.authorize("ChangeUserPermissions", {"grant": [{"resource": "*", "permission": "read"}]}, state,
                          "u", "u") == Need((("admin", "*"),))


def test_an_aggregate_without_rules_lets_its_creator_and_write_holders_change_it():
    from chronicle.domain import Aggregate

    bare = Aggregate("Template", frozenset({"UploadTemplate"}), frozenset({"ValidateTemplate"}), dict,
                     lambda *_: [], lambda s, e: s)
    assert bare.need("UploadTemplate", {}, {}, "t-1", "x") == Need()
    need = bare.need("ValidateTemplate", {}, {"uploadedBy": "uma"}, "t-1", "x")
    assert need == Need((("write", "template:t-1"),), frozenset({"uma"}))
    assert missing(Actor("uma"), need) == [] and missing(Actor("x"), need) != []
