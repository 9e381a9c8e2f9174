"""Lambda's SQS event source, locally: poll each queue a function consumes and invoke it with batches.

As in AWS: a batch goes to the function as an ``{"Records": [...]}`` event; when the function succeeds its
messages are deleted, except those it names in ``batchItemFailures`` (ReportBatchItemFailures); when it fails,
none is. Messages not deleted come back after the queue's visibility timeout, and the queue's RedrivePolicy
(emulated by moto) moves them to the dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from .seam import invoke_function
from .stack import QueueConsumer

log = logging.getLogger(__name__)


class QueuePoller:
    def __init__(self, sqs: Any, consumers: list[QueueConsumer], wait_seconds: int = 1) -> None:
        self.sqs = sqs
        self.consumers = consumers
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.processed = 0
        self.failed = 0

    def start(self) -> None:
        for consumer in self.consumers:
            thread = threading.Thread(target=self._run, args=(consumer,), daemon=True,
                                      name=f"chronicle-sqs-{consumer.queue_arn.rsplit(':', 1)[-1]}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.wait_seconds + 2)
        self._threads.clear()

    def _run(self, consumer: QueueConsumer) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(consumer)
            except Exception:  # noqa: BLE001 - the poller must survive anything (the emulator stopping included)
                if not self._stop.is_set():
                    log.exception("polling %s failed", consumer.queue_url)
                    self._stop.wait(1)

    def poll_once(self, consumer: QueueConsumer) -> int:
        """Receive one batch and hand it to the function; returns how many messages were deleted."""
        messages = self.sqs.receive_message(
            QueueUrl=consumer.queue_url, MaxNumberOfMessages=min(consumer.batch_size, 10),
            WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        failed_ids = self._invoke(consumer, messages)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for message in done:
            self.sqs.delete_message(QueueUrl=consumer.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.processed += len(done)
        self.failed += len(messages) - len(done)
        return len(done)

    def _invoke(self, consumer: QueueConsumer, messages: list[dict[str, Any]]) -> set[str]:
        """The ids of the messages the function did not process."""
        event = {"Records": [_record(m, consumer) for m in messages]}
        payload, errored = invoke_function(consumer.function_arn, json.dumps(event))
        all_ids = {m["MessageId"] for m in messages}
        if errored:
            log.warning("%s failed on a batch of %d from %s", consumer.function_arn, len(messages), consumer.queue_arn)
            return all_ids
        if not consumer.report_failures:
            return set()
        try:
            result = json.loads(payload or "null")
            return {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("unreadable batchItemFailures from %s: every message is retried", consumer.function_arn)
            return all_ids


def _record(message: dict[str, Any], consumer: QueueConsumer) -> dict[str, Any]:
    """A received message as Lambda's SQS event record."""
    region = consumer.queue_arn.split(":")[3]
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}), "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "eventSourceARN": consumer.queue_arn, "awsRegion": region}
