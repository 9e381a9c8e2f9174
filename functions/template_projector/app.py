"""TemplateProjector: EventBridge (chronicle.Template) -> the template read model (catalog and details;
chronicle.projections.template), then `chronicle.projections` / `TemplateChanged` for onTemplateChanged."""

from chronicle.projections.lambda_handler import projector_handler_for

handler = projector_handler_for("templates")  # chronicle.projections.registry
