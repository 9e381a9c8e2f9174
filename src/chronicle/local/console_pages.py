"""The console's pages (server-rendered HTML; a small script adds the click-to-inspect of the graph).

    /console                          executions, newest first (?command=T&status=FAILED&actor=ID)
    /console/executions/<ARN|name>    one execution: its state machine drawn from the ASL, the path taken
    /console/streams?id=<aggregateId> an aggregate's events as stored and as read, hash chain, archived ranges
    /console/read-models              tables, item counts, projection lag
    /console/dead-letters             dead-letter queues, their messages, a redrive button
    /console/schemas                  command and event schemas, versions, upcasters

Every page is complete without the script (``chromium --dump-dom`` and ``curl`` see the same content). The JSON
behind the pages is under /console/api/ (console_api.py).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from . import console_views as views
from .console_api import Answer, json_answer
from .console_assets import CSS, JS
from .console_graph import svg

NAV = [("/console", "Executions"), ("/console/streams", "Streams"), ("/console/read-models", "Read models"),
       ("/console/dead-letters", "Dead letters"), ("/console/schemas", "Schemas")]


def html_answer(status: int, body: str) -> Answer:
    return status, "text/html; charset=utf-8", body.encode(), {}


def link(path: str, actor: str | None, **params: Any) -> str:
    query = {k: v for k, v in {**params, "actor": actor}.items() if v}
    return path + (f"?{urlencode(query)}" if query else "")


def layout(title: str, here: str, actor: str | None, content: str, known_actors: list[str]) -> str:
    nav = "".join(f'<a href="{escape(link(path, actor))}" class="{"here" if path == here else ""}">{name}</a>'
                  for path, name in NAV)
    options = "".join(f'<option value="{escape(a)}">' for a in known_actors)
    who = f"reading as {escape(actor)}" if actor else "reading as the local operator (everything)"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · Chronicle console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/console/static/console.css"></head>
<body><header><span class="brand">Chronicle</span>{nav}
<form method="get" action="{escape(here)}"><label for="actor">Actor</label>
<input id="actor" name="actor" list="actors" value="{escape(actor or '')}" placeholder="(operator)" size="14">
<datalist id="actors">{options}</datalist><button type="submit">Read as</button></form></header>
<main><p class="muted" id="reading-as">{who}</p>{content}</main>
<script src="/console/static/console.js"></script></body></html>"""


