"""TemplateProjector: EventBridge (chronicle.Template) -> the template read model (catalog and details;
chronicle.projections.template), then `chronicle.projections` / `TemplateChanged` for onTemplateChanged."""

from chronicle.projections import template
from chronicle.projections.lambda_handler import projector_handler

handler = projector_handler(template.apply, "TEMPLATE_TABLE", "TemplateChanged")
