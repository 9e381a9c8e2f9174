"""The User aggregate's adapter around its pure decider: personal data sealed on the way in, opened on the way out.

Command side (chronicle.commands): open the loaded state for decide(), then seal the new events and add the
transaction items that go with them (the data key, the email reservation moves, the erasure deletes).
Read side (chronicle.queries, history): open sealed fields for display; a field whose key is gone is None.
"""

from __future__ import annotations

from typing import Any

from chronicle.domain.user import PERSONAL_FIELDS
from chronicle.personal import Vault, seal

Extra = tuple[dict[str, Any], str]


def open_state(vault: Vault, user_id: str, state: dict[str, Any]) -> dict[str, Any]:
    if not state.get("exists") or state.get("erased"):
        return state
    return vault.open_fields(user_id, state, PERSONAL_FIELDS)


def seal_events(vault: Vault, user_id: str, command_type: str, opened: dict[str, Any],
                events: list[tuple[str, dict[str, Any]]]) -> tuple[list[tuple[str, dict[str, Any]]], list[Extra]]:
    """The decided events with their personal fields sealed, and the transaction items to append with them."""
    extras: list[Extra] = []
    key: bytes | None = None
    sealed_events = []
    for event_type, data in events:
        if event_type == "UserRegistered":
            key, put_key = vault.new_data_key(user_id)
            extras += [(put_key, "DataKey"), (vault.reserve_email(user_id, data["email"]), "EmailUnique")]
        elif event_type == "UserProfileUpdated" and "email" in data:
            if opened.get("email"):
                extras.append((vault.release_email(user_id, opened["email"]), "EmailRelease"))
            extras.append((vault.reserve_email(user_id, data["email"]), "EmailUnique"))
        elif event_type == "UserPersonalDataErased":
            extras += [(item, "Erase") for item in vault.erase_items(user_id, opened.get("email"))]
        if any(data.get(f) is not None for f in PERSONAL_FIELDS):
            key = key or vault.data_key(user_id)
            if key is None:  # the decider refuses changes after erasure; this is a second line
                raise RuntimeError(f"user {user_id!r} has no data key: cannot store personal data")
            data = {k: seal(key, user_id, k, v) if k in PERSONAL_FIELDS and v is not None else v
                    for k, v in data.items()}
        sealed_events.append((event_type, data))
    return sealed_events, extras


def open_event_data(vault: Vault, user_id: str, event_type: str, data: dict[str, Any],
                    key: bytes | None | bool = False) -> dict[str, Any]:
    """A User event's data for display: personal fields opened, or None with `erased: true` once the key is gone."""
    present = [f for f in PERSONAL_FIELDS if f in data]
    if not present:
        return data
    opened = vault.open_fields(user_id, data, tuple(present), key)
    if any(opened[f] is None and data[f] is not None for f in present):
        opened["erased"] = True
    return opened
