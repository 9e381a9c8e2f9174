"""Test projector: copy the event into the read table; fail on demand."""
import json
import os

import boto3

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    detail = event["detail"]
    if detail.get("poison"):
        raise RuntimeError("poison event")
    dynamodb.put_item(TableName=os.environ["READ_TABLE"],
                      Item={"id": {"S": detail["id"]}, "event": {"S": json.dumps(event)}})
    return {"ok": True}
