"""The mapping templates of api/openapi.yaml, rendered (tests/unit/apigateway_vtl.py) as API Gateway would:

- the request template turns any raw body into a StartSyncExecution request whose `input` is the state machine
  input ValidateCommand reads, byte for byte, whatever the body holds (quotes, backslashes, newlines, unicode);
- the response template turns each StartSyncExecution answer into the documented status and body (it answers 200 even
  when the execution failed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from apigateway_vtl import escape_java_script, render
from chronicle.commands import validate_request
from chronicle.errors import HTTP_STATUS

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = yaml.load((ROOT / "api" / "openapi.yaml").read_text(), Loader=yaml.SafeLoader)  # noqa: S506
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:chronicle-command-{}"
COMMANDS = ["CreateProject", "ChangeProjectConfiguration"]
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "chronicle"}


def integration(command: str = "") -> dict:
    """The one command route's integration (every command type shares it)."""
    return OPENAPI["paths"]["/commands/{commandType}"]["post"]["x-amazon-apigateway-integration"]


def request_template() -> str:
    template = integration()["requestTemplates"]["application/json"]["Fn::Sub"]
    for name, value in PSEUDO.items():  # what Fn::Sub does
        template = template.replace("${" + name + "}", value)
    assert "${" not in template
    return template


def start_sync_execution_request(command: str, body: str, context: dict | None = None) -> dict:
    output, _ = render(request_template(), body, context, {"commandType": command})
    return json.loads(output)


