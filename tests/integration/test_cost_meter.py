"""chronicle.cost.meter counts DynamoDB and EventBridge units from real requests (moto, in-process)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from chronicle.cost.meter import Meter, MotoItems


@pytest.fixture
def meter(aws):
    meter = Meter({}, {}, MotoItems("123456789012", "us-east-1")).install()
    yield meter
    meter.uninstall()


def units(meter, before):
    return {unit: q for (_, unit), q in (meter.snapshot() - before).units.items()}


def test_writes_bill_the_larger_item_in_1kb_units_and_transactions_double(meter):
    client = boto3.client("dynamodb")  # created after install: hooked
    before = meter.snapshot()
    client.put_item(TableName="commands", Item={"commandId": {"S": "a"}, "blob": {"S": "x" * 1500}})
    assert units(meter, before) == {"dynamodb.wru": 2}

    before = meter.snapshot()
    with pytest.raises(ClientError):  # a failed condition still bills the item it compared (the 1.5 KB one)
        client.put_item(TableName="commands", Item={"commandId": {"S": "a"}},
                        ConditionExpression="attribute_not_exists(commandId)")
    assert units(meter, before) == {"dynamodb.wru": 2}

    before = meter.snapshot()
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": "commands", "Item": {"commandId": {"S": "b"}}}},
        {"ConditionCheck": {"TableName": "commands", "Key": {"commandId": {"S": "a"}},
                            "ConditionExpression": "attribute_exists(commandId)"}}])
    assert units(meter, before) == {"dynamodb.wru": 2 * 1 + 2 * 2}


def test_reads_bill_4kb_of_the_items_read_whatever_the_projection(meter):
    client = boto3.client("dynamodb")
    for i in range(1, 4):
        client.put_item(TableName="events", Item={"aggregateId": {"S": "s"}, "eventSequence": {"N": str(i)},
                                                  "data": {"S": "x" * 2000}})
    before = meter.snapshot()
    client.query(TableName="events", KeyConditionExpression="aggregateId = :a",
                 ExpressionAttributeValues={":a": {"S": "s"}}, ProjectionExpression="eventSequence",
                 ConsistentRead=True)
    client.get_item(TableName="events", Key={"aggregateId": {"S": "s"}, "eventSequence": {"N": "9"}})
    assert units(meter, before) == {"dynamodb.rru": 2 + 0.5}  # ~6 KB consistent; a miss read eventually: 0.5


def test_global_index_writes_and_eventbridge_entries(meter):
    client = boto3.client("dynamodb")
    before = meter.snapshot()
    client.put_item(TableName="projects", Item={"id": {"S": "p"}, "ownerId": {"S": "o"}, "updatedAt": {"S": "t"}})
    assert units(meter, before) == {"dynamodb.wru": 1 + 1}  # the table and its byOwner index

    events = boto3.client("events")
    before = meter.snapshot()
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"},
                               {"Source": "s", "DetailType": "d", "Detail": '{"x": "' + "y" * 70000 + '"}'}])
    assert units(meter, before) == {"events.entries": 1 + 2}


def test_the_meter_sees_the_local_runtime_calls_of_a_command():
    """Through `chronicle local` (handlers' clients on the emulator's direct route, chronicle.local.fastpath): the
    append's conditional PutItem and the publish's PutEvents are counted where they run. A route that skipped the
    clients' events would leave the DynamoDB and EventBridge columns of `chronicle cost` empty."""
    from chronicle.cost.model import measure, metered_runtime

    with metered_runtime() as (runtime, meter):
        [cost] = measure(runtime, meter, ["CreateProject"], runs=1)
    assert cost.calls.get("dynamodb:PutItem", 0) >= 1, cost.calls
    assert cost.calls.get("events:PutEvents", 0) >= 1, cost.calls
    assert cost.units.get("dynamodb.wru", 0) >= 1, cost.units
