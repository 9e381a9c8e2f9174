"""HTML fragments of the console's pages (console_pages.py lays them out)."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import urlencode

LEGEND = ('<p class="legend muted"><span><i style="border-color:#12b76a;background:#d1fadf"></i>entered</span>'
          '<span><i style="border-color:#f79009;background:#fef0c7"></i>failed, caught</span>'
          '<span><i style="border-color:#d92d20;background:#fee4e2"></i>failed the execution</span>'
          '<span>- - - Catch</span></p>')
STATUSES = ["", "SUCCEEDED", "FAILED", "TIMED_OUT"]


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return escape(value)
    return escape(json.dumps(value, indent=2, ensure_ascii=False))


def _actor_field(actor: str | None) -> str:
    return f'<input type="hidden" name="actor" value="{escape(actor)}">' if actor else ""


def executions_filters(command: str, status: str, actor: str | None, commands: list[str]) -> str:
    command_options = "".join(f'<option value="{escape(c)}"{" selected" if c == command else ""}>{escape(c)}</option>'
                              for c in ["", *commands])
    status_options = "".join(f'<option value="{s}"{" selected" if s == status else ""}>{s or "any status"}</option>'
                             for s in STATUSES)
    return (f'<form class="filters" method="get" action="/console">{_actor_field(actor)}'
            f'<label>Command <select name="command">{command_options}</select></label>'
            f'<label>Status <select name="status">{status_options}</select></label>'
            f'<button type="submit">Filter</button></form>')


def execution_summary(record: dict[str, Any]) -> str:
    rows = [("Started", record.get("startDate")), ("Stopped", record.get("stopDate")),
            ("Duration", f"{record.get('durationMs')} ms"), ("Actor", record.get("actorId")),
            ("State machine", record.get("stateMachine"))]
    if record.get("error"):
        rows.append(("Error", record["error"]))
    if record.get("sealed"):
        rows.append(("Bodies", "not kept: a User command's personal data"))
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v or ''))}</td></tr>" for k, v in rows)
    return f'<table class="summary" style="width:auto;margin-bottom:14px">{cells}</table>'


def _state_detail(state: dict[str, Any]) -> str:
    parts = [f"<h2>{escape(state['name'])} <span class=\"status status-{escape(state['status'])}\">"
             f"{escape(state['status'])}</span></h2>",
             f'<p class="muted">{escape(state["type"])} · {state.get("durationMs")} ms · '
             f'{state.get("retries", 0)} retries</p>']
    for key in ("error", "cause", "input", "output"):
        if state.get(key) is not None:
            parts.append(f"<h3>{key}</h3><pre class=\"{key}\">{_pretty(state[key])}</pre>")
    return "".join(parts)


def states_table(record: dict[str, Any]) -> str:
    rows, details = [], []
    for i, state in enumerate(record["states"]):
        rows.append(f'<tr><td>{i + 1}</td><td><a href="#state-{escape(state["name"])}" '
                    f'data-show-state="{escape(state["name"])}">{escape(state["name"])}</a></td>'
                    f'<td>{escape(state["type"])}</td>'
                    f'<td class="status status-{escape(state["status"])}">{escape(state["status"])}</td>'
                    f'<td>{state.get("durationMs")} ms</td><td>{state.get("retries", 0)}</td>'
                    f'<td>{escape(state.get("error") or "")}</td></tr>')
        details.append(f'<template id="state-{escape(state["name"])}">{_state_detail(state)}</template>')
    return ('<h2>States, in the order they were entered</h2><table id="states"><thead><tr><th>#</th><th>State</th>'
            '<th>Type</th><th>Status</th><th>Duration</th><th>Retries</th><th>Error</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{"".join(details)}')


def stream_form(aggregate_id: str, actor: str | None) -> str:
    return (f'<form class="filters" method="get" action="/console/streams">{_actor_field(actor)}'
            f'<label>Aggregate id <input name="id" value="{escape(aggregate_id)}" size="40"></label>'
            f'<button type="submit">Open</button></form>')


def stream(data: dict[str, Any]) -> str:
    if not data.get("readable"):
        return '<p class="muted" id="stream-empty">No events this actor may read in this stream.</p>'
    parts = [_chain(data.get("chain")), _archived(data.get("archived") or [])]
    rows = "".join(f'<tr><td>{e.get("eventSequence")}</td><td>{escape(str(e.get("eventType")))}</td>'
                   f'<td>{escape(str(e.get("storedVersion", e.get("version"))))} → {escape(str(e.get("version")))}'
                   f'</td><td class="mono">{escape(str(e.get("timestamp")))}</td>'
                   f'<td><pre>{_pretty(e.get("data", e.get("eventData")))}</pre></td></tr>'
                   for e in data.get("read") or [])
    parts.append('<h2>Events as read (upcast to the current version)</h2><table id="events-read"><thead><tr><th>#</th>'
                 f'<th>Type</th><th>Version stored → read</th><th>Time</th><th>Data</th></tr></thead>'
                 f'<tbody>{rows}</tbody></table>')
    if data.get("stored") is not None:
        stored = "".join(f'<tr><td>{e.get("eventSequence")}</td><td>{escape(str(e.get("eventType")))}</td>'
                         f'<td>v{escape(str(e.get("version")))}</td>'
                         f'<td><pre>{_pretty(e.get("storedItem"))}</pre></td></tr>' for e in data["stored"])
        parts.append('<h2>Events as stored</h2><table id="events-stored"><thead><tr><th>#</th><th>Type</th>'
                     f'<th>Version</th><th>Item (DynamoDB JSON)</th></tr></thead><tbody>{stored}</tbody></table>')
    return "".join(parts)


def _chain(chain: dict[str, Any] | None) -> str:
    if chain is None:
        return '<p class="muted">Hash chain: checked for the local operator and admins only.</p>'
    if chain.get("ok"):
        unsealed = (f", events before {chain['unsealedBefore']} predate the chain" if chain.get("unsealedBefore")
                    else "")
        return (f'<p id="chain" class="ok">Hash chain intact: {chain["events"]} events, head {chain["head"]}'
                f'{escape(unsealed)}.</p>')
    return f'<p id="chain" class="bad">Hash chain broken: {escape(json.dumps(chain.get("failure")))}</p>'


def _archived(ranges: list[dict[str, Any]]) -> str:
    if not ranges:
        return '<p class="muted" id="archived">No archived ranges.</p>'
    rows = "".join(f'<tr><td>{r.get("firstSequence")}–{r.get("lastSequence")}</td>'
                   f'<td class="mono">{escape(str(r.get("key")))}</td></tr>' for r in ranges)
    return f'<h2>Archived ranges</h2><table id="archived"><tbody>{rows}</tbody></table>'


def read_models(data: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td>{escape(t["logicalId"])}</td><td class="mono">{escape(t["name"])}</td>'
                   f'<td>{t["items"]}</td></tr>' for t in data["tables"])
    lag = data["lag"]
    behind = "".join(f'<li class="mono">{escape(s["aggregateId"])}: events {s["fromSequence"]}–{s["toSequence"]}'
                     f"</li>" for s in lag["behind"])
    return ('<h1>Read models</h1><h2>Projection lag</h2>'
            f'<p id="lag">{lag["eventsBehind"]} stored events not yet delivered to every projection '
            f'({lag["streamsBehind"]} streams); {lag["deliveriesPending"]} deliveries in progress; '
            f'{lag["delivered"]} delivered, {lag["failed"]} failed (dead-lettered) since start.</p>'
            f'<ul>{behind}</ul><h2>Tables</h2><table id="tables"><thead><tr><th>Table</th><th>Name</th>'
            f'<th>Items</th></tr></thead><tbody>{rows}</tbody></table>')


def dead_letters(queues: list[dict[str, Any]], actor: str | None) -> str:
    parts = []
    for q in queues:
        action = "/console/dead-letters/" + q["logicalId"] + "/redrive" + (
            f"?{urlencode({'actor': actor})}" if actor else "")
        messages = "".join(f'<tr><td class="mono">{escape(m["messageId"])}</td><td><pre>{_pretty(m["body"])}</pre>'
                           f"</td></tr>" for m in q["messages"])
        button = (f'<form method="post" action="{escape(action)}"><button type="submit" class="redrive" '
                  f'data-queue="{escape(q["logicalId"])}">Redrive {q["count"]} to {escape(q["redrivesTo"])}</button>'
                  "</form>" if q["count"] else "")
        parts.append(f'<section class="queue" data-queue="{escape(q["logicalId"])}" data-count="{q["count"]}">'
                     f'<h2>{escape(q["logicalId"])} <span class="muted">({q["count"]} messages)</span></h2>{button}'
                     f'<table><tbody>{messages or "<tr><td class=muted>Empty.</td></tr>"}</tbody></table></section>')
    return "".join(parts) or '<p class="muted">This stack has no dead-letter queues.</p>'


def schemas(data: dict[str, Any]) -> str:
    upcasters = "".join(f'<tr><td>{escape(u["eventType"])}</td><td>v{u["from"]} → v{u["to"]}</td>'
                        f'<td class="mono">{escape(u["function"])}</td><td>{escape(u["doc"])}</td></tr>'
                        for u in data["upcasters"])
    events = "".join(f'<details><summary>{escape(t)} <span class="muted">versions '
                     f'{", ".join("v" + v for v in versions)}</span></summary>'
                     + "".join(f"<h3>v{escape(v)}</h3><pre>{_pretty(schema)}</pre>" for v, schema in versions.items())
                     + "</details>" for t, versions in data["events"].items())
    commands = "".join(f"<details><summary>{escape(t)}</summary><pre>{_pretty(schema)}</pre></details>"
                       for t, schema in data["commands"].items())
    return (f'<h1>Schema registry</h1><h2>Upcasters</h2><table id="upcasters"><thead><tr><th>Event</th><th>Step</th>'
            f'<th>Function</th><th>What it does</th></tr></thead><tbody>{upcasters}</tbody></table>'
            f'<h2>Event schemas</h2><div id="event-schemas">{events}</div>'
            f'<h2>Command schemas</h2><div id="command-schemas">{commands}</div>')
