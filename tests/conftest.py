"""For every test: Powertools loggers that write to sys.stdout as it is at each write.

A Powertools Logger binds its handler to the sys.stdout of the moment the first Logger of a service is made, once
per process. A function module imported during a test that captures output (capsys) would bind it to that test's
capture, closed when the test ends; every later log line of any handler (the local runtime's pollers and dispatcher
run on) then printed a "--- Logging error --- ValueError: I/O operation on closed file" traceback into the CI log.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger


class _CurrentStdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


# The services the functions log as: template.yaml's POWERTOOLS_SERVICE_NAME (the local runtime sets it), and
# Powertools' default where a test imports a handler without it.
for _service in ("chronicle", "service_undefined"):
    Logger(service=_service, stream=_CurrentStdout())
