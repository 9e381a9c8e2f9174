"""Test handler: parse the command body, put an item (conditionally), publish an event."""
import json
import os

import boto3

from chronicle.errors import AggregateAlreadyExists, ValidationError

dynamodb = boto3.client("dynamodb")  # created at import: must already point at the emulator
events = boto3.client("events")


def handler(event, context):
    try:
        body = json.loads(event["body"])
    except ValueError:
        raise ValidationError("The body is not JSON.", [{"path": "$"}]) from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ValidationError("id is required", [{"path": "$.id"}])
    if body.get("crash"):
        raise RuntimeError("unexpected")
    try:
        dynamodb.put_item(TableName=os.environ["ITEMS_TABLE"],
                          Item={"id": {"S": body["id"]}, "owner": {"S": event["actorId"]}},
                          ConditionExpression="attribute_not_exists(id)")
    except dynamodb.exceptions.ConditionalCheckFailedException:
        raise AggregateAlreadyExists(f"{body['id']} exists") from None
    events.put_events(Entries=[{"Source": "test.items", "DetailType": "ItemPut", "EventBusName": os.environ["EVENT_BUS"],
                                "Detail": json.dumps({"id": body["id"]})}])
    return {"id": body["id"], "function": context.function_name, "memory": context.memory_limit_in_mb,
            "requestId": event["requestId"]}
