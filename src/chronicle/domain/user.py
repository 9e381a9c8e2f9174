"""The User aggregate (docs/reference/commands.md): the people who act on Chronicle, and their permissions.

A user's id is the actor id they act under. `email` and `displayName` are personal data: in stored events and in
the state folded from them they are sealed (encrypted under the user's data key, see chronicle.personal), so
snapshots and read models never hold them in clear. The command side opens them before deciding: decide() sees
plain values (None once erased), evolve() keeps whatever the events hold.

Email uniqueness is not decided here (a decider cannot see other streams): the append reserves the email in the
same transaction (chronicle.personal), and a taken email is refused as rule EmailUnique.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from chronicle.domain import Aggregate, NewEvent, State
from chronicle.errors import BusinessRuleViolation, ValidationError
from chronicle.policy import ANYONE, Need, covers, implies

PERSONAL_FIELDS = ("email", "displayName")


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible, so two emails that differ only
# by one look the same to a person and must be the same email.
_DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]")


def normalise_email(email: str) -> str:
    """The one form of an email: stored, compared and HMACed for EmailUnique. NFKC (fullwidth and compatibility
    forms, NFC vs NFD), default-ignorable code points removed (zero-width, joiners, variation selectors), trimmed,
    case-folded, then NFKC again (case folding can leave a decomposed form)."""
    text = _DEFAULT_IGNORABLE.sub("", unicodedata.normalize("NFKC", email)).strip()
    return unicodedata.normalize("NFKC", text.casefold())


def initial_state() -> State:
    return {"exists": False, "version": 0, "email": None, "displayName": None, "erased": False,
            "registeredBy": None, "permissions": [], "createdAt": None, "updatedAt": None}


def _pairs(entries: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(e["resource"], e["permission"]) for e in entries}


def _entries(pairs: set[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"resource": r, "permission": p} for r, p in sorted(pairs)]


def decide(command_type: str, data: dict[str, Any], state: State, facts: dict[str, Any] | None = None
           ) -> list[NewEvent]:
    """`state` has its personal fields opened (plain text, or None when erased)."""
    if command_type == "RegisterUser":
        return [("UserRegistered", {"email": _valid_email(normalise_email(data["email"])),
                                    "displayName": data["displayName"]})]

    if command_type == "UpdateUserProfile":
        if state["erased"]:
            raise BusinessRuleViolation("This user's personal data was erased; the profile cannot change again.",
                                        [{"rule": "PersonalDataErased"}])
        changes: dict[str, str] = {}
        if "email" in data and normalise_email(data["email"]) != state["email"]:
            changes["email"] = _valid_email(normalise_email(data["email"]))
        if "displayName" in data and data["displayName"] != state["displayName"]:
            changes["displayName"] = data["displayName"]
        if not changes:
            raise BusinessRuleViolation("The update changes nothing: give a new email or display name.",
                                        [{"rule": "ProfileChanges", "path": "$.data"}])
        return [("UserProfileUpdated", changes)]

    if command_type == "ChangeUserPermissions":
        grant, revoke = _pairs(data.get("grant", [])), _pairs(data.get("revoke", []))
        if not grant and not revoke:
            raise BusinessRuleViolation("A permission change must grant or revoke at least one permission.",
                                        [{"rule": "PermissionChangeNotEmpty", "path": "$.data"}])
        both = grant & revoke
        if both:
            raise BusinessRuleViolation("A permission cannot be granted and revoked in the same change.",
                                        [{"rule": "PermissionChangeDisjoint", "entries": _entries(both)}])
        held = _pairs(state["permissions"])
        _refuse_ineffective_revokes(revoke, (held | grant) - revoke)
        # Granting what is held, or revoking what is not, is accepted: the event records what actually changed.
        return [("UserPermissionsChanged", {"granted": _entries(grant - held), "revoked": _entries(revoke & held)})]

    if command_type == "EraseUserPersonalData":
        if state["erased"]:
            raise BusinessRuleViolation("This user's personal data is already erased.",
                                        [{"rule": "PersonalDataNotErased"}])
        return [("UserPersonalDataErased", {"fields": list(PERSONAL_FIELDS)})]

    raise ValueError(f"User does not handle {command_type}")  # routing bug, not user input


def _refuse_ineffective_revokes(revoke: set[tuple[str, str]], after: set[tuple[str, str]]) -> None:
    """A revoke the user would still hold through another grant (`write` from an `admin` holder, `project:p` from
    a holder of `project:*`) would answer 200 and change nothing: refused, naming the grants that imply it."""
    still = []
    for resource, permission in sorted(revoke):
        implied_by = [{"resource": r, "permission": p} for r, p in sorted(after)
                      if covers(r, resource) and implies(p, permission)]
        if implied_by:
            still.append({"rule": "RevokeStillImplied", "resource": resource, "permission": permission,
                          "impliedBy": implied_by})
    if still:
        raise BusinessRuleViolation(
            "Revoking " + ", ".join(f"{s['permission']} on {s['resource']}" for s in still) + " would change "
            "nothing: the user keeps it through a stronger or wider grant (details: impliedBy). Revoke that grant "
            "too, and grant back what should remain.", still)


def _valid_email(email: str) -> str:
    """The normalised email still has the shape the schema asked of the given one (normalising can remove all of
    one side, or turn a fullwidth ＠ into a second @)."""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise ValidationError("The email is not valid once normalised (NFKC, invisible characters removed).",
                              [{"path": "$.data.email", "message": "not an email once normalised"}])
    return email


def evolve(state: State, event: dict[str, Any]) -> State:
    data = event["eventData"]
    kind = event["eventType"]
    state = {**state, "version": event["eventSequence"], "updatedAt": event["timestamp"]}
    if kind == "UserRegistered":
        state.update(exists=True, email=data["email"], displayName=data["displayName"],
                     registeredBy=event.get("metadata", {}).get("actorId"), createdAt=event["timestamp"])
    elif kind == "UserProfileUpdated":
        state.update({k: data[k] for k in PERSONAL_FIELDS if k in data})
    elif kind == "UserPermissionsChanged":
        held = (_pairs(state["permissions"]) | _pairs(data["granted"])) - _pairs(data["revoked"])
        state["permissions"] = _entries(held)
    elif kind == "UserPersonalDataErased":
        state.update(email=None, displayName=None, erased=True)
    return state


def authorize(command_type: str, data: dict[str, Any], state: State, user_id: str, actor_id: str) -> Need:
    """docs/reference/authorization.md for User commands."""
    resource = f"user:{user_id}"
    if command_type == "RegisterUser":
        # Registering oneself needs nothing; registering another actor id needs admin on it.
        return ANYONE if user_id == actor_id else Need((("admin", resource),))
    if command_type == "UpdateUserProfile":
        return Need((("write", resource),), frozenset({user_id, state.get("registeredBy") or user_id}))
    if command_type == "ChangeUserPermissions":
        resources = sorted({e["resource"] for e in data.get("grant", []) + data.get("revoke", [])})
        return Need(tuple(("admin", r) for r in resources))
    if command_type == "EraseUserPersonalData":
        return Need((("admin", resource),), frozenset({user_id}))
    raise ValueError(f"User does not handle {command_type}")


AGGREGATE = Aggregate(
    type="User",
    create_commands=frozenset({"RegisterUser"}),
    update_commands=frozenset({"UpdateUserProfile", "ChangeUserPermissions", "EraseUserPersonalData"}),
    initial_state=initial_state,
    decide=decide,
    evolve=evolve,
    state_version=1,
    snapshot_every=50,
    event_types=frozenset({"UserRegistered", "UserProfileUpdated", "UserPermissionsChanged",
                           "UserPersonalDataErased"}),
    authorize=authorize,
    default_id_is_actor=True,
    personal_fields=PERSONAL_FIELDS,
)
