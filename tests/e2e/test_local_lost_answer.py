"""A DecideAndAppend whose answer is lost, through the real ASL: Step Functions retries the step with the same
input (its Retry on Lambda.ServiceException), and the second attempt answers what the first stored.

The seam runs AppendEvents' real handler, stores its events, then reports a Lambda service error instead of its
answer, once: what happens in AWS when the invoke's response is lost. No CommandLog record is involved for a
server-made commandId: the retry finds its own events (docs/decisions/0002).
"""

from __future__ import annotations

import json

import pytest
from local_helpers import graphql, http

from chronicle.local import seam

pytestmark = pytest.mark.e2e

HISTORY = "query($id: ID!) { history(aggregateId: $id) { eventSequence eventType eventId } }"


lost_answer_attempts: list = []  # the `attempt` (Step Functions' RetryCount) of each AppendEvents input


@pytest.fixture
def lose_one_answer(monkeypatch):
    """The next AppendEvents answer is replaced by a Lambda service error (after the handler ran)."""
    lost: list[dict] = []
    attempts = lost_answer_attempts
    attempts.clear()
    original = seam.invoke_in_process

    def invoke(registry, fn, event):
        if "AppendEvents" in fn.function_name:
            attempts.append((json.loads(event) if isinstance(event, str) else event).get("attempt"))
        payload, errored, logs = original(registry, fn, event)
        if "AppendEvents" in fn.function_name and not errored and not lost:
            lost.append(json.loads(payload))
            return json.dumps({"errorType": "Lambda.ServiceException", "errorMessage": "answer lost"}), True, ""
        return payload, errored, logs

    monkeypatch.setattr(seam, "invoke_in_process", invoke)
    return lost


@pytest.mark.parametrize("command, body", [
    ("CreateProject", {"data": {"name": "Lost answer", "ownerId": "o"}}),
    ("ChangeProjectConfiguration", {"aggregateId": "{id}", "data": {"set": {"k": "v"}}}),
    ("ChangeProjectConfiguration", {"aggregateId": "{id}", "expectedVersion": 1, "data": {"set": {"k": "v"}}}),
])
def test_a_lost_append_answer_is_retried_and_answers_the_stored_outcome(runtime, lose_one_answer, command, body):
    status, created = http("POST", f"{runtime.url}/commands/CreateProject", {"data": {"name": "P", "ownerId": "o"}})
    assert status == 200
    lose_one_answer.clear()
    lost_answer_attempts.clear()
    body = json.loads(json.dumps(body).replace("{id}", created["aggregateId"]))

    status, answer = http("POST", f"{runtime.url}/commands/{command}", body)

    assert status == 200, answer
    assert len(lose_one_answer) == 1, "the first attempt's answer was lost"
    assert answer == lose_one_answer[0]["response"]  # the retry answered exactly what the first attempt stored
    assert lost_answer_attempts == [0, 1]  # the step knows its retry: only the retry looks for earlier events
    events = graphql(runtime.url, HISTORY, id=answer["aggregateId"])["history"]
    assert [e["eventSequence"] for e in events] == list(range(1, answer["version"] + 1))  # stored once
    assert events[-1]["eventId"] == answer["events"][-1]["eventId"]
