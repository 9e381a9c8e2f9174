"""UserProjector: EventBridge (chronicle.User) -> the user read model (profiles and permission matrix, personal
fields kept sealed; chronicle.projections.user), then `chronicle.projections` / `UserChanged` for onUserChanged."""

from chronicle.projections import user
from chronicle.projections.lambda_handler import projector_handler

handler = projector_handler(user.apply, "USER_TABLE", "UserChanged")
