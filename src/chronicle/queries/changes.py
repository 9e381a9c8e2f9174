"""The change mutations (AppSync NONE-style echoes): what a projector publishes, subscribers receive."""

from __future__ import annotations

from typing import Any


def publishTemplateChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishProjectChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}


def publishUserChanged(id: str, version: int, eventType: str) -> dict[str, Any]:
    return {"id": id, "version": version, "eventType": eventType}
