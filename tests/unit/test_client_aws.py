"""chronicle.client's AWS paths without AWS: SigV4 signing (botocore, fixed credentials), Cognito sign-in and
refresh (botocore Stubber), retries with backoff on recorded answers, typed errors for each code."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from chronicle.client import (AccessDenied, AggregateNotFound, Chronicle, ChronicleError, CognitoTokens, Forbidden,
                              GraphQLError, Retrying, SigV4, Throttled, Token, TransportError, Unauthorized)
from chronicle.client.auth import signing_scope
from chronicle.client.errors import BY_CODE, error_for
from chronicle.errors import HTTP_STATUS

API = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
GRAPHQL = "https://xyz.appsync-api.eu-west-1.amazonaws.com/graphql"
OK = {"aggregateId": "p-1", "aggregateType": "Project", "version": 1, "commandId": "c", "correlationId": "r",
      "events": []}


class Recorded:
    """A sender that answers from a list of recorded (status, body) or exceptions, and keeps what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[dict] = []

    def __call__(self, method, url, headers, body, timeout):
        self.sent.append({"method": method, "url": url, "headers": headers, "body": json.loads(body)})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, payload = answer
        return status, json.dumps(payload).encode()


def client(recorded, auth=None, **kwargs):
    waits: list[float] = []
    retrying = Retrying(send=recorded, sleep=waits.append, rand=lambda: 1.0, **kwargs)
    return Chronicle(API, auth=auth or Token("id-token"), graphql_url=GRAPHQL, retrying=retrying), waits


def _session():
    return boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                                 aws_session_token="session-token", region_name="eu-west-1")


def test_sigv4_signs_commands_on_the_iam_route_and_graphql_for_appsync():
    recorded = Recorded((200, OK), (200, {"data": {"project": None}}))
    chronicle, _ = client(recorded, auth=SigV4(_session()))
    chronicle.command("CreateProject", {"name": "x", "ownerId": "o"})
    chronicle.query("{ project(id: \"p\") { id } }")
    command, query = recorded.sent
    assert command["url"] == f"{API}/iam/commands/CreateProject"
    assert "Credential=AKIDEXAMPLE/" in command["headers"]["Authorization"]
    assert "/eu-west-1/execute-api/aws4_request" in command["headers"]["Authorization"]
    assert command["headers"]["X-Amz-Security-Token"] == "session-token"
    assert "/eu-west-1/appsync/aws4_request" in query["headers"]["Authorization"]
    assert signing_scope("http://localhost:3000/graphql", "us-east-1") == ("appsync", "us-east-1")


def test_a_token_goes_to_the_cognito_route_as_is():
    recorded = Recorded((200, OK))
    chronicle, _ = client(recorded)
    chronicle.command("CreateProject", {"name": "x", "ownerId": "o"}, aggregate_id="p-1", expected_version=0)
    sent = recorded.sent[0]
    assert sent["url"] == f"{API}/commands/CreateProject"
    assert sent["headers"]["Authorization"] == "id-token"
    assert sent["body"]["aggregateId"] == "p-1" and sent["body"]["expectedVersion"] == 0
    assert sent["body"]["commandId"]


def test_a_string_auth_is_a_token():
    recorded = Recorded((200, OK))
    Chronicle(API, auth="raw-id-token", retrying=Retrying(send=recorded)).command("CreateProject", {})
    assert recorded.sent[0]["headers"]["Authorization"] == "raw-id-token"


def test_retries_keep_the_command_id_and_back_off():
    recorded = Recorded(ConnectionRefusedError(), (503, {"message": "Service Unavailable"}),
                        (429, {"error": "Throttled", "message": "slow down", "details": []}),
                        (502, {"message": "Bad Gateway"}), (200, OK))
    chronicle, waits = client(recorded)
    assert chronicle.command("CreateProject", {"name": "x", "ownerId": "o"}) == OK
    assert len({s["body"]["commandId"] for s in recorded.sent}) == 1 and len(recorded.sent) == 5
    assert waits == [0.2, 0.4, 0.8, 1.6]


def test_retries_end_with_the_typed_error_or_a_transport_error():
    throttled = [(429, {"error": "Throttled", "message": "slow down", "details": []})] * 3
    with pytest.raises(Throttled):
        client(Recorded(*throttled), attempts=3)[0].command("CreateProject", {})
    with pytest.raises(TransportError):
        client(Recorded(*[TimeoutError("timed out")] * 3), attempts=3)[0].command("CreateProject", {})


def test_a_refusal_is_not_retried():
    body = {"error": "Forbidden", "message": "may not", "details": [{"permission": "write", "resource": "p"}]}
    recorded = Recorded((403, body))
    with pytest.raises(Forbidden) as refused:
        client(recorded)[0].command("ChangeProjectConfiguration", {"set": {"a": 1}}, "p")
    assert refused.value.details == body["details"] and len(recorded.sent) == 1


@pytest.mark.parametrize("code", sorted(HTTP_STATUS))
def test_every_spec_code_has_its_class(code):
    error = error_for(HTTP_STATUS[code], {"error": code, "message": "m", "details": []})
    assert type(error).__name__ == code and error.code == code and isinstance(error, ChronicleError)
    assert BY_CODE[code] is type(error)


def test_api_gateway_refusals_are_typed_too():
    assert isinstance(error_for(403, {"error": "AccessDenied", "message": "no", "details": []}), AccessDenied)
    assert isinstance(error_for(401, {"message": "Unauthorized"}), Unauthorized)  # a Cognito authorizer default


def test_graphql_errors_are_typed_by_error_type():
    recorded = Recorded((200, {"data": None, "errors": [{"errorType": "AggregateNotFound", "message": "no"}]}),
                        (200, {"data": None, "errors": [{"message": "Validation error of type FieldUndefined"}]}))
    chronicle, _ = client(recorded)
    with pytest.raises(AggregateNotFound):
        chronicle.query("{ x }")
    with pytest.raises(GraphQLError) as error:
        chronicle.query("{ y }")
    assert error.value.errors[0]["message"].startswith("Validation error")


def _cognito():
    return boto3.client("cognito-idp", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_cognito_sign_in_then_refresh_after_a_401():
    cognito = _cognito()
    with Stubber(cognito) as stub:
        stub.add_response("initiate_auth", {"AuthenticationResult": {"IdToken": "id-1", "RefreshToken": "r-1"}},
                          {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "client-1",
                           "AuthParameters": {"USERNAME": "ana@example.com", "PASSWORD": "pw"}})
        stub.add_response("initiate_auth", {"AuthenticationResult": {"IdToken": "id-2"}},
                          {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "client-1",
                           "AuthParameters": {"REFRESH_TOKEN": "r-1"}})
        auth = CognitoTokens.sign_in("ana@example.com", "pw", "client-1", cognito=cognito)
        recorded = Recorded((401, {"message": "Unauthorized"}), (200, OK))
        assert client(recorded, auth=auth)[0].command("CreateProject", {}) == OK
        stub.assert_no_pending_responses()
    assert [s["headers"]["Authorization"] for s in recorded.sent] == ["id-1", "id-2"]
    assert recorded.sent[0]["body"]["commandId"] == recorded.sent[1]["body"]["commandId"]


def test_a_sign_in_that_needs_a_challenge_says_so():
    cognito = _cognito()
    with Stubber(cognito) as stub:
        stub.add_response("initiate_auth", {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s" * 20})
        with pytest.raises(Unauthorized, match="NEW_PASSWORD_REQUIRED"):
            CognitoTokens.sign_in("ana@example.com", "temporary", "client-1", cognito=cognito)
