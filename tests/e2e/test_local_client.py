"""chronicle.client against `chronicle local`: the same calls as against AWS, with the local actor header or a
local token (`chronicle token`) standing in for a user pool's ID token (refreshed through a stubbed Cognito)."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.stub import Stubber

from chronicle.client import (Chronicle, CognitoTokens, ConcurrencyConflict, Retrying, Unauthorized,
                              UnknownCommand, ValidationError)
from chronicle.client.transport import urllib_send
from chronicle.local import tokens

PROJECT = "query($id: ID!) { project(id: $id) { id name ownerId version } }"
HISTORY = "query($id: ID!) { history(aggregateId: $id) { eventType actorId } }"


def test_create_a_project_and_read_it_back_through_graphql(runtime):
    client = Chronicle.local(runtime.url, actor="client-alice")
    created = client.command("CreateProject", {"name": "Client demo", "ownerId": "client-alice"})
    assert created["version"] == 1 and created["events"][0]["eventType"] == "ProjectCreated"
    project = client.query(PROJECT, {"id": created["aggregateId"]})["project"]
    assert project == {"id": created["aggregateId"], "name": "Client demo", "ownerId": "client-alice", "version": 1}


def test_a_local_token_is_the_actor_and_a_bad_one_is_401(runtime):
    client = Chronicle.local(runtime.url, token=runtime.token("client-bob"))
    created = client.command("CreateProject", {"name": "Bob's", "ownerId": "client-bob"})
    events = client.query(HISTORY, {"id": created["aggregateId"]})["history"]
    assert events == [{"eventType": "ProjectCreated", "actorId": "client-bob"}]
    forged = tokens.issue(b"k" * 32, "e2e-admin")  # signed with another key
    with pytest.raises(Unauthorized) as refused:
        Chronicle.local(runtime.url, token=forged).command("CreateProject", {"name": "x", "ownerId": "x"})
    assert refused.value.status == 401
    expired = tokens.issue(runtime.token_key, "client-bob", now=time.time() - 7200)
    with pytest.raises(Unauthorized):
        Chronicle.local(runtime.url, token=expired).query(PROJECT, {"id": created["aggregateId"]})


def test_an_expired_cognito_token_is_refreshed_before_it_is_sent(runtime):
    cognito = boto3.client("cognito-idp", region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x")
    fresh = runtime.token("client-carol")
    with Stubber(cognito) as stub:
        stub.add_response("initiate_auth", {"AuthenticationResult": {"IdToken": fresh}},
                          {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "app-client",
                           "AuthParameters": {"REFRESH_TOKEN": "refresh-1"}})
        expired = tokens.issue(runtime.token_key, "client-carol", now=time.time() - 7200)
        auth = CognitoTokens(expired, "refresh-1", "app-client", cognito=cognito)
        created = Chronicle(runtime.url, auth=auth).command("CreateProject", {"name": "C", "ownerId": "client-carol"})
        stub.assert_no_pending_responses()
    assert auth.token == fresh
    assert created["version"] == 1


def test_a_lost_answer_is_retried_with_the_same_command_id(runtime):
    sent: list[bytes] = []

    def lose_first_answer(method, url, headers, body, timeout):
        sent.append(body)
        status, raw = urllib_send(method, url, headers, body, timeout)
        if len(sent) == 1:
            raise ConnectionResetError("answer lost")  # the command ran; its answer never arrived
        return status, raw

    client = Chronicle.local(runtime.url, actor="client-dave",
                             retrying=Retrying(send=lose_first_answer, sleep=lambda s: None))
    created = client.command("CreateProject", {"name": "Once", "ownerId": "client-dave"})
    assert len(sent) == 2 and sent[0] == sent[1]  # same body, same commandId
    history = client.query(HISTORY, {"id": created["aggregateId"]})["history"]
    assert len(history) == 1  # applied once


def test_a_conflict_is_raised_unless_the_caller_redecides(runtime):
    client = Chronicle.local(runtime.url, actor="client-erin")
    project = client.command("CreateProject", {"name": "E", "ownerId": "client-erin"})["aggregateId"]
    client.command("ChangeProjectConfiguration", {"set": {"a": 1}}, project, expected_version=1)
    with pytest.raises(ConcurrencyConflict) as conflict:
        client.command("ChangeProjectConfiguration", {"set": {"b": 2}}, project, expected_version=1)
    assert conflict.value.status == 409

    seen = []

    def redecide(error):
        seen.append(error)
        version = client.query(PROJECT, {"id": project})["project"]["version"]  # re-read, then decide again
        return {"set": {"b": 2}}, version

    done = Chronicle.local(runtime.url, actor="client-erin", retrying=Retrying(sleep=lambda s: None)).command(
        "ChangeProjectConfiguration", {"set": {"b": 2}}, project, expected_version=1, redecide=redecide)
    assert len(seen) == 1 and done["version"] == 3


def test_refusals_are_typed(runtime):
    client = Chronicle.local(runtime.url, actor="client-frank")
    with pytest.raises(ValidationError) as invalid:
        client.command("CreateProject", {"name": "", "ownerId": "client-frank"})
    assert invalid.value.details and invalid.value.status == 400
    with pytest.raises(UnknownCommand):
        client.command("LaunchRocket", {})
