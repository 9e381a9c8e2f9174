"""What every projector Lambda does around its read model's apply(): metrics, lag, and the change announcement.

After it wrote the read model, a projector announces the change on the bus (source `chronicle.projections`,
detail-type `<Type>Changed`, detail {id, version, eventType}); an EventBridge rule turns it into the AppSync
mutation that feeds the subscription. Best effort: a failed announcement is logged and counted, never retried
(the read model is the record, the notification a hint). A raised apply() error makes EventBridge / Lambda retry
with backoff, then dead-letter (template.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, UTC
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit


class Projector:
    def __init__(self, apply: Callable[[dict[str, Any]], Any], change_type: str, events_client: Any, bus: str,
                 logger: Any, metrics: Any):
        self.apply, self.change_type = apply, change_type
        self.events_client, self.bus, self.logger, self.metrics = events_client, bus, logger, metrics

    def announce(self, stream_id: str, version: int, event_type: str) -> None:
        try:
            result = self.events_client.put_events(Entries=[{
                "EventBusName": self.bus, "Source": "chronicle.projections", "DetailType": self.change_type,
                "Detail": json.dumps({"id": stream_id, "version": version, "eventType": event_type})}])
            if result.get("FailedEntryCount"):
                raise RuntimeError(result["Entries"])
        except Exception:  # noqa: BLE001 - subscriptions are best effort; the read model is written
            self.metrics.add_metric(name="ChangeNotificationsFailed", unit=MetricUnit.Count, value=1)
            self.logger.exception("could not announce the read model change")

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        record = event["detail"]
        self.logger.append_keys(aggregateId=record["aggregateId"], eventSequence=record["eventSequence"],
                                eventType=record["eventType"])
        try:
            result = self.apply(record)
        except Exception:
            self.metrics.add_metric(name="ProjectionErrors", unit=MetricUnit.Count, value=1)
            self.logger.exception("projection failed")
            raise
        stored_at = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        lag_ms = (datetime.now(UTC) - stored_at).total_seconds() * 1000
        self.metrics.add_metric(name="ProjectionLag", unit=MetricUnit.Milliseconds, value=lag_ms)
        if result.skipped:
            self.metrics.add_metric(name="DuplicateEventsSkipped", unit=MetricUnit.Count, value=1)
        else:
            self.announce(record["aggregateId"], result.version, record["eventType"])
        self.logger.info("projected", applied=result.applied, skipped=result.skipped, version=result.version)
        return {"applied": result.applied, "skipped": result.skipped, "version": result.version}
