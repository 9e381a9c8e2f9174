"""UserProjector: EventBridge (chronicle.User) -> the user read model (chronicle.projections.user), then
announces `UserChanged` for onUserChanged subscribers (chronicle.projections.runner)."""

from aws_lambda_powertools import Logger, Metrics

from chronicle import aws
from chronicle.projections import user
from chronicle.projections.runner import Projector

logger = Logger()
metrics = Metrics()
store = aws.event_store()
table = aws.env("USER_TABLE")
projector = Projector(lambda record: user.apply(record, store, table), "UserChanged", aws.client("events"),
                      aws.env("EVENT_BUS"), logger, metrics)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return projector.handle(event)
