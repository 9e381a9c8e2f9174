"""TemplateUsageProjector: EventBridge (chronicle.Project) -> services per template across projects
(chronicle.projections.usage: idempotent per project stream and sequence, gap-filling)."""

from aws_lambda_powertools import Logger, Metrics

from chronicle import aws
from chronicle.projections import usage
from chronicle.projections.lambda_handler import project_record

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("USAGE_TABLE")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return project_record(event["detail"], lambda r: usage.apply(r, store, table), metrics, logger)
