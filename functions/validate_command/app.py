"""ValidateCommand: parse the raw request body and check it against schemas/commands/<CommandType>.json."""

from aws_lambda_powertools import Logger

from chronicle.commands import validate_request
from chronicle.schemas import registry

logger = Logger()
registry()  # load and compile the schemas at cold start


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    command = validate_request(event)
    logger.append_keys(commandType=command["commandType"], aggregateId=command["aggregateId"],
                       commandId=command["commandId"], correlationId=command["correlationId"])
    logger.info("command accepted")
    return command
