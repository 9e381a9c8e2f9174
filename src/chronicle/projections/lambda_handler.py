"""What every projector Lambda does around its read model's apply(): log keys, the lag metric, error counting
(a raised exception makes EventBridge/Lambda retry with backoff, then dead-letter), and the change announcement
(`chronicle.projections` / `<Model>Changed` on the bus) that feeds the GraphQL subscription rule.

The announcement is best effort (logged and counted when it fails): the read model, not the notification, is the
record (docs/decisions/0004-subscriptions-follow-the-read-model.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chronicle.metrics import log_metrics
from chronicle.projections.folded import Applied


def announce(events_client: Any, bus: str, detail_type: str, stream_id: str, version: int, event_type: str,
             metrics: Metrics, logger: Logger) -> None:
    try:
        result = events_client.put_events(Entries=[{
            "EventBusName": bus, "Source": "chronicle.projections", "DetailType": detail_type,
            "Detail": json.dumps({"id": stream_id, "version": version, "eventType": event_type})}])
        if result.get("FailedEntryCount"):
            raise RuntimeError(result["Entries"])
    except Exception:  # noqa: BLE001 - subscriptions are best effort; the read model is written
        metrics.add_metric(name="ChangeNotificationsFailed", unit=MetricUnit.Count, value=1)
        logger.exception("could not announce the read model change")


def project_record(record: dict[str, Any], apply: Callable[[dict[str, Any]], Applied], metrics: Metrics,
                   logger: Logger, on_change: Callable[[Applied], None] | None = None) -> dict[str, Any]:
    """Apply one published event (EventBridge `detail`) and report it; raises to be retried."""
    logger.append_keys(aggregateId=record["aggregateId"], eventSequence=record["eventSequence"],
                       eventType=record["eventType"])
    try:
        result = apply(record)
    except Exception:
        metrics.add_metric(name="ProjectionErrors", unit=MetricUnit.Count, value=1)
        logger.exception("projection failed")
        raise
    stored_at = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds,
                       value=(datetime.now(UTC) - stored_at).total_seconds() * 1000)
    if result.skipped:
        metrics.add_metric(name="DuplicateEventsSkipped", unit=MetricUnit.Count, value=1)
    elif on_change is not None:
        on_change(result)
    logger.info("projected", applied=result.applied, skipped=result.skipped, version=result.version)
    return {"applied": result.applied, "skipped": result.skipped, "version": result.version}


def projector_handler(apply: Callable[..., Applied], table_env: str, changed: str | None = None) -> Callable:
    """A projector Lambda's handler: EventBridge `detail` -> ``apply(record, store, table)`` on the read model table
    named by ``table_env``, then (``changed``: a detail type) the change announcement for subscriptions. Clients
    are made once, at import, as a module-level handler would."""
    from chronicle import aws

    logger, metrics = Logger(), Metrics()
    store, table = aws.event_store(), aws.env(table_env)
    events_client, bus = (aws.client("events"), aws.env("EVENT_BUS")) if changed else (None, None)

    @log_metrics(metrics)
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        record = event["detail"]
        on_change = None if changed is None else (
            lambda result: announce(events_client, bus, changed, record["aggregateId"], result.version,
                                    record["eventType"], metrics, logger))
        return project_record(record, lambda r: apply(r, store, table), metrics, logger, on_change=on_change)

    return handler


def projector_handler_for(name: str) -> Callable:
    """The handler of read model ``name``'s projector, as chronicle.projections.registry describes it."""
    from chronicle.projections.registry import READ_MODELS

    model = READ_MODELS[name]
    return projector_handler(model.apply, model.table_env, model.detail_type)
