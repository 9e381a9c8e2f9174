"""The console's routes on the local server: ``/`` (redirect), ``/console...`` (pages, console_pages.py) and
``/console/api/...`` (JSON, what ``chronicle executions`` and the pages read).

    GET /console/api/executions[?command=T&status=FAILED&limit=N]   newest first: {"executions": [...], "kept",
                                                                   "dropped", "keep"}
    GET /console/api/executions/<ARN or name>                      one execution with its states (trail.py)
                                                                   and its state machine's ASL definition

Who reads what: the caller's actor is ``?actor=`` or the ``X-Actor-Id`` header. Without one, the caller is the
local operator (who started ``chronicle local`` and can read its state dir and its AWS endpoint anyway) and sees
everything, as the Step Functions console shows an account's owner every execution. With one, an actor sees the
executions it started; the ``--admin`` actors see all (docs/decisions/0014).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

Answer = tuple[int, str, bytes, dict[str, str]]  # status, content type, body, extra headers

_STATUS = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"}
_COMMAND = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")


def json_answer(status: int, body: Any) -> Answer:
    return status, "application/json", json.dumps(body).encode(), {}


def _error(status: int, code: str, message: str) -> Answer:
    return json_answer(status, {"error": code, "message": message, "details": []})


class Console:
    """Serves the console for one runtime: ``trail`` (executions), ``admins``, ``definitions`` (state machine
    name -> ASL dict), and ``pages`` (console_pages.Pages, set by the runtime)."""

    def __init__(self, trail: Any, admins: list[str] | tuple[str, ...] = (),
                 definitions: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        self.trail = trail
        self.admins = set(admins)
        self.definitions = definitions or (lambda name: None)
        self.pages: Any = None

    # -- who may read -------------------------------------------------------------------------------
    @staticmethod
    def actor_of(query: dict[str, list[str]], headers: Any) -> str | None:
        chosen = (query.get("actor") or [""])[0].strip() or (headers.get("x-actor-id") or "").strip()
        return chosen or None

    def sees_all(self, actor: str | None) -> bool:
        return actor is None or actor in self.admins

    def visible(self, actor: str | None) -> Callable[[dict[str, Any]], bool] | None:
        if self.sees_all(actor):
            return None
        return lambda record: record.get("actorId") == actor

    # -- routing ------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes = b"") -> Answer | None:
        """The answer for a console route, or None when ``target`` is not one."""
        path, _, raw_query = target.partition("?")
        if path == "/":
            return 302, "text/plain", b"", {"location": "/console"}
        if not (path == "/console" or path.startswith("/console/")):
            return None
        query = parse_qs(raw_query)
        actor = self.actor_of(query, headers)
        if path.startswith("/console/api/"):
            if method not in ("GET", "HEAD"):
                return self._post_api(path, actor, body) if method == "POST" else _error(
                    405, "MethodNotAllowed", f"{method} is not allowed on {path}.")
            return self._api(path[len("/console/api/"):], query, actor)
        if self.pages is None:
            return _error(404, "NotFound", "The console's pages are not served by this server.")
        return self.pages.handle(method, path, query, actor, body)

    def _api(self, route: str, query: dict[str, list[str]], actor: str | None) -> Answer:
        if route == "executions":
            return self._list(query, actor)
        if route.startswith("executions/"):
            return self._show(unquote(route[len("executions/"):]), actor)
        if self.pages is not None:
            answer = self.pages.api(route, query, actor)
            if answer is not None:
                return answer
        return _error(404, "NotFound", f"No console route {route!r}.")

    def _post_api(self, path: str, actor: str | None, body: bytes) -> Answer:
        if self.pages is not None:
            answer = self.pages.post_api(path[len("/console/api/"):], actor, body)
            if answer is not None:
                return answer
        return _error(404, "NotFound", f"No console route {path!r}.")

    # -- executions ---------------------------------------------------------------------------------
    def executions(self, query: dict[str, list[str]], actor: str | None) -> tuple[dict[str, Any] | None, str]:
        """(listing, "") or (None, why the query is refused)."""
        command = (query.get("command") or [""])[0] or None
        status = ((query.get("status") or [""])[0] or "").upper() or None
        limit_text = (query.get("limit") or ["50"])[0]
        if command is not None and not _COMMAND.match(command):
            return None, f"command {command[:80]!r} is not a command type"
        if status is not None and status not in _STATUS:
            return None, f"status must be one of {', '.join(sorted(_STATUS))}"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= self.trail.keep:
            return None, f"limit must be a whole number from 1 to {self.trail.keep}"
        listing = self.trail.list(command, status, int(limit_text), self.visible(actor))
        return {"executions": listing, "kept": len(self.trail), "dropped": self.trail.dropped,
                "keep": self.trail.keep}, ""

    def _list(self, query: dict[str, list[str]], actor: str | None) -> Answer:
        listing, why = self.executions(query, actor)
        if listing is None:
            return _error(400, "ValidationError", why)
        return json_answer(200, listing)

    def execution(self, ident: str, actor: str | None) -> dict[str, Any] | None:
        record = self.trail.get(ident)
        if record is None:
            return None
        check = self.visible(actor)
        if check is not None and not check(record):
            return None  # not yours: as if it did not exist
        return {**record, "definition": self.definitions(record.get("stateMachine") or "")}

    def _show(self, ident: str, actor: str | None) -> Answer:
        record = self.execution(ident, actor)
        if record is None:
            return _error(404, "NotFound", f"No execution {ident[:200]!r} is kept (or it is not yours to read).")
        return json_answer(200, record)
