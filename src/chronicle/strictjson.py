"""Strict JSON in (docs/reference/errors.md): what Python's ``json`` accepts and no other JSON reader would, refused.

``json.loads`` takes ``NaN``/``Infinity``, turns ``1e400`` into ``inf`` and ``1e-400`` into ``0.0``, keeps the last of
two equal keys, and recurses as deep as the text nests. Each of those lets a command store what it did not say
(``history`` would then return text that is not JSON), so :func:`loads` refuses them with the reason and a JSON path.
The command Lambda (ValidateCommand) and the local ``/graphql`` endpoint both parse with it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64  # nesting levels of arrays and objects (docs/reference/errors.md)

_NON_ZERO_DIGIT = re.compile(r"[1-9]")
_MAX_DOUBLE = int(1.7976931348623157e308)
_MAX_DOUBLE_DIGITS = len(str(_MAX_DOUBLE))  # 309: JSON has no leading zeros, so more digits is more


class StrictJSONError(ValueError):
    """The text is not strict JSON; ``path`` says where (``$`` for the whole document)."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJSONError(f"the number {text[:40]} is too large for a double")
    mantissa = re.split(r"[eE]", text, maxsplit=1)[0]
    if value == 0.0 and _NON_ZERO_DIGIT.search(mantissa):
        raise StrictJSONError(f"the number {text[:40]} is too small for a double (it would be stored as 0)")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DOUBLE_DIGITS:  # before int(): Python refuses 4,300+ digits with its own text
        raise StrictJSONError(f"the number {text[:40]}... ({len(text.lstrip('-'))} digits) is too large for a double")
    value = int(text)
    if abs(value) > _MAX_DOUBLE:
        raise StrictJSONError(f"the number {text[:40]}... is too large for a double")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise StrictJSONError(f"the key {key[:80]!r} appears twice in one object")
            seen.add(key)
    return obj


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in items)
    return deepest


def _text_depth(text: str) -> int:
    """Bracket depth of JSON text, strings skipped: checked before parsing so a deep text never recurses."""
    brackets = re.sub(r'"(?:[^"\\]|\\.)*"?', "", text)
    level = deepest = 0
    for char in re.sub(r"[^\[\]{}]", "", brackets):
        level += 1 if char in "[{" else -1
        if level > deepest:
            deepest = level
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON (RFC 8259, UTF-8) or raise :class:`StrictJSONError`."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise StrictJSONError(f"the body is not UTF-8 (byte {error.start}: {error.reason})") from None
    if text.count("[") + text.count("{") > max_depth and _text_depth(text) > max_depth:
        raise StrictJSONError(f"the document nests deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int,
                          object_pairs_hook=_object)
    except StrictJSONError:
        raise
    except RecursionError:  # unreachable after the depth check; kept so that no input can reach a 500
        raise StrictJSONError(f"the document nests deeper than {max_depth} levels") from None
    except ValueError as error:
        raise StrictJSONError(str(error)) from None
