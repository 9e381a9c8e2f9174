"""`chronicle invoke FUNCTION [-e EVENT]`: what `sam local invoke` does, without Docker.

The function's real handler runs in this process on the event, against a local stack:

- by default a fresh, ephemeral one started here (nothing is saved: a sample never lands in your `.chronicle/`);
- with ``--running``, the `chronicle local` already serving ``--url`` (its AWS endpoint is read from ``/health``):
  what the handler writes stays in that stack's state, because you asked for it.

As sam does, the handler's logs go to stderr between ``START`` / ``END`` / ``REPORT`` lines and the result (or the
Lambda error payload) to stdout, so ``chronicle invoke ... | jq`` works. Exit code 1 when the function failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .emulator import REGION, configure_environment
from .invoke_options import OptionError, debug_call, env_vars, error_lines, parameter_overrides, report_line
from .runtime import find_root
from .samples import Sample, SampleError, sample_for, set_up
from .seam import HandlerRegistry, HandlerSpec, LambdaContext, error_payload
from .stack import STACK_NAME, load_template


class InvokeError(Exception):
    """A usage problem (unknown function, unreadable event, no running stack): one line for the user."""


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # the physical name the local stack gives it
    spec: HandlerSpec


def find_function(root: Path, wanted: str) -> Function:
    """A template function by logical id (ValidateCommandFunction, as sam takes it), by the local physical name
    (chronicle-ValidateCommandFunction) or by its code folder (validate_command, as in events/<folder>/)."""
    resources = load_template(root / "template.yaml").get("Resources") or {}
    functions = {lid: r.get("Properties") or {} for lid, r in resources.items()
                 if r.get("Type") == "AWS::Serverless::Function"}
    for logical_id, props in functions.items():
        code_uri = str(props.get("CodeUri", ""))
        if wanted in (logical_id, f"{STACK_NAME}-{logical_id}", Path(code_uri).name):
            handler = props.get("Handler")
            if not isinstance(handler, str):
                raise InvokeError(f"{logical_id} has no Handler in template.yaml")
            spec = HandlerSpec((root / code_uri).resolve(), handler,
                               int(props.get("Timeout", 25)), int(props.get("MemorySize", 512)))
            return Function(logical_id, f"{STACK_NAME}-{logical_id}", spec)
    names = ", ".join(sorted(functions))
    raise InvokeError(f"no function {wanted!r} in template.yaml; one of: {names}")


def read_event(path: str | None) -> Any:
    if path is None:
        return {}
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise InvokeError(f"cannot read the event {path}: {error}") from None


def running_endpoint(url: str) -> str:
    """The AWS endpoint of the `chronicle local` serving ``url``."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=5) as response:
            endpoint = json.loads(response.read()).get("awsEndpoint")
    except (OSError, ValueError) as error:
        raise InvokeError(f"no chronicle local answers at {url} ({error}); start it (make local) or leave out "
                          "--running to use a fresh ephemeral stack") from None
    if not endpoint:
        raise InvokeError(f"{url}/health does not name an AWS endpoint")
    return str(endpoint)


def _function_environment(function: Function) -> dict[str, str]:
    """The function's environment, as the running stack created it (template Globals + its own)."""
    import boto3

    client = boto3.client("lambda", region_name=REGION)
    try:
        config = client.get_function_configuration(FunctionName=function.name)
    except Exception as error:  # noqa: BLE001 - any failure here is "that stack does not have it"
        raise InvokeError(f"the running stack has no function {function.name}: {error}") from None
    return dict((config.get("Environment") or {}).get("Variables") or {})


@dataclass
class Options:
    """What `sam local invoke` users type besides the function and the event (chronicle.local.invoke_options)."""
    env_vars: str | None = None  # --env-vars FILE
    parameter_overrides: str | None = None  # --parameter-overrides 'Key=Value ...'
    debug_port: int | None = None  # --debug-port N


def _load_timed(function: Function) -> tuple[Any, float | None]:
    """The handler and, on a cold start (its module imported now), the Init Duration in ms."""
    started = time.monotonic()
    handler = HandlerRegistry._load(function.name, function.spec)
    return handler, (time.monotonic() - started) * 1000


