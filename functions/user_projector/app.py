"""UserProjector: EventBridge (chronicle.User) -> the user read model (profiles and permission matrix, personal
fields kept sealed; chronicle.projections.user), then `chronicle.projections` / `UserChanged` for onUserChanged."""

from aws_lambda_powertools import Logger, Metrics

from chronicle import aws
from chronicle.projections import user
from chronicle.projections.lambda_handler import announce, project_record

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("USER_TABLE")
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    record = event["detail"]
    return project_record(
        record, lambda r: user.apply(r, store, table), metrics, logger,
        on_change=lambda result: announce(events_client, bus, "UserChanged", record["aggregateId"],
                                          result.version, record["eventType"], metrics, logger))
