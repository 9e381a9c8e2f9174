"""ProjectProjector: EventBridge -> the project read model (idempotent, gap-filling; see chronicle.projections.project).

A raised exception makes EventBridge retry with backoff (RetryPolicy in template.yaml) and finally send the event
to the dead-letter queue. After it wrote the read model, the projector announces the change on the bus
(`chronicle.projections` / `ProjectChanged`), which the subscription rule turns into the AppSync mutation: so a
subscriber that re-queries on a notification reads the new version. The announcement is best effort (logged and
counted when it fails): the read model, not the notification, is the record (chronicle.projections.lambda_handler).
"""

from aws_lambda_powertools import Logger, Metrics

from chronicle import aws
from chronicle.projections import project
from chronicle.projections.lambda_handler import announce, project_record

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("PROJECT_TABLE")
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    record = event["detail"]
    return project_record(
        record, lambda r: project.apply(r, store, table), metrics, logger,
        on_change=lambda result: announce(events_client, bus, "ProjectChanged", record["aggregateId"],
                                          result.version, record["eventType"], metrics, logger))
