"""A 409 ConcurrencyConflict says which case it is (docs/reference/errors.md): the client's expectedVersion did not match, or
the stream stayed contended through the workflow's retries (the client should simply send the command again)."""

from __future__ import annotations

import json

import pytest

from chronicle import aws as chronicle_aws
from chronicle import errors
from chronicle.commands import decide_and_append, validate_request


def command(command_type, body):
    return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})


def test_expected_version_mismatch_and_contention_are_told_apart(aws):
    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    created = decide_and_append(command("CreateProject", {"data": {"name": "P", "ownerId": "alice"}}), store, loader)
    project_id = created["response"]["aggregateId"]

    with pytest.raises(errors.ConcurrencyConflict) as caught:
        decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": project_id, "expectedVersion": 7,
                                                                 "data": {"set": {"a": 1}}}), store, loader)
    assert caught.value.details[0]["reason"] == "ExpectedVersionMismatch"
    assert caught.value.details[0]["actualVersion"] == 1

    # Another writer appends between this command's load and its append: without expectedVersion that is contention
    stale = loader.load(_project(), project_id)
    decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": project_id,
                                                             "data": {"set": {"b": 1}}}), store, loader)

    class StaleLoader:
        def load(self, aggregate, aggregate_id, **_):
            return stale

        def after_append(self, *args):
            raise AssertionError("nothing may be appended")

    with pytest.raises(errors.StreamContention) as caught:
        decide_and_append(command("ChangeProjectConfiguration", {"aggregateId": project_id,
                                                                 "data": {"set": {"c": 1}}}), store, StaleLoader())
    body = errors.body_from_cause(json.dumps({"errorMessage": str(caught.value)}), "ConcurrencyConflict")
    assert body["error"] == "ConcurrencyConflict" and body["details"][0]["reason"] == "StreamContended"
    assert "retr" in body["message"]


def _project():
    from chronicle.domain import AGGREGATES

    return AGGREGATES["Project"]
