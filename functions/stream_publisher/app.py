"""StreamPublisher: the event table's DynamoDB stream -> the bus, so that an event whose workflow died before its
publish step still reaches the projections and every other consumer (chronicle.safety_net; at least once, stable
eventId to deduplicate by)."""

from aws_lambda_powertools import Logger

from chronicle import aws
from chronicle.safety_net import publish_stream_batch

logger = Logger()
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = publish_stream_batch(event, events_client, bus)
    logger.info("stream batch published", records=len(event.get("Records") or []), **{
        "published": result["published"], "failed": len(result["batchItemFailures"])})
    return {"batchItemFailures": result["batchItemFailures"]}
