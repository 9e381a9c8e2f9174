"""StoreTemplateBody: put an UploadTemplate's body in S3 (templates/<sha256>) and pass the command on without it.

The only function allowed to write the template bucket (template.yaml). Over 64 KiB is PayloadTooLarge and a
body that is not text is ValidationError, raised before anything is stored.
"""

from aws_lambda_powertools import Logger

from chronicle import aws
from chronicle.template_bodies import store_body

logger = Logger()
bodies = aws.template_bodies()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    logger.append_keys(commandType=event["commandType"], aggregateId=event["aggregateId"],
                       commandId=event["commandId"], correlationId=event["correlationId"])
    command = store_body(event, bodies)
    logger.info("template body stored", bodyKey=command["data"]["bodyKey"], bodySize=command["data"]["bodySize"])
    return command
