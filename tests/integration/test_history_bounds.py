"""history is bounded (issue: 50 aliases of history on a 2,000-event stream built a 134 MB answer): one answer
holds at most MAX_EVENTS events, historyPage pages through any stream with a token, and the history events of one
request share a byte budget. The bounds are made small here so that a few events cross them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventstore_helpers import atomic_aws  # noqa: F401 - a fixture

from chronicle import aws as chronicle_aws
from chronicle import history_page, queries
from chronicle.commands import decide_and_append, validate_request
from chronicle.errors import PayloadTooLarge, ValidationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stream(atomic_aws):  # noqa: F811
    """A project of 7 events, read as a bootstrap admin."""
    def command(command_type, data, aggregate_id=None):
        body = {"data": data, **({"aggregateId": aggregate_id} if aggregate_id else {})}
        return validate_request({"commandType": command_type, "body": json.dumps(body), "actorId": "alice"})

    store, loader = chronicle_aws.event_store(), chronicle_aws.aggregate_loader()
    project_id = decide_and_append(command("CreateProject", {"name": "P", "ownerId": "alice"}), store,
                                   loader)["response"]["aggregateId"]
    for i in range(6):
        decide_and_append(command("ChangeProjectConfiguration", {"set": {"k": i}}, project_id), store, loader)
    with queries.acting_as("root"):
        yield project_id


def test_history_answers_at_most_max_events_and_says_how_to_get_more(stream, monkeypatch):
    monkeypatch.setattr(history_page, "MAX_EVENTS", 5)
    with pytest.raises(ValidationError) as refused:
        queries.history(stream)
    assert "historyPage" in refused.value.message and "at most 5" in refused.value.message
    assert [e["eventSequence"] for e in queries.history(stream, 2, 6)] == [2, 3, 4, 5, 6]  # a range that fits
    assert [e["eventSequence"] for e in queries.history(stream, 3)] == [3, 4, 5, 6, 7]


def test_history_page_walks_the_stream_with_its_token(stream):
    seen, token, pages = [], None, 0
    while True:
        page = queries.resolve("historyPage", {"aggregateId": stream, "limit": 3, "nextToken": token})
        seen += [e["eventSequence"] for e in page["items"]]
        pages += 1
        token = page["nextToken"]
        if token is None:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7] and pages == 3
    ranged = queries.resolve("historyPage", {"aggregateId": stream, "fromVersion": 2, "toVersion": 4, "limit": 2})
    assert [e["eventSequence"] for e in ranged["items"]] == [2, 3]
    rest = queries.resolve("historyPage", {"aggregateId": stream, "toVersion": 4, "limit": 2,
                                           "nextToken": ranged["nextToken"]})
    assert [e["eventSequence"] for e in rest["items"]] == [4] and rest["nextToken"] is None
    assert queries.history(stream) == queries.resolve("historyPage", {"aggregateId": stream, "limit": 100})["items"]


@pytest.mark.parametrize("arguments", [{"limit": 0}, {"limit": 101}, {"nextToken": "!!"},
                                       {"nextToken": history_page.token("another-stream", 2)},
                                       "version 0"])
def test_history_page_refuses_bad_limits_and_forged_tokens(stream, arguments):
    if arguments == "version 0":  # a token of this stream, but not one this API makes
        arguments = {"nextToken": history_page.token(stream, 0)}
    with pytest.raises(ValidationError):
        queries.resolve("historyPage", {"aggregateId": stream, **arguments})


def test_the_history_of_one_request_shares_one_byte_budget(stream, monkeypatch):
    one_answer = len(json.dumps(queries.history(stream)))
    monkeypatch.setattr(history_page, "MAX_ANSWER_BYTES", one_answer + one_answer // 2)
    assert len(queries.history(stream)) == 7 and len(queries.history(stream)) == 7  # outside a request: each its own
    with history_page.budget():
        queries.history(stream)
        with pytest.raises(PayloadTooLarge) as refused:
            queries.history(stream)
    assert refused.value.details[0]["limit"] == history_page.MAX_ANSWER_BYTES


def test_fifty_aliases_of_history_stop_at_the_budget_with_a_clear_error(stream, monkeypatch):
    from chronicle.local.graphql_local import LocalGraphQL

    one_answer = len(json.dumps(queries.history(stream)))
    monkeypatch.setattr(history_page, "MAX_ANSWER_BYTES", 3 * one_answer)
    api = LocalGraphQL(ROOT / "api" / "schema.graphql")
    fields = "eventId eventType eventSequence timestamp correlationId version storedVersion actorId data hash canonical"
    query = "{" + " ".join(f'h{i}: history(aggregateId: "{stream}") {{ {fields} }}' for i in range(50)) + "}"
    out = api.execute(query, actor="root")
    answered = [k for k, v in (out["data"] or {}).items() if v]
    assert len(answered) <= 3 and out["errors"], out.get("errors")
    assert {e["errorType"] for e in out["errors"]} == {"PayloadTooLarge"}
    assert len(json.dumps(out)) < 4 * one_answer + 50 * 1000


def test_once_the_budget_is_spent_the_next_history_reads_nothing(stream, monkeypatch):
    one_answer = len(json.dumps(queries.history(stream)))
    monkeypatch.setattr(history_page, "MAX_ANSWER_BYTES", one_answer + one_answer // 2)
    reads = []
    monkeypatch.setattr(history_page, "read_history", lambda *a: reads.append(a) or ([], False))
    with history_page.budget():
        with pytest.raises(PayloadTooLarge):  # an answer over the budget spends it
            history_page.charged([{"data": "y" * (2 * one_answer)}])
        with pytest.raises(PayloadTooLarge):
            queries.history(stream)
        with pytest.raises(PayloadTooLarge):
            queries.resolve("historyPage", {"aggregateId": stream})
    assert reads == []
