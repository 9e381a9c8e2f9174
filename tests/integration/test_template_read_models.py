"""The template, usage and topology read models on moto: idempotent, order-free, gap-filling; their GraphQL
resolvers (documented orders, limit errors); `chronicle projections rebuild` for each of them."""

from __future__ import annotations

import json
import random

import pytest
from eventstore_helpers import atomic_aws  # noqa: F401 - fixture
from template_steps import WEB, add_service, append, command, create_project, upload

from chronicle import aws as chronicle_aws
from chronicle import queries
from chronicle.errors import ValidationError
from chronicle.projections import project as project_projection
from chronicle.projections import template as template_projection
from chronicle.projections import usage


@pytest.fixture(autouse=True)
def as_alice():
    """Reads obey docs/reference/authorization.md: these projects are alice's (template_steps creates them as her)."""
    with queries.acting_as("alice"):
        yield


def stream(aggregate_id):
    return chronicle_aws.event_store().read(aggregate_id, upcast=False)


def project_read_models(*ids):
    """The project read model of these streams (templateUsage lists a project's services to who may see it)."""
    for event in (e for i in ids for e in stream(i)):
        project_projection.apply(event, chronicle_aws.event_store(), "projects")


def project_all(*ids, shuffle=None):
    """Deliver every event of these streams to the projections, each twice, in an order of `shuffle`'s choosing."""
    store = chronicle_aws.event_store()
    deliveries = [e for i in ids for e in stream(i)] * 2
    if shuffle is not None:
        shuffle.shuffle(deliveries)
    for event in deliveries:
        kind = event["metadata"]["aggregateType"]
        if kind == "Template":
            template_projection.apply(event, store, "templates")
        else:
            project_projection.apply(event, store, "projects")
            usage.apply(event, store, "usage")


def test_template_details_and_catalog(aws):
    first = upload({"name": "web", "description": "d", "body": "replicas: ${{ parameters.replicas }}\n",
                    "parameters": WEB}, )["response"]["aggregateId"]
    second = upload({"name": "api", "body": "x: ${{ parameters.nope }}\n", "parameters": {"type": "object"}}
                    )["response"]["aggregateId"]
    project_all(first, second, shuffle=random.Random(7))
    details = queries.template(first)
    assert details["body"] == "replicas: ${{ parameters.replicas }}\n" and details["uploadedBy"] == "alice"
    assert details["validation"] == {"valid": True, "errors": [], "atVersion": 2} and details["version"] == 2
    assert json.loads(details["parameters"]) == WEB and details["description"] == "d"
    invalid = queries.template(second)["validation"]
    assert invalid["valid"] is False and invalid["errors"][0]["path"] == "$.body"
    assert queries.template("nope") is None
    # the catalog: by name, then id; pages of `limit`
    page = queries.templates(limit=1)
    assert [t["name"] for t in page["items"]] == ["api"] and page["items"][0]["body"] is None
    assert [t["name"] for t in queries.templates(limit=1, nextToken=page["nextToken"])["items"]] == ["web"]
    assert [t["name"] for t in queries.templates()["items"]] == ["api", "web"]


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_a_limit_outside_1_to_100_is_an_error(aws, limit):
    with pytest.raises(ValidationError):
        queries.templates(limit=limit)


def test_usage_counts_survive_duplicates_and_any_order_across_projects(aws):
    template_id = upload()["response"]["aggregateId"]
    other = upload({"name": "db", "body": "a: 1\n", "parameters": {"type": "object"}})["response"]["aggregateId"]
    shop, blog = create_project("Shop"), create_project("Blog")
    add_service(shop, "db", other, {})
    add_service(shop, "api", template_id, {"replicas": 1}, ["db"])
    add_service(shop, "worker", template_id, {"replicas": 1})
    add_service(blog, "web", template_id, {"replicas": 3})
    append(command("RemoveService", {"aggregateId": shop, "data": {"serviceName": "worker"}}))
    add_service(shop, "worker", other, {})  # the name again, from another template
    for seed in range(3):
        project_all(shop, blog, shuffle=random.Random(seed))
        assert queries.templateUsage(template_id) == {
            "templateId": template_id, "serviceCount": 2, "projectCount": 2,
            "services": sorted([{"projectId": shop, "serviceName": "api", "templateVersion": 2},
                                {"projectId": blog, "serviceName": "web", "templateVersion": 2}],
                               key=lambda u: (u["projectId"], u["serviceName"]))}
        assert queries.templateUsage(other)["serviceCount"] == 2
    assert queries.templateUsage("unused") == {"templateId": "unused", "serviceCount": 0, "projectCount": 0,
                                               "services": []}


