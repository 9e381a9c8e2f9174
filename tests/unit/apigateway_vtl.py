"""Render the API Gateway mapping templates of api/openapi.yaml with a Velocity engine (airspeed, as LocalStack does).

API Gateway's `$input`, `$util` and `$context` are emulated here from AWS's "mapping template reference": only what
our templates use. `$util.escapeJavaScript` follows Apache Commons Lang's StringEscapeUtils.escapeJavaScript, which
API Gateway documents it as (it escapes ' as \\', which is why the templates undo that).
"""

from __future__ import annotations

import json
from typing import Any

import airspeed


def escape_java_script(text: Any) -> str:
    out = []
    for unit in _utf16_units(str(text)):
        char = chr(unit)
        if unit > 0x7F:
            out.append(f"\\u{unit:04X}")
        elif unit < 32:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(unit, f"\\u{unit:04X}"))
        elif char in "'\"\\/":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _utf16_units(text: str):
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        yield int.from_bytes(data[i:i + 2], "big")


class Util:
    def escapeJavaScript(self, text):  # noqa: N802 - API Gateway's name
        return escape_java_script(text)

    def parseJson(self, text):  # noqa: N802
        return json.loads(text)


class Input:
    """`$input` for a JSON payload (the client's body, or the integration's response)."""

    def __init__(self, body: str, params: dict[str, str] | None = None):
        self.body = body
        self._params = params or {}

    def params(self, name: str) -> str:
        """A request parameter (path, query string or header), "" when absent."""
        return self._params.get(name, "")

    def path(self, expression: str):
        value = json.loads(self.body) if self.body else {}
        assert expression.startswith("$"), expression
        for part in filter(None, expression[1:].split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else value

    def json(self, expression: str) -> str:
        return json.dumps(self.path(expression))


def render(template: str, body: str, context: dict | None = None,
           params: dict[str, str] | None = None) -> tuple[str, dict]:
    """(output, context after rendering): `context["responseOverride"]["status"]` is what the template set."""
    context = {"requestId": "req-1", "path": "/v1/commands/X", "authorizer": {}, "identity": {},
               "responseOverride": {}, "error": {}, **(context or {})}
    output = airspeed.Template(template).merge({"input": Input(body, params), "util": Util(), "context": context})
    return output, context
