"""VerifyChain: re-compute hash chains, through archived ranges ({"aggregateId": ID} or {"all": true}).

The same code as `chronicle verify` (chronicle.eventstore.verify); read-only rights.
"""

from aws_lambda_powertools import Logger

from chronicle.eventstore.verify import handler as verify

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = verify(event, context)
    if not result["ok"]:
        logger.error("hash chain verification failed", failed=result["failed"])
    return result
