"""TemplateProjector: EventBridge (chronicle.Template) -> the template read model (catalog and details;
chronicle.projections.template), then `chronicle.projections` / `TemplateChanged` for onTemplateChanged."""

from aws_lambda_powertools import Logger, Metrics

from chronicle import aws
from chronicle.projections import template
from chronicle.projections.lambda_handler import announce, project_record

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("TEMPLATE_TABLE")
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    record = event["detail"]
    return project_record(
        record, lambda r: template.apply(r, store, table), metrics, logger,
        on_change=lambda result: announce(events_client, bus, "TemplateChanged", record["aggregateId"],
                                          result.version, record["eventType"], metrics, logger))
