"""chronicle.local.moto_query answers every Query exactly as moto does, only cheaper: a differential test over
random tables (puts, overwrites, deletes, transactions) and random key conditions, pages and orders."""

from __future__ import annotations

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chronicle.local import moto_query

HASHES = ["a", "b", "c"]
numbers = st.one_of(st.integers(-50, 50), st.decimals(-50, 50, places=2, allow_nan=False, allow_infinity=False))
writes = st.lists(st.tuples(st.sampled_from(["put", "put", "put", "delete", "transact"]), st.sampled_from(HASHES),
                            numbers), max_size=60)
conditions = st.sampled_from(["=", "<", "<=", ">", ">=", "BETWEEN", None])
queries = st.lists(st.tuples(st.sampled_from(HASHES + ["missing"]), conditions, numbers, numbers, st.booleans(),
                             st.sampled_from([None, 1, 3, 100])), min_size=1, max_size=12)


def _query_all(client, hash_key, condition, first, second, forward, limit):
    expression, values = "pk = :h", {":h": {"S": hash_key}}
    low, high = sorted((first, second))
    if condition == "BETWEEN":
        expression += " AND sk BETWEEN :lo AND :hi"
        values.update({":lo": {"N": str(low)}, ":hi": {"N": str(high)}})
    elif condition is not None:
        expression += f" AND sk {condition} :v"
        values[":v"] = {"N": str(first)}
    pages, start = [], None
    while True:
        kwargs = {"TableName": "t", "KeyConditionExpression": expression, "ExpressionAttributeValues": values,
                  "ScanIndexForward": forward}
        if limit:
            kwargs["Limit"] = limit
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.query(**kwargs)
        pages.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
        start = page.get("LastEvaluatedKey")
        if not start or len(pages) > 200:
            return pages


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=writes, queries=queries)
def test_fast_queries_answer_what_moto_answers(writes, queries, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto_query.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb")
            client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "N"}],
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}])
            for i, (op, hash_key, number) in enumerate(writes):
                key = {"pk": {"S": hash_key}, "sk": {"N": str(number)}}
                if op == "put":
                    client.put_item(TableName="t", Item={**key, "v": {"N": str(i)}})
                elif op == "delete":
                    client.delete_item(TableName="t", Key=key)
                else:
                    client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {
                        "pk": {"S": hash_key}, "sk": {"N": str(number + 1000)}, "v": {"N": str(i)}}}}])
                if i % 7 == 0:  # queries between writes exercise the index maintenance
                    _query_all(client, hash_key, ">=", number, number, True, None)
            for query in queries:
                fast = _query_all(client, *query)
                moto_query.uninstall()
                try:
                    plain = _query_all(client, *query)
                finally:
                    moto_query.install()
                assert fast == plain, query
    finally:
        moto_query.uninstall()


def test_install_is_idempotent_and_uninstall_restores_moto():
    from moto.dynamodb.models.table import Table

    original = Table.query
    moto_query.install()
    moto_query.install()
    assert moto_query.installed() and Table.query is not original
    moto_query.uninstall()
    assert not moto_query.installed() and Table.query is original