def test_usage_fills_a_gap_from_the_store(aws):
    template_id = upload()["response"]["aggregateId"]
    shop = create_project()
    add_service(shop, "a", template_id, {"replicas": 1})
    add_service(shop, "b", template_id, {"replicas": 1})
    last = stream(shop)[-1]  # ServiceAdded b: a's delivery was lost
    result = usage.apply(last, chronicle_aws.event_store(), "usage")
    project_read_models(shop)
    assert result.applied == 2 and queries.templateUsage(template_id)["serviceCount"] == 2
    assert usage.apply(stream(shop)[1], chronicle_aws.event_store(), "usage").skipped


def test_topology_deploys_dependencies_first(aws):
    template_id = upload()["response"]["aggregateId"]
    shop = create_project()
    for name, deps in [("db", []), ("cache", []), ("api", ["db", "cache"]), ("web", ["api"]), ("admin", ["db"])]:
        add_service(shop, name, template_id, {"replicas": 1}, deps)
    project_all(shop)
    topology = queries.serviceTopology(shop)
    assert topology["deployOrder"] == ["cache", "db", "admin", "api", "web"]
    assert topology["edges"] == [{"from": "admin", "to": "db"}, {"from": "api", "to": "cache"},
                                 {"from": "api", "to": "db"}, {"from": "web", "to": "api"}]
    assert topology["version"] == 6 and [s["name"] for s in topology["services"]] == [
        "admin", "api", "cache", "db", "web"]
    assert queries.serviceTopology("nope") is None


def test_rebuild_each_read_model_by_name(aws, capsys):
    from chronicle.cli import main

    template_id = upload()["response"]["aggregateId"]
    shop = create_project()
    add_service(shop, "api", template_id, {"replicas": 1})
    for table in ("templates", "usage", "projects"):
        assert not aws.scan(TableName=table)["Items"]
    assert main(["projections", "rebuild", "--event-table", "events", "--read-model", "templates"]) == 0
    assert queries.template(template_id)["validation"]["valid"] and queries.project(shop) is None
    assert main(["projections", "rebuild", "--event-table", "events"]) == 0  # every read model
    out = capsys.readouterr().out
    assert "rebuilt 1 template(s)" in out and "rebuilt 1 project(s)'" in out
    assert queries.templateUsage(template_id)["serviceCount"] == 1 and queries.project(shop)["version"] == 2
    assert main(["projections", "rebuild", "--event-table", "events"]) == 0  # twice = once
    assert queries.templateUsage(template_id)["serviceCount"] == 1


def test_rebuild_by_id_skips_streams_of_other_models(aws, capsys):
    from chronicle.cli import main

    template_id = upload()["response"]["aggregateId"]
    shop = create_project()
    assert main(["projections", "rebuild", "--event-table", "events", "--id", shop, "--id", template_id]) == 0
    assert queries.project(shop)["version"] == 1 and queries.template(template_id)["version"] == 2
    assert main(["projections", "rebuild", "--event-table", "events", "--id", "nope"]) == 1
    assert "no stream for: nope" in capsys.readouterr().out


def test_racing_usage_projectors_converge(atomic_aws):  # noqa: F811
    """Four projector instances, each delivering a shuffled copy of every project event at once."""
    import threading

    template_id = upload()["response"]["aggregateId"]
    projects = [create_project(f"P{i}") for i in range(3)]
    for i, project_id in enumerate(projects):
        add_service(project_id, "db", template_id, {"replicas": 1})
        add_service(project_id, "api", template_id, {"replicas": 1}, ["db"])
        if i == 0:
            append(command("RemoveService", {"aggregateId": project_id, "data": {"serviceName": "api"}}))
    events = [e for p in projects for e in stream(p)]
    errors = []

    def deliver(seed):
        try:
            for event in random.Random(seed).sample(events, len(events)):
                usage.apply(event, chronicle_aws.event_store(), "usage")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    project_read_models(*projects)
    found = queries.templateUsage(template_id)
    assert (found["serviceCount"], found["projectCount"]) == (5, 3)


def test_usage_lists_only_the_projects_the_reader_may_see(aws):
    """docs/reference/authorization.md: a private project is visible to who may change it and holders of read; its id and service
    names are no less private in a template's usage."""
    template_id = upload()["response"]["aggregateId"]
    private = create_project("Private")
    public = append(command("CreateProject", {"data": {"name": "Open", "ownerId": "alice", "visibility": "public"}}))
    public = public["response"]["aggregateId"]
    add_service(private, "a", template_id, {"replicas": 1})
    add_service(public, "b", template_id, {"replicas": 1})
    project_all(private, public)
    assert queries.templateUsage(template_id)["serviceCount"] == 2  # alice's own
    with queries.acting_as("bob"):
        assert queries.templateUsage(template_id) == {
            "templateId": template_id, "serviceCount": 1, "projectCount": 1,
            "services": [{"projectId": public, "serviceName": "b", "templateVersion": 2}]}
