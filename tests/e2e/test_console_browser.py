"""The web console (/console) in headless Chromium: executions, one execution's graph with the failed state
marked, a stream, a redrive that empties a dead-letter queue, the executions after a restart, and `chromium
--dump-dom` seeing the executions list as served."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from browser import chromium_path
from local_helpers import ROOT, http, send_to_queue, settle

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "docs" / "images" / "console-execution.png"


def create_and_refuse(url: str, actor: str = "alice") -> tuple[str, str, str]:
    """A CreateProject that succeeds and one refused with 409: (project id, their execution names)."""
    status, body = http("POST", f"{url}/commands/CreateProject", {"data": {"name": "Console", "ownerId": actor}},
                        {"X-Actor-Id": actor})
    assert status == 200, body
    project = body["aggregateId"]
    status, refused = http("POST", f"{url}/commands/CreateProject",
                           {"aggregateId": project, "data": {"name": "Again", "ownerId": actor}}, {"X-Actor-Id": actor})
    assert status == 409, refused
    listing = http("GET", f"{url}/console/api/executions?command=CreateProject&limit=2")[1]["executions"]
    ok, failed = sorted(listing, key=lambda e: e["status"], reverse=True)
    assert (ok["status"], failed["status"]) == ("SUCCEEDED", "FAILED")
    return project, ok["name"], failed["name"]


def test_executions_list_newest_first_and_filtered(runtime, page):
    _, ok, failed = create_and_refuse(runtime.url)
    page.goto(f"{runtime.url}/")  # redirects to /console
    assert page.url.endswith("/console")
    rows = page.locator("#executions tbody tr.execution")
    names = rows.locator("td:last-child a").all_inner_texts()
    assert names[:2] == [failed, ok]  # newest first
    page.select_option("select[name=status]", "FAILED")
    page.click("form.filters button")
    statuses = page.locator("#executions tbody tr.execution").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"FAILED"}
    assert failed in page.locator("#executions").inner_text() and ok not in page.locator("#executions").inner_text()


def test_one_execution_draws_its_graph_with_the_failed_state_marked(runtime, page, tmp_path):
    _, _, failed = create_and_refuse(runtime.url)
    page.goto(f"{runtime.url}/console")
    page.click(f"text={failed}")
    graph = page.locator("svg.graph")
    assert graph.locator(".state").count() >= 7  # every state of the ASL, entered or not
    assert graph.locator(".state.failed").get_attribute("data-state") == "Refused"
    assert graph.locator(".state.caught").get_attribute("data-state") == "DecideAndAppend"
    taken = graph.locator(".state.taken").evaluate_all("gs => gs.map(g => g.dataset.state)")
    assert set(taken) == {"ValidateCommand", "DecideAndAppend", "Refused"}
    assert graph.locator(".edge.taken").count() == 2
    graph.locator(".state[data-state=ValidateCommand]").click()
    panel = page.locator("#state-panel")
    assert "ValidateCommand" in panel.inner_text() and '"commandType": "CreateProject"' in panel.inner_text()
    graph.locator(".state[data-state=DecideAndAppend]").click()
    assert "AggregateAlreadyExists" in panel.inner_text()
    # CHRONICLE_UPDATE_SCREENSHOT=1 refreshes the docs' picture; otherwise the run leaves the tree as it was
    shot = SCREENSHOT if os.environ.get("CHRONICLE_UPDATE_SCREENSHOT") else tmp_path / "console-execution.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_stream_page_shows_events_as_stored_and_read_and_the_chain(runtime, page):
    project, _, _ = create_and_refuse(runtime.url)
    page.goto(f"{runtime.url}/console/streams")
    page.fill("input[name=id]", project)
    page.click("form.filters button")
    assert "ProjectCreated" in page.locator("#events-read").inner_text()
    assert '"S": "ProjectCreated"' in page.locator("#events-stored").inner_text()
    assert "intact" in page.locator("#chain").inner_text()
    page.goto(f"{runtime.url}/console/streams?id={project}&actor=mallory")  # a stranger, a private project
    assert page.locator("#stream-empty").count() == 1 and page.locator("#events-stored").count() == 0


def test_redrive_empties_a_dead_letter_queue(runtime, page):
    import boto3

    from chronicle import aws
    from chronicle.eventstore.items import from_item

    project, _, _ = create_and_refuse(runtime.url)
    settle(runtime)
    event = from_item(next(aws.event_store().iter_items(project)))
    sqs = boto3.client("sqs", endpoint_url=runtime.aws_endpoint, region_name="us-east-1")
    queue = sqs.get_queue_url(QueueName=_queue_name(runtime, "ProjectionDeadLetterQueue"))["QueueUrl"]
    body = {"version": "0", "id": str(uuid.uuid4()), "detail-type": event["eventType"], "source": "chronicle.Project",
            "account": "123456789012", "time": event["timestamp"], "region": "us-east-1", "resources": [],
            "detail": event}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    page.goto(f"{runtime.url}/console/dead-letters")
    section = page.locator("section.queue[data-queue=ProjectionDeadLetterQueue]")
    assert section.get_attribute("data-count") == "1" and project in section.inner_text()
    section.locator("button.redrive").click()
    assert "Redrove 1 messages" in page.locator("#redriven").inner_text()
    assert page.locator("section.queue[data-queue=ProjectionDeadLetterQueue]").get_attribute("data-count") == "0"
    settle(runtime)  # the event went back on the bus; the projection skips what it already applied
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    page.goto(f"{runtime.url}/console/dead-letters?actor=mallory")
    assert page.locator("section.queue").count() == 0  # not an admin


def _queue_name(runtime, logical_id: str) -> str:
    return str(runtime.stack.resources[logical_id].physical_id).rpartition("/")[2]


def test_executions_and_dead_letters_survive_a_restart(cli_runtime, tmp_path, page):
    state = tmp_path / "state"
    first = cli_runtime(state)
    _, ok, failed = create_and_refuse(first.url)
    send_to_queue(first.aws_endpoint, "RepublishDeadLetter", '{"kept": "across restarts"}')
    first.stop()

    second = cli_runtime(state)
    page.goto(f"{second.url}/console?status=FAILED")
    assert failed in page.locator("#executions").inner_text()
    page.goto(f"{second.url}/console/executions/{ok}")
    assert page.locator("svg.graph .state.taken[data-state=PublishEvents]").count() == 1
    page.goto(f"{second.url}/console/dead-letters")
    assert "across restarts" in page.locator("section.queue[data-queue=RepublishDeadLetterQueue]").inner_text()
    second.stop()


def test_dump_dom_of_the_console_shows_the_executions(runtime):
    create_and_refuse(runtime.url)
    if chromium_path() is None:
        pytest.skip("no chromium on this machine (make browser installs it)")
    # exactly as a user types it (as root, `make browser` lets Debian's launcher add --no-sandbox)
    out = subprocess.run(["chromium", "--headless", "--dump-dom", f"{runtime.url}/console"], capture_output=True,
                         text=True, timeout=120)
    assert 'class="command">CreateProject</td>' in out.stdout, f"(run `make browser` once) {out.stderr[-2000:]}"


def test_the_screenshot_is_in_the_docs():
    assert Path(SCREENSHOT).is_file()


def test_read_models_and_schema_registry_pages(runtime, page):
    create_and_refuse(runtime.url)
    settle(runtime)
    page.goto(f"{runtime.url}/console/read-models")
    tables = page.locator("#tables").inner_text()
    assert "ProjectReadModelTable" in tables and "EventStoreTable" in tables
    assert "stored events not yet delivered" in page.locator("#lag").inner_text()
    page.goto(f"{runtime.url}/console/schemas")
    assert "project_created_v1_to_v2" in page.locator("#upcasters").inner_text()
    page.locator("#event-schemas summary", has_text="ProjectCreated").click()
    assert "v1" in page.locator("#event-schemas").inner_text() and "v2" in page.locator("#event-schemas").inner_text()
    assert "CreateProject" in page.locator("#command-schemas").inner_text()
