"""What ValidateCommand (validate_request) accepts: strict JSON, bounded nesting, the size that will travel.

It runs in AWS (the Lambda) and locally (the same Lambda in-process), so these rules hold in both places.
"""

from __future__ import annotations

import json

import pytest

from chronicle import errors, strictjson
from chronicle.commands import MAX_EXECUTION_INPUT_BYTES, validate_request
from chronicle.domain import project


def request(body: str, command: str = "CreateProject", actor: str = "alice") -> dict:
    return {"commandType": command, "body": body, "actorId": actor, "requestId": "r-1"}


def refused(body: str, command: str = "CreateProject") -> errors.ChronicleError:
    with pytest.raises(errors.ChronicleError) as caught:
        validate_request(request(body, command))
    return caught.value


@pytest.mark.parametrize("body", [
    '{"data": {"name": "x", "ownerId": "a", "description": NaN}}',
    '{"data": {"name": "x", "ownerId": "a"}, "expectedVersion": Infinity}',
    '{"data": {"name": "x", "ownerId": "a"}, "expectedVersion": -Infinity}',
    '{"aggregateId": "p", "data": {"set": {"n": 1e400}}}',
    '{"aggregateId": "p", "data": {"set": {"n": -1e400}}}',
    '{"aggregateId": "p", "data": {"set": {"n": 1e-400}}}',
    '{"aggregateId": "p", "data": {"set": {"n": 1' + "0" * 400 + '}}}',
    '{"aggregateId": "p", "data": {"set": {"k": 1, "k": 2}}}',
    '{"data": {"name": "x", "ownerId": "a"}, "data": {"name": "y", "ownerId": "b"}}',
])
def test_what_json_loads_would_accept_but_json_does_not_is_a_400(body):
    error = refused(body, "ChangeProjectConfiguration" if '"p"' in body else "CreateProject")
    assert (error.code, error.status) == ("ValidationError", 400), error.body()
    assert error.details and error.details[0]["path"] == "$"


def test_numbers_a_double_holds_are_kept_as_sent():
    command = validate_request(request('{"aggregateId": "p", "data": {"set": {"a": 1e300, "b": 0.0e-400, '
                                       '"c": 5e-324, "d": 12345678901234567890}}}', "ChangeProjectConfiguration"))
    assert command["data"]["set"] == {"a": 1e300, "b": 0.0, "c": 5e-324, "d": 12345678901234567890}


def nested(levels: int) -> str:
    """A CreateProject whose document nests `levels` deep in total (the body object is level 1)."""
    inner = "[" * (levels - 2) + "]" * (levels - 2)
    return '{"data": {"name": "x", "ownerId": "a", "description": ' + (inner or '""') + "}}"


def test_nesting_is_bounded_at_64_levels_whatever_the_depth():
    assert strictjson.depth(json.loads(nested(64))) == 64
    # 64 levels parse (then fail the schema: description is not an array), 65 and 100,000 are refused as too deep
    assert "too deep" not in refused(nested(64)).message
    for levels in (65, 500, 100_000):
        error = refused(nested(levels))
        assert error.code == "ValidationError" and "64 levels" in error.details[0]["message"], levels


def test_bytes_that_are_not_utf8_are_a_400():
    with pytest.raises(strictjson.StrictJSONError, match="not UTF-8"):
        strictjson.loads(b'{"data": {"name": "\xff\xfe", "ownerId": "a"}}')


def test_a_parsed_body_is_held_to_the_same_rules():
    for body in ({"data": {"name": "x", "ownerId": "a", "description": float("nan")}},
                 {"data": {"name": "x", "ownerId": "a", "description": json.loads(nested(70))}}):
        with pytest.raises(errors.ValidationError):
            validate_request({"commandType": "CreateProject", "body": body, "actorId": "alice"})


