"""AppendEvents: load the aggregate (snapshot + tail), decide, and append atomically with the command log."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chronicle import aws
from chronicle.commands import decide_and_append
from chronicle.errors import ChronicleError
from chronicle.metrics import log_metrics

logger = Logger()
metrics = Metrics()
store, loader = aws.event_store(), aws.aggregate_loader()


@log_metrics(metrics)
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    # {"command", "attempt": the step's $$.State.RetryCount (absent: unknown, looked for as a retry)}
    event, attempt = event["command"], event.get("attempt")
    logger.append_keys(commandType=event["commandType"], aggregateId=event["aggregateId"],
                       commandId=event["commandId"], correlationId=event["correlationId"])
    try:
        outcome = decide_and_append(event, store, loader, attempt=attempt)
    except ChronicleError as refusal:  # a documented refusal (conflict, rule, ...): counted by code, then raised
        metrics.add_dimension(name="code", value=refusal.code)
        metrics.add_metric(name="CommandsRefused", unit=MetricUnit.Count, value=1)
        logger.info("command refused", code=refusal.code)
        raise
    if outcome.get("replayed"):
        metrics.add_metric(name="CommandReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="EventsAppended", unit=MetricUnit.Count, value=len(outcome.pop("events")))
    logger.info("command stored", version=outcome["response"]["version"], replayed=bool(outcome.get("replayed")))
    return outcome
