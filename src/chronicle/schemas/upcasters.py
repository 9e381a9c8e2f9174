"""Upcasters: one plain function per event type and step vN -> vN+1, on the event's data only.

`SchemaRegistry.upcast` chains them, so every reader (deciders, projections, temporal queries, GraphQL history)
sees the current version while the stored item keeps the version it was written with. `chronicle schemas check`
fails when a version N>1 has no upcaster from N-1, or when an upcaster's output for the samples of vN-1
(`schemas/events/<EventType>/samples/v<N-1>/*.json`) is not valid against vN.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

Data = dict[str, Any]


def project_created_v1_to_v2(data: Data) -> Data:
    """v2 adds `visibility`; every project created before it was private."""
    return {**data, "visibility": "private"}


UPCASTERS: dict[tuple[str, int], Callable[[Data], Data]] = {
    ("ProjectCreated", 1): project_created_v1_to_v2,
}
