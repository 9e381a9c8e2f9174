"""The event store's guarantees over HTTP, through the local runtime: the real ASL (with its StreamContention
retry), the real handlers and moto's DynamoDB.

Racing clients can never both win, lose an event or leave a gap; retried commands never store twice; limits
answer 413 before anything is written.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from local_helpers import graphql, http

pytestmark = pytest.mark.e2e

HISTORY = "query($id: ID!) { history(aggregateId: $id) { eventSequence eventType eventId data } }"


def create(url: str, **data) -> str:
    status, body = http("POST", f"{url}/commands/CreateProject", {"data": {"name": "Race", "ownerId": "racer", **data}})
    assert status == 200, body
    return body["aggregateId"]


def change(url: str, project_id: str, key: str, expected: int | None = None, **extra) -> tuple[int, dict]:
    body = {"aggregateId": project_id, "data": {"set": {key: key}}, **extra}
    if expected is not None:
        body["expectedVersion"] = expected
    return http("POST", f"{url}/commands/ChangeProjectConfiguration", body, headers={"X-Actor-Id": "racer"})


def history(url: str, project_id: str) -> list[dict]:
    return graphql(url, HISTORY, id=project_id)["history"]


def assert_gapless(events: list[dict]) -> None:
    assert [e["eventSequence"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["eventId"] for e in events}) == len(events)


def test_twelve_racing_commands_without_expected_version_are_retried_not_lost(runtime):
    project_id = create(runtime.url)
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda i: change(runtime.url, project_id, f"k{i}"), range(12)))
    won = [body for status, body in results if status == 200]
    lost = [body for status, body in results if status != 200]
    assert all(status in (200, 409) for status, _ in results), results
    assert all(body["error"] == "ConcurrencyConflict" for body in lost), lost

    events = history(runtime.url, project_id)
    assert_gapless(events)
    assert len(events) == 1 + len(won)  # every reported success is stored, nothing else is
    stored_ids = {e["eventId"] for e in events}
    assert all(body["events"][0]["eventId"] in stored_ids for body in won)
    assert sorted(body["version"] for body in won) == list(range(2, 2 + len(won)))
    # the ASL retry (re-load, re-decide) turns most races into successes
    assert len(won) >= 6, f"only {len(won)} of 12 succeeded"


def test_racing_commands_with_the_same_expected_version_have_one_winner(runtime):
    project_id = create(runtime.url)
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda i: change(runtime.url, project_id, f"k{i}", expected=1), range(12)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 11, results
    assert all(body["error"] == "ConcurrencyConflict" for status, body in results if status == 409)
    assert_gapless(history(runtime.url, project_id))
    assert len(history(runtime.url, project_id)) == 2


def test_stale_expected_version_is_a_conflict_with_details(runtime):
    project_id = create(runtime.url)
    status, body = change(runtime.url, project_id, "a", expected=7)
    assert status == 409 and body["error"] == "ConcurrencyConflict"
    assert body["details"][0]["actualVersion"] == 1


def test_same_command_id_returns_the_first_result_and_stores_once(runtime):
    project_id = create(runtime.url)
    first = change(runtime.url, project_id, "a", commandId="cmd-idem-1")
    again = change(runtime.url, project_id, "a", commandId="cmd-idem-1")
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert len(history(runtime.url, project_id)) == 2

    reused = change(runtime.url, project_id, "b", commandId="cmd-idem-1")
    assert reused[0] == 409 and reused[1]["error"] == "IdempotencyKeyReused"
    assert len(history(runtime.url, project_id)) == 2


def test_concurrent_retries_of_one_command_store_it_once(runtime):
    project_id = create(runtime.url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: change(runtime.url, project_id, "x", commandId="cmd-idem-race"), range(8)))
    assert {status for status, _ in results} == {200}
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert len(history(runtime.url, project_id)) == 2


def test_command_over_the_state_machine_input_limit_is_413_and_writes_nothing(runtime):
    # Step Functions takes at most 256 KiB of input; the 400 KB event-item limit is tested on the store itself.
    project_id = create(runtime.url)
    status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                        {"aggregateId": project_id, "data": {"set": {"blob": "x" * 300_000}}})
    assert status == 413 and body["error"] == "PayloadTooLarge", body
    assert len(history(runtime.url, project_id)) == 1


def test_request_over_ten_megabytes_is_413(runtime):
    status, body = http("POST", f"{runtime.url}/commands/CreateProject",
                        '{"data": {"name": "big", "ownerId": "o", "description": "' + "x" * (10 * 1024 * 1024) + '"}}')
    assert status == 413 and body["error"] == "PayloadTooLarge"


def test_update_of_an_unknown_stream_is_404(runtime):
    status, body = change(runtime.url, "no-such-project", "a")
    assert status == 404 and body["error"] == "AggregateNotFound"


def test_empty_configuration_change_is_a_named_rule_violation(runtime):
    project_id = create(runtime.url)
    status, body = http("POST", f"{runtime.url}/commands/ChangeProjectConfiguration",
                        {"aggregateId": project_id, "data": {}})
    assert status == 422 and body["details"][0]["rule"] == "ConfigurationChangeNotEmpty"


def test_configuration_change_reaches_the_read_model_and_temporal_query(runtime):
    project_id = create(runtime.url)
    assert change(runtime.url, project_id, "region")[0] == 200
    data = graphql(runtime.url, "query($id: ID!) { project(id: $id) { version configuration }"
                                " projectAt(id: $id, version: 1) { version configuration } }", id=project_id)
    assert data["project"]["version"] == 2 and json.loads(data["project"]["configuration"]) == {"region": "region"}
    assert data["projectAt"] == {"version": 1, "configuration": "{}"}
