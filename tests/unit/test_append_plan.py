"""EventStore.append as a plan: each write carries what its failure means, so a cancelled transaction's reasons map
to one exception by position (the order of precedence the store has always had)."""

from __future__ import annotations

import pytest

from chronicle.eventstore.append_plan import AppendRequest, plan
from chronicle.eventstore.refusals import AppendConflict, CommandAlreadyRecorded, ConditionFailed, FactsChanged
from chronicle.eventstore.items import to_item
from chronicle.schemas import registry

OK, FAILED = {"Code": "None"}, {"Code": "ConditionalCheckFailed"}


def event(n=1):
    return {"eventId": f"e-{n}", "eventType": "ProjectConfigurationChanged", "eventData": {"set": {"n": n}, "unset": []},
            "correlationId": "c", "timestamp": "2026-12-04T00:00:00.000Z", "version": "1",
            "metadata": {"aggregateType": "Project", "commandId": "k", "commandType": "ChangeProjectConfiguration",
                         "actorId": "a", "causationId": "k", "correlationId": "c"}}


def planned(**kwargs):
    request = AppendRequest("p-1", [event(1), event(2)], 3, command_record={"commandId": {"S": "by#x#k"}},
                            checks=[{"aggregateId": "t-1", "version": 4}, {"aggregateId": "p-1", "version": 3}],
                            extra_items=[({"Put": {"TableName": "keys", "Item": {}}}, "EmailUnique")], **kwargs)
    return plan(request, 3, registry()).sealed("0" * 64, "events", "commands")


def test_the_writes_are_the_events_the_checks_the_extras_then_the_record():
    writes = planned().writes
    assert [w.meaning for w in writes] == ["event", "event", "previous", "check", "extra", "record"]
    assert writes[3].check == {"aggregateId": "t-1", "version": 4}  # a check of the stream itself is dropped
    assert [w.entry["Put"]["Item"]["eventSequence"]["N"] for w in writes[:2]] == ["4", "5"]
    assert "previous" not in [w.meaning for w in planned(head_read=True).writes]


@pytest.mark.parametrize("reasons, expected", [
    ([OK, OK, OK, OK, OK, FAILED], CommandAlreadyRecorded),
    ([OK, OK, OK, FAILED, OK, OK], FactsChanged),
    ([OK, OK, OK, OK, FAILED, OK], ConditionFailed),
    ([FAILED, OK, OK, OK, FAILED, OK], AppendConflict),  # the stream moved: not the extra item's fault
    ([OK, OK, FAILED, OK, FAILED, OK], AppendConflict),  # event 3 is missing: the caller's version is wrong
    ([{"Code": "TransactionConflict"}] + [OK] * 5, AppendConflict),
    ([OK, OK, OK, OK, FAILED], ConditionFailed),  # too few reasons: no record or check is trusted, extras are
])
def test_a_cancellation_maps_to_one_exception_by_position(reasons, expected):
    refusal = planned().refusal(reasons)
    assert type(refusal) is expected
    if expected is FactsChanged:
        assert refusal.checks == [{"aggregateId": "t-1", "version": 4}]
    if expected is ConditionFailed:
        assert refusal.tag == "EmailUnique"


def test_a_refused_event_write_returns_the_event_already_stored():
    stored = {**event(9), "aggregateId": "p-1", "eventSequence": 4}
    refusal = planned().refusal([{"Code": "ConditionalCheckFailed", "Item": to_item(stored)}] + [OK] * 5)
    assert isinstance(refusal, AppendConflict) and refusal.existing["eventId"] == "e-9"
