"""ArchiveEvents: the steps of statemachine/ArchiveEvents.asl.json (plan, archiveStream, tally).

The only function allowed to delete from the event table (template.yaml), and only items it has just archived
to S3 and read back (chronicle.eventstore.archive).
"""

import os

from aws_lambda_powertools import Logger

from chronicle import aws
from chronicle.eventstore.archiver import Archiver, step

logger = Logger()
archiver = Archiver(aws.event_store(), aws.archive_reader(), aws.env("SNAPSHOT_TABLE"))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    logger.append_keys(action=event.get("action"), aggregateId=event.get("aggregateId"))
    return step(event, archiver, float(os.environ.get("RETENTION_DAYS", "365")))