BODIES = [
    '{"data":{"name":"Demo","ownerId":"alice"}}',
    '{"data":{"name":"O\'Brien \\"quoted\\" back\\\\slash /slash","ownerId":"a"}}',
    '{"data":{"name":"line\\nbreak\\ttab","ownerId":"a","description":"multi\nline raw"}}',
    '{"data":{"name":"Zoë ☃ 🚀 中文","ownerId":"a"}}',
    '{"data":{"name":"$velocity #if ${x}","ownerId":"a"}}',
    'not json at all \' " \\',
    "",
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("body", BODIES)
def test_request_template_carries_the_raw_body_exactly(command, body):
    request = start_sync_execution_request(command, body, {"requestId": "req-42",
                                                           "identity": {"userArn": "arn:aws:iam::1:user/o'neil"}})
    assert request["stateMachineArn"] == ARN.format(command)
    assert request["name"] == "req-42"
    execution_input = json.loads(request["input"])
    assert execution_input == {"commandType": command, "body": body, "requestId": "req-42",
                               "identity": {"sub": "", "cognitoIdentityId": "", "cognitoAuthenticationType": "",
                                            "userArn": "arn:aws:iam::1:user/o'neil"},
                               "homeAccount": "123456789012"}


def test_the_state_machine_input_is_what_validate_command_accepts():
    body = '{"data":{"name":"Zoë \\"Q\\"","ownerId":"alice"}}'
    request = start_sync_execution_request("CreateProject", body, {"authorizer": {"claims": {"sub": "alice"}}})
    command = validate_request(json.loads(request["input"]))
    assert command["data"] == {"name": 'Zoë "Q"', "ownerId": "alice"}
    assert command["actorId"] == "alice"


def respond(command: str, answer: dict, selection: str = "default") -> tuple[int, dict]:
    responses = integration(command)["responses"]
    output, context = render(responses[selection]["responseTemplates"]["application/json"], json.dumps(answer))
    status = context["responseOverride"].get("status", int(responses[selection]["statusCode"]))
    return status, json.loads(output)


def lambda_error_cause(code: str, body: dict) -> str:
    """What Step Functions puts in `cause` for a Fail state fed by a lambda:invoke Catch with CausePath $.Cause."""
    return json.dumps({"errorMessage": json.dumps(body), "errorType": code, "requestId": "r",
                       "stackTrace": ['  File "/var/task/app.py", line 1, in handler\n']})


@pytest.mark.parametrize("command", COMMANDS)
def test_success_is_the_execution_output(command):
    body = {"aggregateId": "p-1", "aggregateType": "Project", "version": 1, "commandId": "c", "correlationId": "k",
            "events": [{"eventId": "e", "eventType": "ProjectCreated", "eventSequence": 1, "version": "2"}]}
    status, answer = respond(command, {"status": "SUCCEEDED", "output": json.dumps(body)})
    assert (status, answer) == (200, body)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("code", [c for c in HTTP_STATUS if c != "InternalError"])
def test_each_spec_error_gets_its_status_and_body(command, code):
    body = {"error": code, "message": "It's \"refused\" — here's why\n", "details": [{"path": "$.data.name"}]}
    status, answer = respond(command, {"status": "FAILED", "error": code, "cause": lambda_error_cause(code, body)})
    assert (status, answer) == (HTTP_STATUS[code], body)


@pytest.mark.parametrize("command", COMMANDS)
def test_an_error_whose_message_is_plain_text_still_answers_spec_json(command):
    cause = json.dumps({"errorMessage": "Task timed out after 25.00 seconds: it's \"slow\"", "errorType": "x"})
    status, answer = respond(command, {"status": "FAILED", "error": "ConcurrencyConflict", "cause": cause})
    assert status == 409
    assert answer == {"error": "ConcurrencyConflict", "message": 'Task timed out after 25.00 seconds: it\'s "slow"',
                      "details": []}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("error", ["InternalError", "States.Timeout", "States.Runtime", ""])
def test_internal_and_unknown_failures_are_500_without_internals(command, error):
    cause = lambda_error_cause("KeyError", {"secret": "stack"})
    status, answer = respond(command, {"status": "FAILED", "error": error, "cause": cause})
    assert status == 500
    assert answer["error"] == "InternalError" and "secret" not in json.dumps(answer)
    status, answer = respond(command, {"status": "TIMED_OUT"})
    assert status == 500 and answer["error"] == "InternalError"


@pytest.mark.parametrize("command", COMMANDS)
def test_input_over_the_step_functions_limit_is_413(command):
    refusal = {"__type": "com.amazonaws.swf.service.v2.model#InvalidExecutionInput", "message": "too big"}
    status, answer = respond(command, refusal, "4\\d{2}")
    assert (status, answer["error"]) == (413, "PayloadTooLarge")
    status, answer = respond(command, {"__type": "AccessDeniedException"}, "4\\d{2}")
    assert (status, answer["error"]) == (500, "InternalError")


@pytest.mark.parametrize("command", ["Drop'Table\"s", "lowercase", "", "A" * 64, "Create-Project", "X/../Y"])
def test_a_command_type_that_is_not_a_name_never_reaches_another_state_machine(command):
    request = start_sync_execution_request(command, "{}")
    assert request["stateMachineArn"] == ARN.format("_")  # no such state machine: StateMachineDoesNotExist
    assert json.loads(request["input"])["commandType"] == "_"


def test_a_command_without_a_state_machine_is_404_unknown_command():
    refusal = {"__type": "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist", "message": "nope"}
    output, context = render(integration()["responses"]["4\\d{2}"]["responseTemplates"]["application/json"],
                             json.dumps(refusal), {"path": "/v1/commands/Drop'Table\"s"})
    assert context["responseOverride"]["status"] == 404
    assert json.loads(output)["error"] == "UnknownCommand"


@pytest.mark.parametrize("name", list(OPENAPI["x-amazon-apigateway-gateway-responses"]))
def test_gateway_responses_are_spec_json(name):
    gateway = OPENAPI["x-amazon-apigateway-gateway-responses"][name]
    # $context.error.messageString is already a quoted JSON string in API Gateway.
    output, _ = render(gateway["responseTemplates"]["application/json"], "",
                       {"error": {"messageString": json.dumps("Missing 'thing' \"here\"")}})
    body = json.loads(output)
    assert set(body) == {"error", "message", "details"}


def test_escape_java_script_matches_commons_lang():
    assert escape_java_script("a'b\"c\\d/e\n\u00e9\u2603\U0001F680\x01") == (
        "a\\'b\\\"c\\\\d\\/e\\n\\u00E9\\u2603\\uD83D\\uDE80\\u0001")


@pytest.mark.parametrize("body", [*BODIES, '{"data":{"name":"x","ownerId":"a","description":"' + "ñ" * 300 + '"}}'])
def test_the_local_size_measure_is_the_size_step_functions_gets_in_aws(body):
    """ValidateCommand and the local server measure `json.dumps(input)`; in AWS the input is what this template
    writes (escapeJavaScript turns non-ASCII into \\uXXXX, as json.dumps does), so both refuse at the same size."""
    from chronicle.commands import execution_input_size

    context = {"requestId": "req-42", "identity": {"userArn": "arn:aws:iam::1:user/o'neil"}}
    sent = start_sync_execution_request("CreateProject", body, context)["input"]
    measured = execution_input_size(json.loads(sent))
    assert len(sent.encode()) == measured


EXECUTION = "arn:aws:states:us-east-1:123456789012:express:chronicle-command-CreateProject:req-1:run-1"


def mapped_headers(answer: dict, selection: str = "default") -> dict[str, str]:
    """The method response headers API Gateway maps from the integration response (integration.response.body.X)."""
    headers = {}
    for target, source in integration()["responses"][selection].get("responseParameters", {}).items():
        assert target.startswith("method.response.header.") and source.startswith("integration.response.body.")
        value = answer.get(source.removeprefix("integration.response.body."))
        if value is not None:
            headers[target.removeprefix("method.response.header.")] = value
    return headers


def test_every_execution_answer_names_its_execution_in_a_header():
    body = {"aggregateId": "p-1"}
    assert mapped_headers({"status": "SUCCEEDED", "output": json.dumps(body), "executionArn": EXECUTION}) == {
        "X-Chronicle-Execution": EXECUTION}
    refused = {"status": "FAILED", "error": "ConcurrencyConflict", "executionArn": EXECUTION,
               "cause": lambda_error_cause("ConcurrencyConflict", {"error": "ConcurrencyConflict", "message": "m"})}
    assert respond("CreateProject", refused)[0] == 409
    assert mapped_headers(refused) == {"X-Chronicle-Execution": EXECUTION}
    for code in ("200", "409", "500"):  # a mapped header must be declared on each method response
        ref = OPENAPI["paths"]["/commands/{commandType}"]["post"]["responses"][code]["$ref"].rpartition("/")[2]
        assert "X-Chronicle-Execution" in OPENAPI["components"]["responses"][ref]["headers"]


def test_a_500_names_the_execution_to_look_at():
    answer = {"status": "FAILED", "error": "InternalError", "executionArn": EXECUTION,
              "cause": lambda_error_cause("KeyError", {"secret": "stack"})}
    status, body = respond("CreateProject", answer)
    assert status == 500 and EXECUTION in body["message"] and "secret" not in json.dumps(body)
    assert body["details"] == [{"executionArn": EXECUTION}]
