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
    with mock_aws():
        slow = _answers()
    fastpath.install_caches(type("App", (), {"get_backend_for_host": staticmethod(lambda host: None)})())
    try:
        with mock_aws():
            fast = _answers()
    finally:
        fastpath.uninstall_caches()
    for answer in (*slow, *fast):
        answer.get("Table", {}).pop("CreationDateTime", None)
        for key in ("TableId", "TableArn", "LatestStreamLabel"):
            answer.get("Table", {}).pop(key, None)
    assert fast == slow
    assert slow[0]["Item"]["b"] == {"B": base64.b64encode(b"\x00\xffbin").decode()}  # binary went both ways
    assert len(slow[1]["Items"]) == 1 and slow[1]["Items"][0]["m"] == slow[0]["Item"]["m"]
