"""TemplateUsageProjector: EventBridge (chronicle.Project) -> services per template across projects
(chronicle.projections.usage: idempotent per project stream and sequence, gap-filling)."""

from chronicle.projections import usage
from chronicle.projections.lambda_handler import projector_handler

handler = projector_handler(usage.apply, "USAGE_TABLE")
