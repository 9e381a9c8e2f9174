"""ProjectProjector: EventBridge -> the project read model (idempotent, gap-filling; see chronicle.projections.project).

A raised exception makes EventBridge retry with backoff (RetryPolicy in template.yaml) and finally send the event
to the dead-letter queue.
"""

from datetime import datetime, UTC

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chronicle import aws
from chronicle.projections import project

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("PROJECT_TABLE")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    record = event["detail"]
    logger.append_keys(aggregateId=record["aggregateId"], eventSequence=record["eventSequence"],
                       eventType=record["eventType"])
    try:
        result = project.apply(record, store, table)
    except Exception:
        metrics.add_metric(name="ProjectionErrors", unit=MetricUnit.Count, value=1)
        logger.exception("projection failed")
        raise
    stored_at = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    lag_ms = (datetime.now(UTC) - stored_at).total_seconds() * 1000
    metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=lag_ms)
    if result.skipped:
        metrics.add_metric(name="DuplicateEventsSkipped", unit=MetricUnit.Count, value=1)
    logger.info("projected", applied=result.applied, skipped=result.skipped, version=result.version)
    return {"applied": result.applied, "skipped": result.skipped, "version": result.version}