def test_the_size_that_travels_is_measured_json_escaped():
    # 90 KB of UTF-8 (45,000 two-byte characters) travels as 270 KB: each is \\u00f1 in the execution input
    text = "ñ" * 45_000
    body = json.dumps({"data": {"name": "x", "ownerId": "a", "description": text}}, ensure_ascii=False)
    assert len(body.encode()) < MAX_EXECUTION_INPUT_BYTES < len(json.dumps(body).encode())
    error = refused(body)
    assert (error.code, error.status) == ("PayloadTooLarge", 413)
    assert error.details == [{"bytes": error.details[0]["bytes"], "limit": MAX_EXECUTION_INPUT_BYTES}]
    assert error.details[0]["bytes"] > MAX_EXECUTION_INPUT_BYTES


def test_a_huge_actor_id_is_measured_too():
    body = json.dumps({"data": {"name": "x", "ownerId": "a"}})
    with pytest.raises(errors.PayloadTooLarge) as caught:
        validate_request(request(body, actor="a" * (MAX_EXECUTION_INPUT_BYTES + 1)))
    assert set(caught.value.details[0]) == {"bytes", "limit"}


@pytest.mark.parametrize("name", [" ", "   ", "\t\n", "\u3000"])
def test_a_blank_project_name_is_a_400(name):
    error = refused(json.dumps({"data": {"name": name, "ownerId": "a"}}))
    assert error.code == "ValidationError" and error.details[0]["path"] == "$.data.name"


def test_a_name_with_spaces_around_a_word_is_fine():
    assert validate_request(request(json.dumps({"data": {"name": " x ", "ownerId": "a"}})))["data"]["name"] == " x "


def test_configuration_is_bounded_before_the_append():
    state = project.evolve(project.initial_state(), {"eventType": "ProjectCreated", "eventSequence": 1,
                                                     "timestamp": "t", "eventData": {"name": "n", "ownerId": "o",
                                                                                     "visibility": "private"}})
    half = "x" * (project.MAX_CONFIGURATION_BYTES // 2)
    [(kind, data)] = project.decide("ChangeProjectConfiguration", {"set": {"a": half}}, state)
    state = project.evolve(state, {"eventType": kind, "eventSequence": 2, "timestamp": "t", "eventData": data})
    with pytest.raises(errors.BusinessRuleViolation) as caught:
        project.decide("ChangeProjectConfiguration", {"set": {"b": half}}, state)
    detail = caught.value.details[0]
    assert detail["rule"] == "ConfigurationTooLarge" and detail["limit"] == project.MAX_CONFIGURATION_BYTES
    assert detail["bytes"] > detail["limit"]
    # unsetting makes room again
    assert project.decide("ChangeProjectConfiguration", {"set": {"b": half}, "unset": ["a"]}, state)


def test_a_60_kb_actor_id_is_a_400_not_stored_in_every_event():
    body = json.dumps({"data": {"name": "x", "ownerId": "a"}})
    with pytest.raises(errors.ValidationError) as caught:
        validate_request(request(body, actor="a" * 60_000))
    assert caught.value.details[0]["path"] == "actorId"


@pytest.mark.parametrize("body", ["", "  ", "null", "[]", '"text"', "5"])
def test_a_body_that_is_not_an_object_is_a_400(body):
    assert refused(body).code == "ValidationError"


def test_a_5000_digit_integer_is_our_400_not_pythons_digit_limit_message():
    error = refused('{"aggregateId": "p", "data": {"set": {"n": 1' + "0" * 5000 + '}}}', "ChangeProjectConfiguration")
    assert (error.code, error.status) == ("ValidationError", 400)
    assert "set_int_max_str_digits" not in json.dumps(error.body()) and "too large for a double" in error.message


def test_schema_patterns_have_ecma_end_of_text_semantics():
    from chronicle.schemas.ecma import Validator, python_pattern

    assert python_pattern(r"^a[$]b\$c$") == r"^a[$]b\$c\Z"
    validator = Validator({"type": "string", "pattern": "^[a-z]+$"})
    assert validator.is_valid("svc") and not validator.is_valid("svc\n")
