"""JSON Schema's `pattern` with the meaning the standard gives it: an ECMA-262 regular expression, searched.

jsonschema evaluates `pattern` with Python's `re.search`, where `$` also matches before a final newline: `^svc$`
accepted "svc\\n", so an id or a service name could carry a trailing newline past its schema. In ECMA-262 (no `m`
flag) `$` matches only at the very end. `Validator` is Draft 2020-12 with `pattern` evaluated that way: each `$`
outside a character class is read as Python's `\\Z`. The schema files keep standard syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


def python_pattern(pattern: str) -> str:
    """`pattern` for Python's `re` with ECMA-262's `$`: the end of the text, never before a final newline."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(python_pattern(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
