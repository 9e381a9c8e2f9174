"""`Chronicle`: commands and GraphQL queries to a deployed stack or to `chronicle local`, with the same calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .auth import LocalActor, SigV4, Token
from .errors import ConcurrencyConflict, graphql_error
from .transport import Retrying, raise_for

# redecide(conflict) -> (data, expected_version) for a new attempt, or None to give up (the conflict is raised)
Redecide = Callable[[ConcurrencyConflict], "tuple[dict[str, Any], int | None] | None"]


class Chronicle:
    """A client of one Chronicle stack.

    `url`: the command API's base URL (the stack's CommandApiUrl output, or `http://127.0.0.1:3000` locally);
    `graphql_url`: the GraphQL endpoint (GraphQLApiUrl; default `<url>/graphql`, as `chronicle local` serves it);
    `auth`: `CognitoTokens`, `Token` (or the token as a string), `SigV4` or `LocalActor` (chronicle.client.auth);
    default: anonymous. `retrying`: the retry policy (attempts and backoff) for network errors, throttling and 5xx
    answers."""

    def __init__(self, url: str, auth: Any = None, graphql_url: str | None = None,
                 retrying: Retrying | None = None):
        self.url = url.rstrip("/")
        self.graphql_url = graphql_url or f"{self.url}/graphql"
        if isinstance(auth, str):  # a token as is (a user pool ID token, or `chronicle token` locally)
            auth = Token(auth)
        self.auth = auth if auth is not None else LocalActor("anonymous")
        self.retrying = retrying or Retrying()

    @classmethod
    def local(cls, url: str = "http://127.0.0.1:3000", actor: str | None = None, token: str | None = None,
              **kwargs: Any) -> Chronicle:
        """`chronicle local`: act as `actor` (X-Actor-Id) or present a local token (`chronicle token`)."""
        auth = Token(token) if token else LocalActor(actor or "anonymous")
        return cls(url, auth=auth, **kwargs)

    @classmethod
    def aws(cls, command_api_url: str, graphql_url: str, auth: Any = None, **kwargs: Any) -> Chronicle:
        """A deployed stack (its CommandApiUrl and GraphQLApiUrl outputs); default auth: SigV4."""
        return cls(command_api_url, auth=auth if auth is not None else SigV4(), graphql_url=graphql_url, **kwargs)

    # ---- commands ---------------------------------------------------------------------------------------
    def command(self, type: str, data: dict[str, Any], aggregate_id: str | None = None,  # noqa: A002 - the documented name
                expected_version: int | None = None, *, command_id: str | None = None,
                redecide: Redecide | None = None, max_redecisions: int = 5) -> dict[str, Any]:
        """Send one command; its answer (aggregateId, version, events ...) or a typed error.

        One commandId per logical command (`command_id`, else a new UUID), so retries of network errors,
        throttling and 5xx are applied once. A ConcurrencyConflict is raised unless `redecide` is given: then it
        is called with the conflict and returns the new (data, expected_version) (having re-read the stream), or
        None to give up; each re-decision is a new command with its own commandId."""
        attempt = 0
        while True:
            try:
                return self._send_command(type, data, aggregate_id, expected_version, command_id)
            except ConcurrencyConflict as conflict:
                attempt += 1
                decision = redecide(conflict) if redecide is not None and attempt <= max_redecisions else None
                if decision is None:
                    raise
                data, expected_version = decision
                command_id = None
                self.retrying.sleep(self.retrying.rand() * min(self.retrying.cap, self.retrying.base * 2 ** attempt))

    def _send_command(self, command_type: str, data: dict[str, Any], aggregate_id: str | None,
                      expected_version: int | None, command_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"commandId": command_id or str(uuid.uuid4()), "data": data}
        if aggregate_id is not None:
            body["aggregateId"] = aggregate_id
        if expected_version is not None:
            body["expectedVersion"] = expected_version
        prefix = getattr(self.auth, "command_prefix", "/commands")
        url = f"{self.url}{prefix}/{quote(command_type, safe='')}"
        status, answer = self.retrying.exchange("POST", url, json.dumps(body).encode(), self.auth)
        return raise_for(status, answer)

    # ---- queries ----------------------------------------------------------------------------------------
    def query(self, document: str, variables: dict[str, Any] | None = None,
              operation_name: str | None = None) -> dict[str, Any]:
        """Run a GraphQL query; its `data`, or the typed error of its first error (GraphQLError otherwise)."""
        request: dict[str, Any] = {"query": document, "variables": variables or {}}
        if operation_name:
            request["operationName"] = operation_name
        status, answer = self.retrying.exchange("POST", self.graphql_url, json.dumps(request).encode(), self.auth)
        if status != 200 or not isinstance(answer, dict):
            raise_for(status if status != 200 else 500, answer)
        if answer.get("errors"):
            raise graphql_error(answer["errors"], answer.get("data"))
        return answer.get("data") or {}
