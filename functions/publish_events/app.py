"""PublishEvents: read stored events back and put them on the EventBridge bus (at least once; projections are
idempotent).

Two callers: the command workflow (the outcome with its `stream`), and RepublishQueue (SQS batches of
{"stream": ...} the workflow queued when the bus refused them), whose failed records go back to the queue
(ReportBatchItemFailures) to be retried, then dead-lettered.
"""

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from chronicle import aws
from chronicle.commands import publish

logger = Logger()
store = aws.event_store()
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")
processor = BatchProcessor(event_type=EventType.SQS)


def republish(record):
    stream = json.loads(record.body)["stream"]
    result = publish({"stream": stream}, store, events_client, bus)
    logger.info("events republished", stream=stream, **result)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    if "Records" in event:
        return process_partial_response(event=event, record_handler=republish, processor=processor, context=context)
    result = publish(event, store, events_client, bus)
    logger.info("events published", **result)
    return result
