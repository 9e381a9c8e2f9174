"""Regular expressions from template parameter schemas (``pattern``, ``patternProperties``), kept from freezing the
server: a pattern such as ``^(a+)+$`` backtracks exponentially, and Python's ``re`` holds the GIL while it does, so
one AddService stopped every thread of the process (health included) for seconds per character.

Two guards (docs/decisions/0013-subscription-rights-and-query-budgets.md):

- ValidateTemplate refuses a pattern that does not compile, or that repeats a part made only of repetitions, one of
  them unbounded (``(a+)+``, ``(\\w+\\s?)*``, ``(x+x+)+y``): the shape behind nearly every catastrophic pattern. A
  repeated part with a fixed character in it (``(-[a-z]+)*``) is fine. AddService makes the same check first, for
  templates validated before it existed.
- AddService evaluates ``pattern``, ``patternProperties`` and the ``additionalProperties`` that depend on them with
  the ``regex`` engine, which releases the GIL while it matches (``concurrent=True``) and gives up after
  ``MATCH_TIMEOUT`` seconds: the value is then refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import regex
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from chronicle.schemas.ecma import python_pattern

try:  # the standard library's parser of regular expressions, used only to look at a pattern's shape
    import re._constants as _sre_constants  # type: ignore[import-not-found]
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python before 3.11
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MATCH_TIMEOUT = 0.1  # seconds one pattern may take on one value
_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT,
            getattr(_sre_constants, "POSSESSIVE_REPEAT", _sre_constants.MAX_REPEAT)}
_UNBOUNDED = _sre_constants.MAXREPEAT


def _compiled(pattern: str) -> Any:
    # ECMA-262's `$` (the end of the text, never before a final newline: chronicle.schemas.ecma)
    return regex.compile(python_pattern(pattern), regex.V0)


def _only_repetitions(items: Any) -> tuple[bool, bool]:
    """(every item is a repetition or a group/alternative made only of them, one of them is unbounded)."""
    unbounded = False
    for op, arg in items:
        if op in _REPEATS:
            unbounded = unbounded or arg[1] == _UNBOUNDED
            continue
        if op is _sre_constants.SUBPATTERN:
            only, inner = _only_repetitions(arg[-1])
        elif op is _sre_constants.BRANCH:
            branches = [_only_repetitions(b) for b in arg[1]]
            only, inner = any(o for o, _ in branches), any(o and u for o, u in branches)
        else:
            return False, unbounded
        if not only:
            return False, unbounded
        unbounded = unbounded or inner
    return True, unbounded


def _nested_repetition(items: Any) -> bool:
    """Does the parsed pattern repeat (without bound) a part made only of repetitions, one unbounded?"""
    for op, arg in items:
        children: list[Any] = []
        if op in _REPEATS:
            only, unbounded = _only_repetitions(arg[2])
            if arg[1] == _UNBOUNDED and only and unbounded:
                return True
            children = [arg[2]]
        elif op is _sre_constants.SUBPATTERN:
            children = [arg[-1]]
        elif op is _sre_constants.BRANCH:
            children = list(arg[1])
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            children = [arg[1]]
        elif op is getattr(_sre_constants, "ATOMIC_GROUP", None):
            children = [arg]
        if any(_nested_repetition(child) for child in children):
            return True
    return False


def problem(pattern: Any) -> str | None:
    """Why a schema's pattern is refused, or None."""
    if not isinstance(pattern, str):
        return None  # the metaschema says what is wrong with it
    try:
        _compiled(pattern)
        parsed = _sre_parse.parse(pattern)
    except Exception as error:  # noqa: BLE001 - any parser failure (regex.error, re.error ...) is "not valid"
        return f"not a valid regular expression: {error}"
    if _nested_repetition(parsed):
        return ("the pattern repeats a part made only of repetitions (as in (a+)+ or (\\w+\\s?)*): it can take "
                "exponential time on a value that almost matches; put a fixed character in the repeated part or "
                "drop the inner repetition")
    return None


def problems(schema: Any, path: str = "$.parameters") -> list[dict[str, str]]:
    """Every refused ``pattern`` / ``patternProperties`` key of a schema, as ValidateTemplate's {path, message}."""
    found: list[dict[str, str]] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and (why := problem(value)):
                found.append({"path": f"{path}.pattern", "message": why})
            if key == "patternProperties" and isinstance(value, dict):
                found += [{"path": f"{path}.patternProperties[{name!r}]", "message": why}
                          for name in value if (why := problem(name))]
            found += problems(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            found += problems(item, f"{path}[{i}]")
    return found


def search(pattern: str, text: str) -> bool:
    """``regex`` search with the GIL released and a time budget: TimeoutError past MATCH_TIMEOUT."""
    return _compiled(pattern).search(text, timeout=MATCH_TIMEOUT, concurrent=True) is not None


def _timed_out(pattern: str) -> ValidationError:
    return ValidationError(f"could not be checked against the pattern {pattern[:80]!r} within {MATCH_TIMEOUT} s "
                           "(the template's pattern backtracks too much on this value)")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        if not search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")
    except TimeoutError:
        yield _timed_out(pattern)


def _matching(patterns: Any, name: str) -> list[str] | ValidationError:
    """The patterns that match a property name, or the error of the first that ran out of time."""
    matched = []
    for pattern in patterns:
        try:
            if search(pattern, name):
                matched.append(pattern)
        except TimeoutError:
            return _timed_out(pattern)
    return matched


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for name, value in instance.items():
        matched = _matching(patterns, name)
        if isinstance(matched, ValidationError):
            yield matched
            return
        for pattern in matched:
            yield from validator.descend(value, patterns[pattern], path=name, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any
                           ) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
    extras = []
    for name in instance:
        matched = _matching(patterns, name) if name not in known else [name]
        if isinstance(matched, ValidationError):
            yield matched
            return
        if not matched:
            extras.append(name)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, sorted(extras)))} "
                              f"{'was' if len(extras) == 1 else 'were'} unexpected)")


SafeValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties})
