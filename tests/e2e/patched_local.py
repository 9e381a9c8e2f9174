"""`chronicle local` with an injected outage, for tests that need the runtime process to fail in a given way.

    python tests/e2e/patched_local.py [--refuse-bus SOURCE] [--no-sqs] [--publish-crashes] -- local --port ...

--refuse-bus SOURCE  EventBridge refuses every PutEvents entry with that Source (the bus is down for them)
--no-sqs             SQS SendMessage fails (the workflow cannot queue a re-publish either)
--publish-crashes    the PublishEvents handler dies with an error nothing in the workflow catches
--disk-full-when F   once file F exists, every journal write fails with ENOSPC (the disk is full)
--decide-crashes     DecideAndAppend raises KeyError (a bug in a decider): the command answers 500
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refuse-bus", action="append", default=[])
    parser.add_argument("--no-sqs", action="store_true")
    parser.add_argument("--publish-crashes", action="store_true")
    parser.add_argument("--disk-full-when", default=None)
    parser.add_argument("--decide-crashes", action="store_true")
    args, rest = parser.parse_known_args()
    rest = [a for a in rest if a != "--"]

    if args.refuse_bus:
        from moto.events.models import EventsBackend

        original = EventsBackend.put_events

        def put_events(self, events):
            if any(e.get("Source") in args.refuse_bus for e in events):
                return [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected outage"} for _ in events]
            return original(self, events)

        EventsBackend.put_events = put_events
    if args.no_sqs:
        import functools

        from moto.sqs.models import SQSBackend

        @functools.wraps(SQSBackend.send_message)  # its signature, as chronicle.local.moto_patches checks at start
        def send_message(*_args, **_kwargs):
            raise RuntimeError("injected SQS outage")

        SQSBackend.send_message = send_message
    if args.publish_crashes:
        import chronicle.commands

        def publish(*_args, **_kwargs):
            raise SystemError("injected crash of the publish step")  # not an error the ASL names

        chronicle.commands.publish = publish

    if args.disk_full_when:
        import errno
        import os

        from chronicle.local.journal import Journal

        write_all = Journal._write_all

        def disk_full(self, data):
            if os.path.exists(args.disk_full_when):
                raise OSError(errno.ENOSPC, "No space left on device")
            return write_all(self, data)

        Journal._write_all = disk_full
    if args.decide_crashes:
        import chronicle.commands

        def decide_and_append(*_args, **_kwargs):
            raise KeyError("ownerId")  # what a decider reading a missing field does

        chronicle.commands.decide_and_append = decide_and_append

    from chronicle.cli import main as chronicle_main

    return chronicle_main(rest)


if __name__ == "__main__":
    sys.exit(main())