def invoke(function: Function, event: Any, out: Any = None, err: Any = None,
           debug_port: int | None = None) -> tuple[Any, bool]:
    """Run the handler once, in this process, with the environment already set: (result, errored)."""
    out, err = out or sys.stdout, err or sys.stderr
    request_id = str(uuid.uuid4())
    context = LambdaContext(function_name=function.name, aws_request_id=request_id,
                            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function.name}",
                            memory_limit_in_mb=function.spec.memory_size, timeout_s=function.spec.timeout)
    errored, init_ms, started = False, None, time.monotonic()
    # The handler's prints and logs go to stderr (Powertools binds its stream when the module is imported here).
    with contextlib.redirect_stdout(err):
        try:
            handler, init_ms = _load_timed(function)
            print(f"START RequestId: {request_id} Version: $LATEST", file=err, flush=True)
            started = time.monotonic()
            result: Any = (debug_call(debug_port, handler, event, context, err=err) if debug_port
                           else handler(event, context))
        except Exception as exc:  # noqa: BLE001 - a function error is the result, as Lambda reports it
            if init_ms is None:  # the module did not load: Lambda's init error, then the invoke
                print(f"START RequestId: {request_id} Version: $LATEST", file=err, flush=True)
            print(error_lines(exc), file=err, flush=True)
            result, errored = error_payload(exc, request_id), True
    elapsed = (time.monotonic() - started) * 1000
    print(f"END RequestId: {request_id}", file=err)
    print(report_line(request_id, elapsed, init_ms, function.spec.memory_size), file=err, flush=True)
    print(json.dumps(result, default=str), file=out, flush=True)
    return result, errored


def _exit_code(result: Any, errored: bool, sample: Sample) -> int:
    """1 when the function failed (as Lambda reports it), also for a sample meant to fail (events/samples.yaml
    `fails`), which says so."""
    if sample.fails and errored and isinstance(result, dict) and result.get("errorType") == sample.fails:
        print(f"(this sample is meant to fail with {sample.fails}: it did)", file=sys.stderr)
    return 1 if errored else 0


def run(function_name: str, event_path: str | None, running: bool, url: str, root: str | None = None,
        options: Options | None = None) -> int:
    project, options = find_root(root), options or Options()
    try:
        function = find_function(project, function_name)
        event = read_event(event_path)
        sample = sample_for(project, event_path)
        names = (function.logical_id, function.name, function.spec.code_dir.name)
        env = env_vars(options.env_vars, names)
        parameters = parameter_overrides(options.parameter_overrides)
        if running:
            if parameters:
                raise InvokeError("--parameter-overrides sets the parameters of the fresh stack; the running one "
                                  "keeps those it started with (leave out --running, or restart it)")
            endpoint = running_endpoint(url)
            configure_environment(endpoint, int(endpoint.rsplit(":", 1)[1]))
            os.environ.update({**_function_environment(function), **env})
            return _exit_code(*invoke(function, event, debug_port=options.debug_port), Sample(fails=sample.fails))
    except (InvokeError, OptionError, SampleError) as error:
        print(f"chronicle invoke: {error}", file=sys.stderr)
        return 2
    return _run_fresh(project, function, event, sample, env, parameters, options.debug_port)


def _run_fresh(project: Path, function: Function, event: Any, sample: Sample, env: dict[str, str],
               parameters: dict[str, str], debug_port: int | None) -> int:
    from .runtime import LocalRuntime

    print("Starting a fresh ephemeral local stack (nothing is saved; --running uses your running one)...",
          file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):
        runtime = LocalRuntime(root=project, port=0, aws_port=0, ephemeral=True, parameters=parameters).start()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            set_up(runtime.url, sample, sys.stderr)
            runtime.dispatcher.wait_idle(runtime.settle_timeout)
        os.environ.update(env)
        result, errored = invoke(function, event, debug_port=debug_port)
        with contextlib.redirect_stdout(sys.stderr):  # what the function's events set off, logged before we stop
            runtime.dispatcher.wait_idle(runtime.settle_timeout)
    except SampleError as error:
        print(f"chronicle invoke: {error}", file=sys.stderr)
        return 2
    finally:
        with contextlib.redirect_stdout(sys.stderr):
            runtime.stop()
    return _exit_code(result, errored, sample)
