"""ProjectProjector: EventBridge -> the project read model (idempotent, gap-filling; see chronicle.projections.project).

A raised exception makes EventBridge retry with backoff (RetryPolicy in template.yaml) and finally send the event
to the dead-letter queue. After it wrote the read model, the projector announces the change on the bus
(`chronicle.projections` / `ProjectChanged`), which the subscription rule turns into the AppSync mutation: so a
subscriber that re-queries on a notification reads the new version. The announcement is best effort (logged and
counted when it fails): the read model, not the notification, is the record.
"""

import json
from datetime import datetime, UTC

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chronicle import aws
from chronicle.projections import project

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("PROJECT_TABLE")
events_client = aws.client("events")
bus = aws.env("EVENT_BUS")


def announce(project_id: str, version: int, event_type: str) -> None:
    try:
        result = events_client.put_events(Entries=[{
            "EventBusName": bus, "Source": "chronicle.projections", "DetailType": "ProjectChanged",
            "Detail": json.dumps({"id": project_id, "version": version, "eventType": event_type})}])
        if result.get("FailedEntryCount"):
            raise RuntimeError(result["Entries"])
    except Exception:  # noqa: BLE001 - subscriptions are best effort; the read model is written
        metrics.add_metric(name="ChangeNotificationsFailed", unit=MetricUnit.Count, value=1)
        logger.exception("could not announce the read model change")


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
    else:
        announce(record["aggregateId"], result.version, record["eventType"])
    logger.info("projected", applied=result.applied, skipped=result.skipped, version=result.version)
    return {"applied": result.applied, "skipped": result.skipped, "version": result.version}
