"""Lambda's DynamoDB stream event source, locally: read each stream a function consumes and invoke it with batches.

As in AWS (``AWS::Lambda::EventSourceMapping`` on a table's StreamArn): records are read in order from the
emulator's stream (boto3 ``dynamodbstreams``, two reads a second), filtered by ``FilterCriteria`` (EventBridge
pattern syntax), handed to the function as ``{"Records": [...]}``; a batch the function fails is retried, and with
``ReportBatchItemFailures`` it is retried from the first record the function names. After ``MaximumRetryAttempts``
(at most 3 locally) the batch is described on the ``DestinationConfig.OnFailure`` queue and skipped.

The local runtime starts reading at the stream's end when it starts (``LATEST``): the items it loads from the state
directory are not new events, and what a crash left unpublished is re-published on start (docs/local-runtime.md).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import datetime
from typing import Any

from .seam import invoke_function
from .stack import StreamConsumer

log = logging.getLogger(__name__)


class StreamPoller:
    def __init__(self, streams: Any, sqs: Any, consumers: list[StreamConsumer], interval: float = 0.5,
                 retry_delay: float = 0.5) -> None:
        self.streams = streams  # boto3 dynamodbstreams client on the emulator
        self.sqs = sqs
        self.consumers = consumers
        self.interval = interval
        self.retry_delay = retry_delay
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self.failed = 0
        self._rounds: dict[str, int] = {}  # consumer -> reads of all its shards finished (wait_caught_up)
        self._rounds_changed = threading.Condition()

    def start(self) -> None:
        for consumer in self.consumers:
            iterators = self._iterators(consumer)  # now, so that "LATEST" is the start, not the first poll
            thread = threading.Thread(target=self._run, args=(consumer, iterators), daemon=True,
                                      name=f"chronicle-stream-{consumer.function_arn.rsplit(':', 1)[-1]}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _iterators(self, consumer: StreamConsumer) -> list[str]:
        shards = self.streams.describe_stream(StreamArn=consumer.stream_arn)["StreamDescription"]["Shards"]
        return [self.streams.get_shard_iterator(StreamArn=consumer.stream_arn, ShardId=s["ShardId"],
                                                ShardIteratorType=consumer.starting_position)["ShardIterator"]
                for s in shards]

    def _run(self, consumer: StreamConsumer, iterators: list[str]) -> None:
        while not self._stop.wait(self.interval):
            try:
                pages = [self.poll_once(consumer, it) for it in iterators]
                iterators = [it for it, _ in pages]
                caught_up = all(at_end for _, at_end in pages)
            except Exception:  # noqa: BLE001 - the poller must survive anything (the emulator stopping included)
                caught_up = False
                if not self._stop.is_set():
                    log.exception("reading %s failed", consumer.stream_arn)
            if caught_up:
                with self._rounds_changed:
                    self._rounds[consumer.function_arn] = self._rounds.get(consumer.function_arn, 0) + 1
                    self._rounds_changed.notify_all()

    def wait_caught_up(self, timeout: float = 10.0) -> bool:
        """Block until every consumer has read (and delivered) what its stream held when this was called: two rounds
        that each read every shard to its end, as the first of them may have started before the latest writes."""
        with self._rounds_changed:
            targets = {c.function_arn: self._rounds.get(c.function_arn, 0) + 2 for c in self.consumers}
            return self._rounds_changed.wait_for(
                lambda: all(self._rounds.get(arn, 0) >= n for arn, n in targets.items()), timeout)

    def poll_once(self, consumer: StreamConsumer, iterator: str) -> tuple[str, bool]:
        """Deliver the next batch the shard has after ``iterator``; returns the iterator to read from next and
        whether that batch reached the shard's end (it was not a full page)."""
        page = self.streams.get_records(ShardIterator=iterator, Limit=consumer.batch_size)
        read = page.get("Records", [])
        records = [r for r in (_record(r, consumer) for r in read) if consumer.matches(r)]
        if records:
            self._deliver(consumer, records)
        return page["NextShardIterator"], len(read) < consumer.batch_size

    def _deliver(self, consumer: StreamConsumer, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while records and not self._stop.is_set():
            payload, errored = invoke_function(consumer.function_arn, json.dumps({"Records": records}))
            failed_from = len(records) if not errored else 0
            if not errored and consumer.report_failures:
                failed_from = _first_failure(payload, records)
            self.delivered += failed_from
            records = records[failed_from:]
            if not records:
                return
            attempts += 1
            if attempts > consumer.max_retries:
                self._give_up(consumer, records, payload)
                return
            log.warning("%s failed on %d stream records (attempt %d): %s", consumer.function_arn, len(records),
                        attempts, payload[:300])
            self._stop.wait(self.retry_delay * attempts)

    def _give_up(self, consumer: StreamConsumer, records: list[dict[str, Any]], payload: str) -> None:
        self.failed += len(records)
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        log.error("%s: %d stream records skipped after %d retries", consumer.function_arn, len(records),
                  consumer.max_retries)
        if consumer.on_failure:
            queue = consumer.on_failure.rsplit(":", 1)[-1]
            url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
                "requestContext": {"functionArn": consumer.function_arn, "condition": "RetryAttemptsExhausted",
                                   "approximateInvokeCount": consumer.max_retries + 1},
                "responseContext": {"functionError": "Unhandled", "payload": payload[:1000]},
                "DDBStreamBatchInfo": {"streamArn": consumer.stream_arn, "batchSize": len(records),
                                       "startSequenceNumber": sequences[0], "endSequenceNumber": sequences[-1]}}))


def _first_failure(payload: str, records: list[dict[str, Any]]) -> int:
    """Index of the first record the function reported as failed (everything from there is retried)."""
    try:
        failures = {f["itemIdentifier"] for f in (json.loads(payload or "null") or {}).get("batchItemFailures", [])}
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0
    for i, record in enumerate(records):
        if record["dynamodb"]["SequenceNumber"] in failures:
            return i
    return len(records)


def _record(record: dict[str, Any], consumer: StreamConsumer) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to the function (epoch seconds, the source ARN)."""
    out = dict(record)
    dynamodb = dict(out.get("dynamodb") or {})
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in dynamodb:
            dynamodb[image] = _base64_blobs(dynamodb[image])
    out["dynamodb"] = dynamodb
    out["eventSourceARN"] = consumer.stream_arn
    return out


def _base64_blobs(value: Any) -> Any:
    """Binary attribute values (B, BS) as the base64 text Lambda's JSON event carries (boto3 hands them as bytes;
    left as bytes, one binary attribute made the batch unmatchable and unsendable, stalling the stream for good)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _base64_blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_base64_blobs(v) for v in value]
    return value
