"""TemplateUsageProjector: EventBridge (chronicle.Project) -> services per template across projects
(chronicle.projections.usage: idempotent per project stream and sequence, gap-filling)."""

from chronicle.projections.lambda_handler import projector_handler_for

handler = projector_handler_for("template-usage")  # chronicle.projections.registry
