"""Users over HTTP on the local runtime: email uniqueness races, 403s, erasure on every read path."""

from __future__ import annotations

import threading
import uuid

import pytest
from local_helpers import ADMIN, http

pytestmark = pytest.mark.e2e


def command(runtime, command_type, body, actor):
    return http("POST", f"{runtime.url}/commands/{command_type}", body, {"X-Actor-Id": actor})


def race(jobs):
    """Run the callables at once (a barrier releases them together); their results in order."""
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i):
        barrier.wait()
        results[i] = jobs[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_eight_registrations_of_one_email_exactly_one_wins(runtime):
    email = f"race-{uuid.uuid4().hex[:8]}@Example.com"
    actors = [f"racer-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    results = race([lambda a=a, i=i: command(runtime, "RegisterUser",
                                             {"data": {"email": f" {email.upper() if i % 2 else email}",
                                                       "displayName": a}}, a)
                    for i, a in enumerate(actors)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [422] * 7, results
    assert all(body["details"][0]["rule"] == "EmailUnique" for status, body in results if status == 422)


def test_eight_moves_of_two_users_to_one_email_exactly_one_wins(runtime):
    users = [f"mover-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for u in users:
        assert command(runtime, "RegisterUser", {"data": {"email": f"{u}@example.com", "displayName": u}}, u)[0] == 200
    target = f"target-{uuid.uuid4().hex[:8]}@example.com"
    results = race([lambda u=users[i % 2]: command(runtime, "UpdateUserProfile",
                                                   {"aggregateId": u, "data": {"email": target}}, u)
                    for i in range(8)])
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, results
    assert all(status in (409, 422) for status in statuses if status != 200), results
    rules = {body["details"][0].get("rule") for status, body in results if status == 422}
    assert rules <= {"EmailUnique", "ProfileChanges"}


def test_forbidden_over_http_names_the_permission_and_stores_nothing(runtime):
    owner, stranger = f"o-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    status, created = command(runtime, "CreateProject", {"data": {"name": "P", "ownerId": owner}}, owner)
    assert status == 200
    project = created["aggregateId"]
    status, body = command(runtime, "ChangeProjectConfiguration",
                           {"aggregateId": project, "data": {"set": {"a": 1}}}, stranger)
    assert status == 403 and body["error"] == "Forbidden"
    assert body["details"] == [{"permission": "write", "resource": f"project:{project}"}]
    status, body = command(runtime, "ChangeProjectConfiguration",
                           {"aggregateId": "no-such-project", "data": {"set": {"a": 1}}}, stranger)
    assert status == 404 and body["error"] == "AggregateNotFound"


ON_USER_CHANGED = "subscription S($id: ID) { onUserChanged(id: $id) { id version eventType } }"
USER = "query($id: ID!) { user(id: $id) { id email displayName erased version } }"
HISTORY = "query($id: ID!) { history(aggregateId: $id) { eventType data } }"


def test_erasure_over_http_reaches_history_user_subscription_and_rebuild(runtime, capsys):
    import json

    import boto3
    from local_helpers import graphql
    from test_local_subscriptions import open_socket

    from chronicle.cli import main

    me = f"erase-{uuid.uuid4().hex[:8]}"
    assert command(runtime, "RegisterUser", {"data": {"email": f"{me}@Example.com", "displayName": "Erin"}}, me)[0] == 200
    assert graphql(runtime.url, USER, actor=me, id=me)["user"]["email"] == f"{me}@example.com"
    assert graphql(runtime.url, USER, actor="someone-else", id=me)["user"]["email"] is None  # not theirs to see
    with open_socket(runtime) as ws:
        ws.send(json.dumps({"id": "u", "type": "subscribe", "payload": {"query": ON_USER_CHANGED,
                                                                         "variables": {"id": me}}}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        assert command(runtime, "EraseUserPersonalData", {"aggregateId": me, "data": {}}, me)[0] == 200
        pushed = json.loads(ws.recv(timeout=10))
    assert pushed["payload"]["data"]["onUserChanged"] == {"id": me, "version": 2,
                                                         "eventType": "UserPersonalDataErased"}
    for actor in (me, "e2e-admin"):
        user = graphql(runtime.url, USER, actor=actor, id=me)["user"]
        assert user == {"id": me, "email": None, "displayName": None, "erased": True, "version": 2}
        history = graphql(runtime.url, HISTORY, actor=actor, id=me)["history"]
        assert json.loads(history[0]["data"]) == {"email": None, "displayName": None, "erased": True}

    tables = runtime.stack.tables
    dynamodb = boto3.client("dynamodb", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    dynamodb.delete_item(TableName=tables["UserReadModelTable"], Key={"id": {"S": me}})
    code = main(["projections", "rebuild", "--read-model", "users", "--endpoint-url", runtime.aws_endpoint,
                 "--region", "us-east-1", "--event-table", tables["EventStoreTable"],
                 "--user-table", tables["UserReadModelTable"], "--id", me])
    assert code == 0, capsys.readouterr()
    assert graphql(runtime.url, USER, actor=me, id=me)["user"] == {
        "id": me, "email": None, "displayName": None, "erased": True, "version": 2}
    # the email is free again
    other = f"again-{uuid.uuid4().hex[:8]}"
    assert command(runtime, "RegisterUser", {"data": {"email": f"{me}@example.com", "displayName": "X"}}, other)[0] == 200


def test_a_revoke_is_effective_on_the_next_command(runtime):
    owner, helper = f"o-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}"
    project = command(runtime, "CreateProject", {"data": {"name": "P", "ownerId": owner}}, owner)[1]["aggregateId"]
    assert command(runtime, "RegisterUser", {"data": {"email": f"{helper}@example.com", "displayName": "H"}},
                   helper)[0] == 200
    entry = {"resource": f"project:{project}", "permission": "write"}
    assert command(runtime, "ChangeUserPermissions", {"aggregateId": helper, "data": {"grant": [entry]}},
                   "e2e-admin")[0] == 200
    assert command(runtime, "ChangeProjectConfiguration", {"aggregateId": project, "data": {"set": {"a": 1}}},
                   helper)[0] == 200
    assert command(runtime, "ChangeUserPermissions", {"aggregateId": helper, "data": {"revoke": [entry]}},
                   "e2e-admin")[0] == 200
    status, body = command(runtime, "ChangeProjectConfiguration",
                           {"aggregateId": project, "data": {"set": {"a": 2}}}, helper)
    assert status == 403 and body["details"] == [{"permission": "write", "resource": f"project:{project}"}]


def test_over_http_a_stream_keeps_its_type_and_a_command_id_its_actor(runtime):
    """Issue 20 items 1, 2 and 5 through the server: a command of another type on a stream is the 404 of a missing
    stream; a stranger's reuse of a commandId is its own command; ids with a trailing newline are 400."""
    bob, mallory = f"bob-{uuid.uuid4().hex[:8]}", f"mallory-{uuid.uuid4().hex[:8]}"
    assert command(runtime, "RegisterUser", {"data": {"email": f"{bob}@example.com", "displayName": "B"}}, bob)[0] == 200
    project = f"project-{uuid.uuid4().hex[:8]}"
    key = f"k-{uuid.uuid4().hex[:8]}"
    status, body = command(runtime, "CreateProject", {"aggregateId": project, "commandId": key,
                                                      "data": {"name": "Secret", "ownerId": bob}}, bob)
    assert status == 200, body
    for command_type, target, data, actor in [
            ("ChangeProjectConfiguration", bob, {"set": {"a": 1}}, ADMIN),
            ("UpdateUserProfile", project, {"displayName": "X"}, ADMIN),
            ("EraseUserPersonalData", project, {}, ADMIN)]:
        status, refused = command(runtime, command_type, {"aggregateId": target, "data": data}, actor)
        assert (status, refused["error"]) == (404, "AggregateNotFound"), (command_type, refused)
    status, theirs = command(runtime, "CreateProject", {"commandId": key, "data": {"name": "M", "ownerId": mallory}},
                             mallory)
    assert status == 200 and theirs["aggregateId"] != project and project not in str(theirs)
    for body in ({"aggregateId": f"{project}\n", "data": {"set": {"a": 1}}},
                 {"aggregateId": project, "data": {"set": {"a": 1}}, "commandId": "x"}):
        status, answer = command(runtime, "ChangeProjectConfiguration", body, bob)
        assert status == (400 if body["aggregateId"].endswith("\n") else 200), answer
