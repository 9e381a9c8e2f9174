"""LoadFacts: what a command's pure decider needs from outside its stream (chronicle.facts), added as `facts`.

Input: a validated command, or {"followUp": <CommandType>, "after": <the command with its `outcome`>} when a
workflow runs a second command after the first (UploadTemplate / ChangeTemplateParameters -> ValidateTemplate).
"""

from aws_lambda_powertools import Logger

from chronicle import aws
from chronicle.commands import follow_up
from chronicle.facts import load_facts

logger = Logger()
loader = aws.aggregate_loader()
bodies = aws.template_bodies()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    if "followUp" in event:
        event = follow_up(event["after"], event["after"]["outcome"], event["followUp"])
    logger.append_keys(commandType=event["commandType"], aggregateId=event["aggregateId"],
                       commandId=event["commandId"], correlationId=event["correlationId"])
    command = load_facts(event, loader, bodies)
    logger.info("facts loaded", checks=command["facts"].get("checks"), atVersion=command["facts"].get("atVersion"))
    return command
