"""A state machine drawn from its ASL as SVG (the console's execution page), with an execution's path on it.

Layout: states in layers by their distance from ``StartAt`` (breadth first over Next, Default, Choices and
Catch), each layer a row, top to bottom. Edges: solid for Next/Default/Choices, dashed for Catch. A state the
execution entered has the class ``taken`` (an edge between two consecutive entered states too), the state whose
failure ended it ``failed``, a task whose error a Catch handled ``caught``. Each state is a ``<g class="state"
data-state="NAME">``: the page's script shows its input and output on click.
"""

from __future__ import annotations

from html import escape
from typing import Any

W, H, GAP_X, GAP_Y, PAD = 180, 40, 30, 50, 20


def edges(states: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(from, to, kind) for every transition of the ASL; kind is "next" or "catch"."""
    out = []
    for name, state in states.items():
        targets = [("next", state.get("Next")), ("next", state.get("Default"))]
        targets += [("next", choice.get("Next")) for choice in state.get("Choices") or []]
        targets += [("catch", catch.get("Next")) for catch in state.get("Catch") or []]
        seen = set()
        for kind, target in targets:
            if target in states and (target, kind) not in seen:
                seen.add((target, kind))
                out.append((name, target, kind))
    return out


def layers(definition: dict[str, Any]) -> list[list[str]]:
    """Rows of states: each state one row below the lowest state that leads to it (longest path from StartAt,
    loops ignored), so the main path runs straight down and the end states sit at the bottom."""
    states = definition.get("States") or {}
    start = definition.get("StartAt")
    links = edges(states)
    forward = _forward_edges(start, states, links)
    depth = {start: 0} if start in states else {}
    for _ in range(len(states)):  # relax: longest path over the forward edges (a DAG)
        changed = False
        for a, b in forward:
            if a in depth and depth.get(b, -1) < depth[a] + 1:
                depth[b] = depth[a] + 1
                changed = True
        if not changed:
            break
    for name in states:  # unreachable states still get drawn, at the bottom
        depth.setdefault(name, max(depth.values(), default=-1) + 1)
    rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in states:
        rows[depth[name]].append(name)
    return [row for row in rows if row]


def _forward_edges(start: str, states: dict[str, Any], links: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The edges of a depth-first walk from ``start`` that do not loop back (a retry loop such as MorePages)."""
    out: list[tuple[str, str]] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def walk(name: str) -> None:
        on_path.add(name)
        for source, target, _ in links:
            if source != name:
                continue
            if target not in on_path:
                out.append((source, target))
                if target not in done:
                    walk(target)
        on_path.discard(name)
        done.add(name)

    if start in states:
        walk(start)
    return out


def _classes(name: str, state: dict[str, Any], run: dict[str, dict[str, Any]]) -> str:
    classes = ["state", f"type-{str(state.get('Type', '')).lower()}"]
    entered = run.get(name)
    if entered is not None:
        classes.append("taken")
        if entered.get("status") == "FAILED":
            classes.append("failed")
        elif entered.get("status") == "CAUGHT":
            classes.append("caught")
    return " ".join(classes)


def svg(definition: dict[str, Any] | None, path: list[dict[str, Any]]) -> str:
    """The graph as an inline ``<svg>`` element; ``path`` is the execution's states in order (trail.py)."""
    if not definition or not definition.get("States"):
        return '<p class="muted">No state machine definition for this execution.</p>'
    states = definition["States"]
    rows = layers(definition)
    widest = max(len(row) for row in rows)
    width = widest * (W + GAP_X) - GAP_X + 2 * PAD
    height = len(rows) * (H + GAP_Y) - GAP_Y + 2 * PAD
    where: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        offset = (width - (len(row) * (W + GAP_X) - GAP_X)) / 2
        for c, name in enumerate(row):
            where[name] = (offset + c * (W + GAP_X), PAD + r * (H + GAP_Y))
    run = {s["name"]: s for s in path}
    order = [s["name"] for s in path]
    walked = set(zip(order, order[1:], strict=False))
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="state machine graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>']
    for source, target, kind in edges(states):
        (x1, y1), (x2, y2) = where[source], where[target]
        start, end = (x1 + W / 2, y1 + H), (x2 + W / 2, y2)
        if y2 <= y1:  # a loop back or a same-row edge: leave from the side
            start, end = (x1 + W, y1 + H / 2), (x2 + W, y2 + H / 2)
        css = f"edge {kind}" + (" taken" if (source, target) in walked else "")
        mid_y = (start[1] + end[1]) / 2
        parts.append(f'<path class="{css}" data-from="{escape(source)}" data-to="{escape(target)}" '
                     f'd="M {start[0]:.0f} {start[1]:.0f} C {start[0]:.0f} {mid_y:.0f}, {end[0]:.0f} {mid_y:.0f}, '
                     f'{end[0]:.0f} {end[1]:.0f}" marker-end="url(#arrow)"/>')
    for name, state in states.items():
        x, y = where[name]
        label = escape(name if len(name) <= 24 else name[:23] + "…")
        parts.append(f'<g class="{_classes(name, state, run)}" data-state="{escape(name)}" tabindex="0">'
                     f'<title>{escape(name)} ({escape(str(state.get("Type")))})</title>'
                     f'<rect x="{x:.0f}" y="{y:.0f}" width="{W}" height="{H}" rx="8"/>'
                     f'<text x="{x + W / 2:.0f}" y="{y + H / 2 + 5:.0f}" text-anchor="middle">{label}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
