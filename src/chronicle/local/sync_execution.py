"""``StartSyncExecution`` on the emulated AWS endpoint (moto has only StartExecution).

API Gateway calls it in AWS (api/openapi.yaml); locally anyone may call it as with the real service, with boto3 or
the AWS CLI. botocore sends it to the host ``sync-<endpoint host>`` (the operation's host prefix), a name that does
not resolve for 127.0.0.1: clients turn the prefix off with ``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` (the
environment, read by boto3 and the AWS CLI alike) or ``Config(inject_host_prefix=False)``, as the banner prints.
The emulator accepts any Host header, so a client whose prefixed name does resolve reaches it too.

The execution is started with moto's StartExecution and awaited (at most ``TIMEOUT`` seconds, an Express
workflow's limit); the answer has StartSyncExecution's shape (status, output or error and cause, dates as epoch
seconds).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

TARGET = "AWSStepFunctions.StartSyncExecution"
TIMEOUT = 300.0


def is_sync_start(environ: dict[str, Any]) -> bool:
    return environ.get("HTTP_X_AMZ_TARGET") == TARGET


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if hasattr(value, "timestamp") else value


def run(request: dict[str, Any], endpoint: str) -> tuple[int, dict[str, Any]]:
    from botocore.exceptions import ClientError

    sfn = _client(endpoint)
    kwargs = {k: request[k] for k in ("stateMachineArn", "name", "input", "traceHeader") if request.get(k) is not None}
    kwargs.setdefault("name", str(uuid.uuid4()))  # the service names it when the caller does not (moto would not)
    try:
        started = sfn.start_execution(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ValidationException")
        return 400, {"__type": code, "message": error.response.get("Error", {}).get("Message", str(error))}
    deadline = time.monotonic() + TIMEOUT
    delay = 0.005
    while True:
        desc = sfn.describe_execution(executionArn=started["executionArn"])
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    answer = {"executionArn": desc["executionArn"], "stateMachineArn": desc["stateMachineArn"],
              "name": desc.get("name") or desc["executionArn"].rpartition(":")[2], "startDate": _epoch(desc.get("startDate")),
              "stopDate": _epoch(desc.get("stopDate") or desc.get("startDate")),
              "status": desc["status"] if desc["status"] != "RUNNING" else "TIMED_OUT",
              "input": desc.get("input"), "inputDetails": {"included": True},
              "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}}
    for key in ("output", "error", "cause"):
        if desc.get(key) is not None:
            answer[key] = desc[key]
    if "output" in answer:
        answer["outputDetails"] = {"included": True}
    return 200, answer


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any], endpoint: str) -> Iterable[bytes]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if not isinstance(request, dict):
            raise ValueError("not an object")
    except ValueError as error:
        status, body = 400, {"__type": "SerializationException", "message": str(error)}
    else:
        status, body = run(request, endpoint)
    data = json.dumps(body).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}",
                   [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data))),
                    ("x-amzn-RequestId", "local")])
    return [data]
