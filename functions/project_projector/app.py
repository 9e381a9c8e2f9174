"""ProjectProjector: EventBridge -> the project read model (idempotent, gap-filling; see chronicle.projections.project).

A raised exception makes EventBridge retry with backoff (RetryPolicy in template.yaml) and finally send the event
to the dead-letter queue. After it wrote the read model, the projector announces the change on the bus
(`chronicle.projections` / `ProjectChanged`), which the subscription rule turns into the AppSync mutation: so a
subscriber that re-queries on a notification reads the new version. The announcement is best effort (logged and
counted when it fails): the read model, not the notification, is the record (chronicle.projections.lambda_handler).
"""

from chronicle.projections.lambda_handler import projector_handler_for

handler = projector_handler_for("projects")  # chronicle.projections.registry
