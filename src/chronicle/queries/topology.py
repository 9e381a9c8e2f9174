"""``serviceTopology``: a project's services, their dependency edges and an order to deploy them in."""

from __future__ import annotations

import heapq
from typing import Any

from chronicle.queries.project_reads import read_model, services_view


def serviceTopology(projectId: str) -> dict[str, Any] | None:
    """The project's services, its dependency edges and a deploy order with every dependency before its
    dependents (ties by name), from the project read model."""
    state = read_model(projectId)
    if state is None:
        return None
    services = state["services"]
    edges = sorted((name, dep) for name, s in services.items() for dep in s.get("dependsOn", []))
    return {"projectId": projectId, "version": state["version"], "services": services_view(state),
            "edges": [{"from": a, "to": b} for a, b in edges], "deployOrder": deploy_order(services)}


def deploy_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Kahn's algorithm, smallest name first among the ready ones. AddService's DependenciesExist rule makes the
    graph acyclic; a dependency on a service that is not there (it cannot happen) is ignored."""
    waiting = {name: {d for d in s.get("dependsOn", []) if d in services} for name, s in services.items()}
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    return order
