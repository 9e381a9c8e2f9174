"""chronicle.local.fastpath: the shortcuts give the answers moto's own code gives."""

from __future__ import annotations

import base64
import json

import boto3
from moto import mock_aws

from chronicle.local import fastpath

ITEM = {"pk": {"S": "a"}, "n": {"N": "1.5"}, "b": {"B": b"\x00\xffbin"},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"\x01"]},
        "t": {"BOOL": True}, "f": {"BOOL": False}, "z": {"NULL": True}, "e": {"S": ""},
        "m": {"M": {"deep": {"L": [{"S": "s"}, {"N": "2"}, {"M": {"b": {"B": b"z"}}},
                                  {"NULL": True}, {"BOOL": False}]}}},
        "l": {"L": []}, "em": {"M": {}}}


def _answers() -> list:
    """Raw JSON bodies of reads that return items (what the handlers parse)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    client.put_item(TableName="t", Item=ITEM)
    bodies = []

    def keep(http_response, **_kwargs):
        bodies.append(json.loads(http_response.content))

    client.meta.events.register("after-call.dynamodb", keep)
    client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})
    client.scan(TableName="t")
    client.put_item(TableName="t", Item=ITEM, ReturnValues="ALL_OLD")
    client.update_item(TableName="t", Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :n",
                       ExpressionAttributeValues={":n": {"N": "2"}}, ReturnValues="ALL_NEW")
    client.describe_table(TableName="t")
    return bodies


def test_attribute_values_serialize_as_moto_serializes_them(monkeypatch):
    from moto.core.serialize import BaseJSONSerializer

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto in-process, whatever emulator ran before
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    current = BaseJSONSerializer._serialize_type_structure
    moto_own = getattr(current, "__wrapped__", current)  # whoever installed the fast path (a live runtime)
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", moto_own)
    with mock_aws():
        slow = _answers()
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", fastpath._fast_structure(moto_own))
    with mock_aws():
        fast = _answers()
    for answer in (*slow, *fast):
        for key in ("CreationDateTime", "TableId", "TableArn", "LatestStreamLabel"):
            answer.get("Table", {}).pop(key, None)
    assert fast == slow
    assert slow[0]["Item"]["b"] == {"B": base64.b64encode(b"\x00\xffbin").decode()}  # binary went both ways
    assert len(slow[1]["Items"]) == 1 and slow[1]["Items"][0]["m"] == slow[0]["Item"]["m"]


def test_caches_install_per_emulator_and_go_with_the_last():
    class App:
        def get_backend_for_host(self, host):
            return f"backend-of-{host}"

    held = fastpath._state.get("holders", 0)
    first, second = App(), App()
    fastpath.install_caches(first)
    fastpath.install_caches(second)
    assert second.get_backend_for_host("h") == "backend-of-h"
    fastpath.uninstall_caches()
    assert fastpath.watch("arn:x") is not None  # still held by the second
    fastpath.uninstall_caches()
    assert (fastpath.watch("arn:y") is None) == (held == 0)
    fastpath.unwatch("arn:x")


def _dynamodb_exchange(client, table: str) -> list:
    """Successes and refusals of the calls the handlers make, as the caller sees them (ResponseMetadata aside)."""
    from botocore.exceptions import ClientError, ParamValidationError

    key = {"pk": {"S": "a"}}
    calls = [
        lambda: client.put_item(TableName=table, Item=ITEM, ReturnValues="ALL_OLD"),
        lambda: client.put_item(TableName=table, Item=ITEM, ReturnValues="ALL_OLD"),
        lambda: client.get_item(TableName=table, Key=key, ConsistentRead=True),
        lambda: client.get_item(TableName=table, Key={"pk": {"S": "none"}}),
        lambda: client.query(TableName=table, KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "a"}}, ProjectionExpression="n, b, m"),
        lambda: client.scan(TableName=table, FilterExpression="n > :z", ExpressionAttributeValues={":z": {"N": "0"}}),
        lambda: client.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :one, #l = list_append(#l, :l)",
                                   ExpressionAttributeNames={"#l": "l"},
                                   ExpressionAttributeValues={":one": {"N": "1"}, ":l": {"L": [{"B": b"\x01"}]}},
                                   ReturnValues="ALL_NEW"),
        lambda: client.put_item(TableName=table, Item=ITEM, ConditionExpression="attribute_not_exists(pk)",
                                ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        lambda: client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "n = :x",
                                "ExpressionAttributeValues": {":x": {"N": "7"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]),
        lambda: client.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": {"S": "none"}}]}}),
        lambda: client.query(TableName=table, KeyConditionExpression="pk = :p AND",
                             ExpressionAttributeValues={":p": {"S": "a"}}),
        lambda: client.get_item(TableName="no-such-table", Key=key),
        lambda: client.get_item(TableName=table, Key={"pk": "not an attribute value"}),
        lambda: client.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD"),
    ]
    seen = []
    for call in calls:
        try:
            answer = call()
            answer.pop("ResponseMetadata", None)
            seen.append(("ok", answer))
        except ClientError as error:
            response = {k: v for k, v in error.response.items() if k != "ResponseMetadata"}
            seen.append((type(error).__name__, response))
        except ParamValidationError as error:
            seen.append(("ParamValidationError", str(error)))
    return seen


def test_direct_dynamodb_calls_answer_as_botocore_and_moto_answer_them():
    """The direct route (no serializing, signing, WSGI or request parsing) against botocore's own path to the same
    emulator: every answer and every error, with its modeled fields (CancellationReasons, Item), equal."""
    from chronicle.local.emulator import Emulator

    emulator = Emulator().start()
    try:
        client = boto3.client("dynamodb", endpoint_url=emulator.endpoint, region_name="us-east-1")
        assert isinstance(client, fastpath._DirectClient)
        def fresh_table() -> str:
            if "t" in client.list_tables()["TableNames"]:
                client.delete_table(TableName="t")
            client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
            return "t"

        direct = _dynamodb_exchange(client, fresh_table())
        with fastpath.paused(emulator.dispatcher_app):
            slow = _dynamodb_exchange(client, fresh_table())
    finally:
        emulator.stop()
    assert [kind for kind, _ in direct] == [kind for kind, _ in slow]
    assert direct == slow
    kinds = [kind for kind, _ in direct]
    assert kinds.count("ok") >= 8 and "ConditionalCheckFailedException" in kinds
    assert "TransactionCanceledException" in kinds and "ParamValidationError" in kinds
    canceled = direct[kinds.index("TransactionCanceledException")][1]
    assert canceled["CancellationReasons"][1]["Item"]["pk"] == {"S": "a"}
    assert direct[2][1]["Item"]["b"] == {"B": b"\x00\xffbin"}  # binary parsed back to bytes


def _other_services_exchange(endpoint: str, tag: str) -> list:
    """EventBridge, Step Functions and DynamoDB Streams calls the local runtime makes, reduced to what does not
    differ between two runs (ids, ARNs with the tag, dates)."""
    from botocore.exceptions import ClientError

    events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    assert isinstance(events, fastpath._DirectClient) and isinstance(sfn, fastpath._DirectClient)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
    machine: dict = {}
    calls = [
        lambda: events.create_event_bus(Name=f"bus-{tag}"),
        lambda: events.put_events(Entries=[{"EventBusName": f"bus-{tag}", "Source": "s", "DetailType": "d",
                                            "Detail": json.dumps({"a": 1})}] * 2),
        lambda: events.put_events(Entries=[{"EventBusName": f"bus-{tag}", "Source": "s", "DetailType": "d",
                                            "Detail": "not json"}]),
        lambda: events.describe_event_bus(Name=f"missing-{tag}"),
        lambda: machine.update(sfn.create_state_machine(
            name=f"m-{tag}", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")) or machine,
        lambda: sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"] + "-missing"),
        lambda: sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1", input="{}"),
        lambda: sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1", input='{"other": 1}'),
        lambda: sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="not json"),
    ]
    seen = []
    for call in calls:
        try:
            answer = call()
            seen.append(("ok", sorted(k for k in answer if k != "ResponseMetadata"),
                         answer.get("FailedEntryCount"), [sorted(e) for e in answer.get("Entries", [])]))
        except ClientError as error:
            seen.append((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]))
    return seen


def test_direct_calls_of_the_other_services_answer_as_botocore_does():
    from chronicle.local.emulator import Emulator

    emulator = Emulator().start()
    try:
        direct = _other_services_exchange(emulator.endpoint, "direct")
        with fastpath.paused(emulator.dispatcher_app):
            slow = _other_services_exchange(emulator.endpoint, "slow")
    finally:
        emulator.stop()
    assert direct == slow
    assert [s[0] for s in direct].count("ok") >= 5 and "ResourceNotFoundException" in [s[0] for s in direct]
