"""Rebuilding the project read model from the event store (chronicle.projections.registry, the one rebuild path)."""

from __future__ import annotations

from eventstore_helpers import changed, created

from chronicle import aws as chronicle_aws
from chronicle.domain import project as project_domain
from chronicle.eventstore import NO_STREAM
from chronicle.projections import project as projection
from chronicle.projections.folded import stream_ids
from chronicle.projections.registry import rebuild as rebuild_model

TABLE = "projects"


def rebuild(store, table, ids=None):
    return rebuild_model("projects", store, table, ids)


def folded(store, project_id):
    state = project_domain.initial_state()
    for event in store.iter_events(project_id):
        state = project_domain.evolve(state, event)
    return projection.to_item(project_id, state)


def test_rebuild_restores_lost_wrong_and_missing_items(aws):
    store = chronicle_aws.event_store()
    for n in range(5):
        store.append(f"p-{n}", [created(f"P{n}")] + [changed({"k": i}) for i in range(n)], NO_STREAM)
    assert sorted(stream_ids(store, "ProjectCreated")) == [f"p-{n}" for n in range(5)]
    projection.apply(store.read("p-1")[0], store, TABLE)  # p-1 projected at version 1 of 2
    aws.put_item(TableName=TABLE, Item={**folded(store, "p-2"), "name": {"S": "corrupted"}})
    report = rebuild(store, TABLE)
    assert sorted(report.rebuilt) == [f"p-{n}" for n in range(5)] and report.newer_kept == []
    for n in range(5):
        item = aws.get_item(TableName=TABLE, Key={"id": {"S": f"p-{n}"}})["Item"]
        assert item == folded(store, f"p-{n}")
    # twice is the same as once
    assert sorted(rebuild(store, TABLE).rebuilt) == [f"p-{n}" for n in range(5)]
    assert aws.get_item(TableName=TABLE, Key={"id": {"S": "p-4"}})["Item"] == folded(store, "p-4")


def test_rebuild_never_moves_an_item_backwards(aws):
    store = chronicle_aws.event_store()
    store.append("p-a", [created("A"), changed({"x": 1})], NO_STREAM)
    ahead = {**folded(store, "p-a"), "version": {"N": "3"}, "name": {"S": "written by a newer projector"}}
    aws.put_item(TableName=TABLE, Item=ahead)
    report = rebuild(store, TABLE, ["p-a", "p-none"])
    assert report.newer_kept == ["p-a"] and report.missing == ["p-none"] and report.rebuilt == []
    assert aws.get_item(TableName=TABLE, Key={"id": {"S": "p-a"}})["Item"] == ahead


def test_the_cli_reports_and_fails_on_unknown_ids(aws, capsys):
    from chronicle.cli import main

    chronicle_aws.event_store().append("p-c", [created("C")], NO_STREAM)
    assert main(["projections", "rebuild", "--event-table", "events", "--read-model-table", TABLE]) == 0
    assert "rebuilt 1 project(s)" in capsys.readouterr().out
    assert main(["projections", "rebuild", "--event-table", "events", "--read-model-table", TABLE,
                 "--id", "nope"]) == 1
    assert "no stream for: nope" in capsys.readouterr().out
