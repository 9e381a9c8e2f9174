"""template.yaml -> emulator resources (chronicle.local.stack) and the runtime around it, on a small fixture."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from chronicle.local.runtime import LocalRuntime
from chronicle.local.stack import StackBuilder, TemplateError, load_template

FIXTURE = Path(__file__).parent / "local_fixture"


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def graphql_resolve(field, args):
    ddb = boto3.resource("dynamodb", region_name="us-east-1").Table("chronicle-read-test")
    if field == "item":
        item = ddb.get_item(Key={"id": args["id"]}).get("Item")
        return item and {"id": item["id"], "event": item["event"]}
    if field == "items":
        return ddb.scan()["Items"]
    raise ValueError(field)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    rt = LocalRuntime(root=FIXTURE, port=0, state_dir=tmp_path_factory.mktemp("state"),
                      graphql_resolve=graphql_resolve).start()
    yield rt
    rt.stop()


def test_short_form_tags_are_loaded():
    doc = load_template(FIXTURE / "template.yaml")
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ITEMS_TABLE"] == {"Ref": "ItemsTable"}
    assert doc["Resources"]["ReadTable"]["Properties"]["TableName"] == {"Fn::Sub": "${AWS::StackName}-read-${Stage}"}
    fn = doc["Resources"]["ProjectFunction"]["Properties"]["Events"]["Items"]["Properties"]
    assert fn["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}


def test_resources_are_created(runtime):
    stack = runtime.stack
    ddb = boto3.client("dynamodb")
    assert stack.tables == {"ItemsTable": "chronicle-ItemsTable", "ReadTable": "chronicle-read-test"}
    desc = ddb.describe_table(TableName="chronicle-ItemsTable")["Table"]
    assert [g["IndexName"] for g in desc["GlobalSecondaryIndexes"]] == ["byOwner"]
    assert desc["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert stack.resources["ProdOnlyTable"].skipped  # condition false
    assert stack.resources["Logs"].skipped  # not emulated
    assert boto3.client("s3").head_bucket(Bucket="chronicle-blobs")
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("/chronicle-echo-chronicle-ItemsTable") for q in queues)  # Join/Select/Split/GetAtt
    events = boto3.client("events")
    rules = events.list_rules(EventBusName="chronicle-bus")["Rules"]
    assert len(rules) == 1 and json.loads(rules[0]["EventPattern"]) == {"source": [{"prefix": "test."}]}
    target = events.list_targets_by_rule(Rule=rules[0]["Name"], EventBusName="chronicle-bus")["Targets"][0]
    assert target["Arn"].endswith(":function:chronicle-ProjectFunction")
    assert target["DeadLetterConfig"]["Arn"].endswith(":chronicle-DeadLetters")
    consumers = {c.queue_arn.rsplit(":", 1)[-1]: c for c in stack.queue_consumers}  # SAM SQS event, and ESM
    assert set(consumers) == {"chronicle-Inbox", "chronicle-Outbox"}
    assert consumers["chronicle-Inbox"].function_arn.endswith(":function:chronicle-ProjectFunction")
    assert (consumers["chronicle-Inbox"].batch_size, consumers["chronicle-Inbox"].report_failures) == (5, False)
    assert consumers["chronicle-Outbox"].function_arn.endswith(":function:chronicle-WriteFunction")
    assert consumers["chronicle-Outbox"].report_failures
    assert list(stack.state_machines) == ["chronicle-command-PutItem"]
    definition = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machines["chronicle-command-PutItem"])["definition"]
    assert ":function:chronicle-WriteFunction" in definition and "${" not in definition


def test_globals_are_merged_and_shared_environment_is_set(runtime):
    import os

    fn = boto3.client("lambda").get_function(FunctionName="chronicle-WriteFunction")["Configuration"]
    assert fn["MemorySize"] == 256 and fn["Timeout"] == 10 and fn["Runtime"] == "python3.12"
    assert fn["Environment"]["Variables"]["READ_TABLE"] == "chronicle-read-test"
    assert os.environ["ITEMS_TABLE"] == "chronicle-ItemsTable"
    assert os.environ["EVENT_BUS"] == "chronicle-bus"
    assert runtime.stack.handlers["chronicle-WriteFunction"].code_dir == FIXTURE / "functions" / "write"


def test_functions_disagreeing_on_a_variable_are_refused(tmp_path, runtime):
    tpl = (FIXTURE / "template.yaml").read_text()
    tpl = tpl.replace("      Handler: app.handler\n      MemorySize: 256",
                      "      Handler: app.handler\n      Environment: {Variables: {STAGE: other}}")
    tpl = tpl.replace("${AWS::StackName}", "x${AWS::StackName}").replace("Type: AWS::S3::Bucket", "Type: AWS::Logs::LogGroup")
    (tmp_path / "template.yaml").write_text(tpl)
    with pytest.raises(TemplateError, match="STAGE"):
        StackBuilder(tmp_path / "template.yaml", stack_name="other").build()


def test_command_success_and_projection(runtime):
    status, body = http("POST", f"{runtime.url}/commands/PutItem", b'{"id": "a1"}', {"X-Actor-Id": "bob"})
    assert status == 200, body
    assert body["id"] == "a1" and body["function"] == "chronicle-WriteFunction" and body["memory"] == 256
    item = boto3.client("dynamodb").get_item(TableName="chronicle-ItemsTable", Key={"id": {"S": "a1"}})["Item"]
    assert item["owner"] == {"S": "bob"}
    # the projection ran (EventBridge rule -> Lambda) before the command answered
    status, body = http("POST", f"{runtime.url}/graphql", json.dumps({"query": "{ item(id: \"a1\") { id event } }"}).encode())
    assert status == 200 and "errors" not in body, body
    event = json.loads(body["data"]["item"]["event"])
    assert event["detail"] == {"id": "a1"} and event["source"] == "test.items" and event["detail-type"] == "ItemPut"
    assert isinstance(event["time"], str) and event["time"].endswith("Z")


def test_command_errors(runtime):
    status, body = http("POST", f"{runtime.url}/commands/PutItem", b'{"id": "dup"}')
    assert status == 200
    status, body = http("POST", f"{runtime.url}/commands/PutItem", b'{"id": "dup"}')
    assert (status, body["error"]) == (409, "AggregateAlreadyExists")
    status, body = http("POST", f"{runtime.url}/commands/PutItem", b"not json")
    assert (status, body) == (400, {"error": "ValidationError", "message": "The body is not JSON.", "details": [{"path": "$"}]})
    status, body = http("POST", f"{runtime.url}/commands/PutItem", b'{"id": "x", "crash": true}')
    assert status == 500 and body["error"] == "InternalError" and "Traceback" not in json.dumps(body)
    status, body = http("POST", f"{runtime.url}/commands/Nope", b"{}")
    assert (status, body["error"], body["details"]) == (404, "UnknownCommand", [])
    status, body = http("POST", f"{runtime.url}/commands/..%2F..", b"{}")
    assert (status, body["error"]) == (404, "UnknownCommand")


def test_routes(runtime):
    assert http("GET", f"{runtime.url}/health")[1]["status"] == "ok"
    assert http("GET", f"{runtime.url}/nowhere")[0] == 404
    assert http("POST", f"{runtime.url}/nowhere", b"{}")[0] == 404
    assert http("GET", f"{runtime.url}/commands/PutItem")[0] == 405
    status, body = http("POST", f"{runtime.url}/graphql", b"{not json")
    assert status == 400 and body["errors"]
    status, body = http("POST", f"{runtime.url}/graphql", json.dumps({"query": "{ nope }"}).encode())
    assert status == 200 and body["errors"]
    status, body = http("POST", f"{runtime.url}/graphql",
                        json.dumps({"query": "mutation($id: ID!) { itemChanged(id: $id) { id } }",
                                    "variables": {"id": "m"}}).encode())
    # a mutation that only feeds subscriptions is the EventBridge rule's (IAM in AWS), not a client's
    assert body["data"] is None and body["errors"][0]["errorType"] == "Unauthorized", body


def test_payload_too_large(runtime):
    big = b'{"id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    status, body = http("POST", f"{runtime.url}/commands/PutItem", big)
    assert (status, body["error"]) == (413, "PayloadTooLarge")


def test_failed_projection_is_retried_then_dead_lettered(runtime):
    events = boto3.client("events")
    events.put_events(Entries=[{"Source": "test.poison", "DetailType": "Bad", "EventBusName": "chronicle-bus",
                                "Detail": json.dumps({"id": "p", "poison": True})}])
    assert runtime.dispatcher.wait_idle(10)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="chronicle-DeadLetters")["QueueUrl"]
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert json.loads(msgs[0]["Body"])["detail"] == {"id": "p", "poison": True}


def test_changes_are_journaled_before_they_are_answered(runtime):
    """No waiting: what the command API and the AWS endpoint acknowledged is already in the journal on disk."""
    from chronicle.local.journal import read_segments

    status, _ = http("POST", f"{runtime.url}/commands/PutItem", b'{"id": "saved"}')
    assert status == 200
    boto3.client("s3").put_object(Bucket="chronicle-blobs", Key="a/b.txt", Body=b"hello")
    records = list(read_segments(runtime.state_dir / "journal", 0))
    items = [image for r in records for table, _, image in r.get("d", []) if table == "chronicle-ItemsTable"]
    assert {"id": {"S": "saved"}} in [{"id": i["id"]} for i in items if i]
    [(bucket, key, blob, _, _)] = [r["s3"] for r in records if "s3" in r]  # ..., metadata, version id
    assert (bucket, key) == ("chronicle-blobs", "a/b.txt")
    assert (runtime.state_dir / "blobs" / blob).read_bytes() == b"hello"
