"""The local SQS event source (chronicle.local.queues): what it deletes, what it leaves for SQS to retry, and the
dead-letter queue after maxReceiveCount, on moto's SQS."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from chronicle.local.queues import QueuePoller, _record
from chronicle.local.stack import QueueConsumer


@pytest.fixture
def sqs(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs")


def make_queue(sqs, max_receives=2):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="work", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueConsumer(url, arn, "arn:aws:lambda:us-east-1:123456789012:function:f", 10, True), dlq


def count(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_successes_are_deleted_and_reported_failures_come_back(sqs, monkeypatch):
    consumer, dlq = make_queue(sqs, max_receives=5)
    for body in ("ok-1", "bad", "ok-2"):
        sqs.send_message(QueueUrl=consumer.queue_url, MessageBody=body)
    seen = []

    def invoke(self, consumer, messages):
        seen.append(sorted(m["Body"] for m in messages))
        return {m["MessageId"] for m in messages if m["Body"] == "bad"}

    monkeypatch.setattr(QueuePoller, "_invoke", invoke)
    poller = QueuePoller(sqs, [consumer], wait_seconds=0)
    assert poller.poll_once(consumer) == 2
    assert seen == [["bad", "ok-1", "ok-2"]]
    assert poller.poll_once(consumer) == 0  # only the failed one is back
    assert seen[-1] == ["bad"] and (poller.processed, poller.failed) == (2, 2)


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(sqs, monkeypatch):
    consumer, dlq = make_queue(sqs, max_receives=2)
    sqs.send_message(QueueUrl=consumer.queue_url, MessageBody="poison")
    monkeypatch.setattr(QueuePoller, "_invoke", lambda self, c, messages: {m["MessageId"] for m in messages})
    poller = QueuePoller(sqs, [consumer], wait_seconds=0)
    for _ in range(4):
        poller.poll_once(consumer)
    assert count(sqs, consumer.queue_url) == 0
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq).get("Messages", [])] == ["poison"]


def test_records_look_like_lambdas_sqs_event(sqs):
    consumer, _ = make_queue(sqs)
    sqs.send_message(QueueUrl=consumer.queue_url, MessageBody='{"stream": {}}')
    message = sqs.receive_message(QueueUrl=consumer.queue_url, AttributeNames=["All"])["Messages"][0]
    record = _record(message, consumer)
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == consumer.queue_arn
    assert record["body"] == '{"stream": {}}' and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}
