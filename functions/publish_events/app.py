"""PublishEvents: read the command's stored events back and put them on the EventBridge bus (at least once;
projections are idempotent)."""

from aws_lambda_powertools import Logger

from chronicle import aws
from chronicle.commands import publish

logger = Logger()
store = aws.event_store()
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = publish(event, store, events_client, bus)
    logger.info("events published", **result)
    return result
