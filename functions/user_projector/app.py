"""UserProjector: EventBridge (chronicle.User) -> the user read model (profiles and permission matrix, personal
fields kept sealed; chronicle.projections.user), then `chronicle.projections` / `UserChanged` for onUserChanged."""

from chronicle.projections.lambda_handler import projector_handler_for

handler = projector_handler_for("users")  # chronicle.projections.registry