class Pages:
    def __init__(self, console: Any, data: Any) -> None:
        self.console = console
        self.data = data

    def _actors(self) -> list[str]:
        seen = {e.get("actorId") for e in self.console.trail.list(limit=500)} | set(self.console.admins)
        return sorted(a for a in seen if a)

    def _page(self, title: str, here: str, actor: str | None, content: str, status: int = 200) -> Answer:
        return html_answer(status, layout(title, here, actor, content, self._actors()))

    # -- routing --------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], actor: str | None, body: bytes) -> Answer:
        if path == "/console/static/console.css":
            return 200, "text/css; charset=utf-8", CSS.encode(), {}
        if path == "/console/static/console.js":
            return 200, "text/javascript; charset=utf-8", JS.encode(), {}
        if method == "POST":
            return self._post(path, actor)
        if method not in ("GET", "HEAD"):
            return html_answer(405, "<p>Method not allowed.</p>")
        route = path.rstrip("/") or "/console"
        if route == "/console":
            return self.executions(query, actor)
        if route.startswith("/console/executions/"):
            return self.execution(route[len("/console/executions/"):], actor)
        pages = {"/console/streams": lambda: self.stream((query.get("id") or [""])[0].strip(), actor),
                 "/console/read-models": lambda: self._page("Read models", route, actor,
                                                            views.read_models(self.data.read_models())),
                 "/console/dead-letters": lambda: self.dead_letters(actor, query),
                 "/console/schemas": lambda: self._page("Schemas", route, actor, views.schemas(self.data.schemas()))}
        if route in pages:
            return pages[route]()
        return self._page("Not found", route, actor, f"<h1>No console page {escape(route)}</h1>", 404)

    def api(self, route: str, query: dict[str, list[str]], actor: str | None) -> Answer | None:
        if route.startswith("streams/"):
            from urllib.parse import unquote

            return json_answer(200, self.data.stream(unquote(route[len("streams/"):]), actor,
                                                     self.console.sees_all(actor)))
        if route == "read-models":
            return json_answer(200, self.data.read_models())
        if route == "schemas":
            return json_answer(200, self.data.schemas())
        if route == "dead-letters":
            if not self.console.sees_all(actor):
                return json_answer(403, {"error": "Forbidden", "message": "Dead-letter queues are for admins.",
                                         "details": []})
            return json_answer(200, {"queues": self.data.dead_letters()})
        return None

    def post_api(self, route: str, actor: str | None, _body: bytes) -> Answer | None:
        parts = route.split("/")
        if len(parts) == 3 and parts[0] == "dead-letters" and parts[2] == "redrive":
            if not self.console.sees_all(actor):
                return json_answer(403, {"error": "Forbidden", "message": "Only admins may redrive.", "details": []})
            try:
                return json_answer(200, self.data.redrive(parts[1]))
            except LookupError as error:
                return json_answer(404, {"error": "NotFound", "message": str(error), "details": []})
        return None

    def _post(self, path: str, actor: str | None) -> Answer:
        parts = path.strip("/").split("/")  # console / dead-letters / <queue> / redrive
        if len(parts) == 4 and parts[1] == "dead-letters" and parts[3] == "redrive":
            status, _, data, _ = self.post_api(f"dead-letters/{parts[2]}/redrive", actor, b"")
            outcome = json.loads(data)
            moved = outcome.get("moved") if status == 200 else outcome.get("message")
            return 303, "text/plain", b"", {"location": link("/console/dead-letters", actor, redriven=parts[2],
                                                              moved=moved)}
        return html_answer(404, "<p>No such action.</p>")

    # -- executions -----------------------------------------------------------------------------------
    def executions(self, query: dict[str, list[str]], actor: str | None) -> Answer:
        listing, why = self.console.executions(query, actor)
        command = (query.get("command") or [""])[0]
        status = (query.get("status") or [""])[0].upper()
        content = views.executions_filters(command, status, actor, sorted(self.console.trail.command_types()))
        if listing is None:
            return self._page("Executions", "/console", actor, content + f'<p class="bad">{escape(why)}</p>', 400)
        rows = "".join(self._execution_row(e, actor) for e in listing["executions"])
        dropped = f", {listing['dropped']} older ones dropped" if listing["dropped"] else ""
        content += (f'<table id="executions"><thead><tr><th>Started</th><th>Command</th><th>Status</th>'
                    f"<th>Error</th><th>Duration</th><th>Actor</th><th>Execution</th></tr></thead>"
                    f"<tbody>{rows or '<tr><td colspan=7 class=muted>No executions yet.</td></tr>'}</tbody></table>"
                    f'<p class="muted">{len(listing["executions"])} shown of {listing["kept"]} kept{dropped} '
                    f"(the newest {listing['keep']} are kept, across restarts).</p>")
        return self._page("Executions", "/console", actor, "<h1>Executions</h1>" + content)

    @staticmethod
    def _execution_row(e: dict[str, Any], actor: str | None) -> str:
        href = escape(link(f"/console/executions/{quote(e['name'] or '', safe='')}", actor))
        return (f'<tr class="execution" data-status="{escape(e["status"] or "")}">'
                f'<td class="mono">{escape(e["startDate"] or "")}</td>'
                f'<td class="command">{escape(e["commandType"])}</td>'
                f'<td class="status status-{escape(e["status"] or "")}">{escape(e["status"] or "")}</td>'
                f'<td>{escape(e.get("error") or "")}</td><td>{e.get("durationMs") or 0} ms</td>'
                f'<td>{escape(e.get("actorId") or "")}</td>'
                f'<td class="mono"><a href="{href}">{escape(e["name"] or "")}</a></td></tr>')

    def execution(self, ident: str, actor: str | None) -> Answer:
        from urllib.parse import unquote

        record = self.console.execution(unquote(ident), actor)
        if record is None:
            return self._page("Execution", "/console", actor,
                              f'<h1>No execution {escape(unquote(ident))}</h1><p class="muted">It is not kept, or it '
                              "is not this actor's to read.</p>", 404)
        graph = svg(record.get("definition"), record["states"])
        content = (f'<h1>{escape(record["commandType"])} <span class="status status-{escape(record["status"])}">'
                   f'{escape(record["status"])}</span></h1>'
                   f'<p class="mono">{escape(record["executionArn"])}</p>'
                   f'{views.execution_summary(record)}'
                   f'<div class="layout"><div>{graph}{views.LEGEND}</div>'
                   f'<div class="card" id="state-panel"><p class="muted">Click a state to see its input and '
                   f"output.</p></div></div>{views.states_table(record)}")
        return self._page(f"{record['commandType']} execution", "/console", actor, content)

    # -- other pages ----------------------------------------------------------------------------------
    def stream(self, aggregate_id: str, actor: str | None) -> Answer:
        form = views.stream_form(aggregate_id, actor)
        if not aggregate_id:
            return self._page("Streams", "/console/streams", actor, "<h1>Streams</h1>" + form)
        stream = self.data.stream(aggregate_id, actor, self.console.sees_all(actor))
        return self._page(f"Stream {aggregate_id}", "/console/streams", actor,
                          f"<h1>Stream {escape(aggregate_id)}</h1>" + form + views.stream(stream))

    def dead_letters(self, actor: str | None, query: dict[str, list[str]]) -> Answer:
        here = "/console/dead-letters"
        if not self.console.sees_all(actor):
            return self._page("Dead letters", here, actor, "<h1>Dead letters</h1><p>Only the local operator and "
                                                           "the --admin actors see dead-letter queues.</p>", 403)
        flash = ""
        if query.get("redriven"):
            flash = (f'<p class="flash" id="redriven">Redrove {escape((query.get("moved") or ["0"])[0])} messages of '
                     f'{escape(query["redriven"][0])}.</p>')
        return self._page("Dead letters", here, actor,
                          "<h1>Dead-letter queues</h1>" + flash + views.dead_letters(self.data.dead_letters(), actor))
