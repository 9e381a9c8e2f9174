"""What the console's pages show besides executions: a stream, the read models, the dead-letter queues (with
redrive) and the schema registry. Everything is read through the emulated AWS services, as the handlers do.

Who reads what (console_api.py): a stream as an actor is the GraphQL ``history`` that actor would get (docs/reference/authorization.md;
a stranger gets nothing for a private project); the local operator and ``--admin`` actors also see the
items as stored. Dead-letter queues and their redrive are for the operator and admins only.
"""

from __future__ import annotations

import json
from typing import Any

MAX_EVENTS = 500  # events one stream page shows (the newest are what a debugging user wants: paged from the end)
MAX_MESSAGES = 100  # messages one dead-letter queue shows


class ConsoleData:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    # -- stream ---------------------------------------------------------------------------------------
    def stream(self, aggregate_id: str, actor: str | None, sees_all: bool) -> dict[str, Any]:
        from chronicle import aws
        from chronicle.eventstore.items import from_item
        from chronicle.eventstore.verify import verify_stream
        from chronicle.queries import acting_as, history

        store = aws.event_store()
        with acting_as(actor):
            read = history(aggregate_id)
        out: dict[str, Any] = {"aggregateId": aggregate_id, "readAs": actor, "read": read[-MAX_EVENTS:],
                               "stored": None, "chain": None, "archived": []}
        if not sees_all:
            out["readable"] = bool(read)
            return out
        items = list(store.iter_items(aggregate_id, 1, None))
        out["readable"] = bool(items)
        out["stored"] = [{**from_item(item), "storedItem": item} for item in items[-MAX_EVENTS:]]
        if not read:  # the operator sees every stream as read, whoever may read it
            out["read"] = [store.schemas.upcast(from_item(item)) for item in items[-MAX_EVENTS:]]
        out["chain"] = verify_stream(store, aggregate_id).as_dict() if items else None
        out["archived"] = store.archive.ranges(aggregate_id) if store.archive is not None and items else []
        return out

    # -- read models ----------------------------------------------------------------------------------
    def read_models(self) -> dict[str, Any]:
        rt = self.rt
        dynamodb = rt.stack_session.client("dynamodb")
        tables = []
        for logical, name in sorted(rt.stack.tables.items()):
            count = dynamodb.describe_table(TableName=name)["Table"].get("ItemCount")
            if count is None or count == 0:
                count = dynamodb.scan(TableName=name, Select="COUNT").get("Count", 0)
            tables.append({"logicalId": logical, "name": name, "items": count,
                           "readModel": "ReadModel" in logical or "Projection" in logical})
        lagging = rt.durable.lagging_streams() if rt.durable is not None else []
        dispatcher = rt.dispatcher
        return {"tables": tables,
                "lag": {"streamsBehind": len(lagging), "eventsBehind": sum(s["toSequence"] - s["fromSequence"] + 1
                                                                           for s in lagging),
                        "behind": lagging[:50],
                        "deliveriesPending": dispatcher.pending if dispatcher is not None else 0,
                        "delivered": dispatcher.delivered if dispatcher is not None else 0,
                        "failed": dispatcher.failed if dispatcher is not None else 0}}

    # -- dead-letter queues ---------------------------------------------------------------------------
    def _queues(self) -> dict[str, str]:
        """logical id -> queue URL, for every queue of the template."""
        sqs = self.rt.stack_session.client("sqs")
        out = {}
        for resource in self.rt.stack.of_type("AWS::SQS::Queue"):
            name = str(resource.physical_id).rpartition("/")[2]
            out[resource.logical_id] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return out

    def _redrive_target(self, dlq_url: str, queues: dict[str, str]) -> str | None:
        """The queue whose RedrivePolicy sends to this one (messages go back there), else None (the bus)."""
        sqs = self.rt.stack_session.client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in queues.values():
            policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get(
                "Attributes", {}).get("RedrivePolicy")
            if policy and json.loads(policy).get("deadLetterTargetArn") == arn:
                return url
        return None

    def dead_letters(self) -> list[dict[str, Any]]:
        from . import queue_store

        queues = self._queues()
        out = []
        for logical, url in sorted(queues.items()):
            if "DeadLetter" not in logical:
                continue
            target = self._redrive_target(url, queues)
            messages = queue_store.peek(url.rpartition("/")[2])
            out.append({"logicalId": logical, "url": url, "messages": messages[:MAX_MESSAGES], "count": len(messages),
                        "redrivesTo": target.rpartition("/")[2] if target else "the event bus (PutEvents)"})
        return out

    def redrive(self, logical_id: str) -> dict[str, Any]:
        """Move every message of a dead-letter queue back: to its source queue, or onto the event bus."""
        queues = self._queues()
        url = queues.get(logical_id)
        if url is None or "DeadLetter" not in logical_id:
            raise LookupError(f"no dead-letter queue {logical_id!r}")
        sqs = self.rt.stack_session.client("sqs")
        target = self._redrive_target(url, queues)
        moved = failed = 0
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
            if not batch:
                break
            for message in batch:
                if self._send_back(message["Body"], target):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    moved += 1
                else:
                    failed += 1
            if failed:
                break
        return {"queue": logical_id, "moved": moved, "failed": failed,
                "to": target.rpartition("/")[2] if target else "event bus"}

    def _send_back(self, body: str, target: str | None) -> bool:
        session = self.rt.stack_session
        if target is not None:
            session.client("sqs").send_message(QueueUrl=target, MessageBody=body)
            return True
        try:
            event = json.loads(body)
        except ValueError:
            return False
        if not isinstance(event, dict) or "detail-type" not in event:
            return False
        entry = {"Source": event.get("source"), "DetailType": event["detail-type"],
                 "Detail": json.dumps(event.get("detail")), "EventBusName": self.rt.stack.environment.get("EVENT_BUS")}
        result = session.client("events").put_events(Entries=[{k: v for k, v in entry.items() if v}])
        return not result.get("FailedEntryCount")

    # -- schema registry ------------------------------------------------------------------------------
    @staticmethod
    def schemas() -> dict[str, Any]:
        from chronicle.schemas.registry import registry
        from chronicle.schemas.upcasters import UPCASTERS

        reg = registry()
        commands = {t: json.loads(reg.command_schema_path(t).read_text()) for t in sorted(reg.command_types)}
        events = {t: {str(v): json.loads(reg.event_schema_path(t, v).read_text()) for v in versions}
                  for t, versions in sorted(reg.event_versions.items())}
        upcasters = [{"eventType": t, "from": n, "to": n + 1, "function": f.__name__, "doc": (f.__doc__ or "").strip()}
                     for (t, n), f in sorted(UPCASTERS.items())]
        return {"commands": commands, "events": events, "upcasters": upcasters}
