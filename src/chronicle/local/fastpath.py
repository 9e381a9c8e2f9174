"""Speed: the emulator's plumbing, not Chronicle, was most of a local command's time (a profile of one client:
moto resolving the backend of every request, the Step Functions interpreter parsing the ASL of every execution and
building a boto3 client for every task, and an HTTP round trip, on a new TCP connection, for every AWS call the
in-process parts make). This module removes each of those, without changing what runs:

- :func:`install_transport`: boto3 calls made *inside this process* to the emulator's endpoint are handed to the
  emulator's WSGI application directly (a botocore ``before-send`` hook, the mechanism moto's own in-process mock
  uses), instead of going through a socket, the HTTP server and a thread. The request and response bytes are the
  same; clients outside the process (aws cli, boto3 elsewhere) still use the real endpoint.
- :func:`install_direct`: for DynamoDB, EventBridge, Step Functions and DynamoDB Streams, even the in-process
  transport was most of a call (signing, user agent, WSGI environ, Flask, moto's request setup and, for DynamoDB,
  its model-driven parsing of the JSON body back into the caller's parameters): those clients run moto's response
  handler directly (:class:`_DirectClient`), keeping validation, the client's events, moto's handler, serializer
  and backend, and botocore's parser and exceptions.
- :func:`install_caches` also parses each JSONPath the interpreter evaluates once (jsonpath_ng builds a new PLY
  parser for every parse).
- :func:`install_caches` also tells :func:`watch` waiters the moment an execution ends (the command API
  waited by polling DescribeExecution, sleeping up to 50 ms between polls).
- :func:`install_caches`: the parsed ASL program per definition (the parse is pure; executions keep their state
  in their own Environment), the method names of each of moto's response classes, one boto3 client per (service, region, endpoint) for the interpreter's tasks
  (clients are thread-safe), and moto's host -> backend lookup per host.

- :func:`install_caches` also lets the interpreter's ``lambda:invoke`` tasks (FunctionName + Payload) call moto's
  Lambda backend directly, as Step Functions calls Lambda in AWS, instead of building, signing, serving and
  parsing an Invoke request for each; the response it hands the state is the one Invoke returns.
- :func:`install_caches` also serializes DynamoDB ``AttributeValue`` structures (every attribute of every item a
  GetItem or Query returns) directly: they are already in DynamoDB JSON, and moto's generic, model-driven
  serializer spent about half of a command's CPU on them, trying ten members and their aliases per value
  (tests/integration/test_local_fastpath.py compares both on every attribute type).

Like the other modules that touch moto internals, each patch checks what it replaces and fails loudly when moto
changed (moto is pinned).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import threading
from typing import Any
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from . import moto_patches

_lock = threading.Lock()
_state: dict[str, Any] = {}


class FastPathError(RuntimeError):
    pass


# ---- in-process transport -------------------------------------------------------------------------------
class _Transport:
    def __init__(self, endpoint: str, app: Callable[..., Any]) -> None:
        self.endpoint = endpoint.rstrip("/")
        port = urlsplit(self.endpoint).port
        # moto's interpreter calls http://localhost:$MOTO_PORT, the handlers AWS_ENDPOINT_URL: both are this app.
        self.endpoints = (self.endpoint, f"http://localhost:{port}")
        self.prefixes = tuple(e + "/" for e in self.endpoints)
        self.app = app
        self.enabled = True

    def __call__(self, request: Any = None, **_kwargs: Any) -> Any:
        if not self.enabled or request is None:
            return None
        url = request.url
        if not (url.startswith(self.prefixes) or url in self.endpoints):
            return None
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders
        from moto.core.botocore_stubber import MockRawResponse
        from werkzeug.test import EnvironBuilder

        parts = urlsplit(url)
        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode()
        headers = [(k, v.decode("latin-1") if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()]
        builder = EnvironBuilder(path=parts.path or "/", query_string=parts.query, method=request.method,
                                 base_url=f"{parts.scheme}://{parts.netloc}", headers=headers, data=body)
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        environ["chronicle.in_process"] = True  # the emulator syncs the journal for outside callers only
        started: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started["status"], started["headers"] = status, response_headers

        result = self.app(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        response_headers = HTTPHeaders()
        for key, value in started["headers"]:
            response_headers[key] = value
        return AWSResponse(url, int(started["status"].split(" ", 1)[0]), response_headers, MockRawResponse(data))


def install_transport(endpoint: str, app: Callable[..., Any]) -> None:
    """Serve this process's boto3 calls to ``endpoint`` with ``app`` (the emulator's WSGI app), no socket."""
    import boto3
    import botocore.handlers

    with _lock:
        transports = _state.setdefault("transports", {})
        if endpoint in transports:
            raise FastPathError(f"an in-process transport to {endpoint} is already installed")
        transport = _Transport(endpoint, app)
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", transport))  # every session created from now
        sessions = [s for s in (boto3.DEFAULT_SESSION,) if s is not None]
        for session in sessions:  # and the default session if it exists already
            session.events.register("before-send", transport, unique_id=f"chronicle-fastpath-{endpoint}")
        transports[endpoint] = (transport, sessions)


def uninstall_transport(endpoint: str) -> None:
    import botocore.handlers

    with _lock:
        entry = _state.get("transports", {}).pop(endpoint, None)
        if entry is None:
            return
        transport, sessions = entry
        transport.enabled = False  # clients created meanwhile keep the hook: it now lets requests go out
        try:
            botocore.handlers.BUILTIN_HANDLERS.remove(("before-send", transport))
        except ValueError:
            pass
        for session in sessions:
            session.events.unregister("before-send", transport, unique_id=f"chronicle-fastpath-{endpoint}")


@contextlib.contextmanager
def paused(dispatcher_app: Any) -> Iterator[None]:
    """moto's own ways inside the block (HTTP between the parts, no caches): for the benchmark's before/after
    ratio in one run. ``dispatcher_app`` is the emulator's, to cache its lookups again after."""
    with _lock:
        transports = [t for t, _ in _state.get("transports", {}).values()]
        holders = _state.get("holders", 0)
    routes = list(_direct.values())
    for transport in transports:
        transport.enabled = False
    for route in routes:
        route.enabled = False
    for _ in range(holders):
        uninstall_caches()
    try:
        yield
    finally:
        for _ in range(holders):
            install_caches(dispatcher_app)
        for transport in transports:
            transport.enabled = True
        for route in routes:
            route.enabled = True


# ---- direct calls ----------------------------------------------------------------------------------------
# botocore service name -> moto's response class for it. Each is a JSON-protocol service: the request is a JSON body
# and an X-Amz-Target header, whatever transport carries it.
_HANDLERS = {
    "dynamodb": ("moto.dynamodb.responses", "DynamoHandler"),
    "dynamodbstreams": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "events": ("moto.events.responses", "EventsHandler"),
    "stepfunctions": ("moto.stepfunctions.responses", "StepFunctionResponse"),
}

# Operations moto has no handler for, answered by the emulator's WSGI app (sync_execution.py): the HTTP path.
_NOT_DIRECT = {"StartSyncExecution"}


class _DirectClient:
    """Base class put in front of botocore's client class of the services in ``_HANDLERS``
    (``creating-client-class.<service>``): a call to the emulator's endpoint from this process runs moto's response
    handler for it in the calling thread.

    What is skipped is transport only: signing, the user agent, the WSGI environ, Flask's routing and moto's
    request setup (for DynamoDB also serializing the parameters to JSON and moto's model-driven parsing of that JSON
    back into the same parameters). What stays is what decides the answer: botocore's parameter validation and
    serializer, moto's handler and backend (with the locks and the journal around it), moto's serializer, botocore's
    parser of the body it writes, and botocore's exception classes. Clients of another endpoint, and every client
    while the fast path is paused, take botocore's path."""

    def _make_api_call(self, operation_name: str, api_params: dict[str, Any]) -> Any:
        route = _direct.get(self.meta.endpoint_url)
        if route is None or not route.enabled or operation_name in _NOT_DIRECT:
            return super()._make_api_call(operation_name, api_params)  # type: ignore[misc]
        return route.call(self, operation_name, api_params)


class _DirectRoute:
    def __init__(self) -> None:
        self.enabled = True
        self._classes: dict[str, type] = {}
        self._parsers: dict[type, Any] = {}

    def handler_class(self, service: str) -> type:
        cls = self._classes.get(service)
        if cls is None:
            import importlib

            module, name = _HANDLERS[service]
            cls = self._classes[service] = _require(importlib.import_module(module), name)
        return cls

    def parser(self, client: Any) -> Any:
        """The client's response parser; for DynamoDB one whose AttributeValues skip the model walk."""
        parser = client._response_parser
        if client.meta.service_model.service_name != "dynamodb":
            return parser
        fast = self._parsers.get(type(parser))
        if fast is None:
            fast = self._parsers[type(parser)] = _attribute_value_parser(parser)
        return fast

    def call(self, client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        import copy

        from botocore.compat import HTTPHeaders
        from botocore.exceptions import ClientError
        from botocore.validate import validate_parameters

        from .account import ACCOUNT_ID

        service = client.meta.service_model
        model = service.operation_model(operation_name)
        # The client's own events, as botocore emits them (provide-client-params, before-parameter-build: they
        # may rewrite the parameters; after-call below): what hooks a client (the cost meter) sees stays the same.
        context = {"client_region": client.meta.region_name, "client_config": client.meta.config,
                   "has_streaming_input": model.has_streaming_input, "auth_type": model.resolved_auth_type}
        api_params = client._emit_api_params(api_params=api_params, operation_model=model, context=context)
        handler = self.handler_class(service.service_name)()
        if handler.automated_parameter_parsing:
            # (DynamoDB) moto would parse the JSON body into these very parameters (blobs as bytes): hand them
            # over, validated as botocore validates them; a copy, as the caller may reuse its dicts.
            if client.meta.config.parameter_validation:
                validate_parameters(api_params, model.input_shape)  # ParamValidationError, as botocore raises it
            handler.params = copy.deepcopy(api_params)
            handler.body = None
        else:  # the JSON body botocore sends (validated on the way, when the client validates)
            handler.body = client._serializer.serialize_to_request(api_params, model)["body"].decode()
        handler.region, handler.partition = client.meta.region_name, "aws"
        handler.current_account = ACCOUNT_ID
        handler.headers = {"X-Amz-Target": f"{service.metadata['targetPrefix']}.{operation_name}",
                           "Content-Type": f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"}
        handler.querystring, handler.uri_match, handler.response_headers = {}, {}, {"server": "amazon.com"}
        handler.method, handler.uri, handler.path = "POST", client.meta.endpoint_url + "/", "/"
        try:
            status, headers, body = handler.call_action()
        except Exception as exc:  # moto failed (its refusals are answers, not exceptions): HTTP would give a 500
            raise ClientError({"Error": {"Code": "InternalServerError",
                                         "Message": f"the emulator failed: {type(exc).__name__}: {exc}"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, operation_name) from exc
        response_headers = HTTPHeaders()
        for key, value in headers.items():
            response_headers[key] = str(value)
        response = {"status_code": int(status), "headers": response_headers,
                    "body": body.encode() if isinstance(body, str) else body,
                    "context": {"operation_name": operation_name}}
        parser = self.parser(client)
        parsed = parser.parse(response, model.output_shape)
        code = parsed.get("Error", {}).get("Code") if response["status_code"] >= 300 else None
        error_shape = service.shape_for_error_code(code) if code else None
        if error_shape is not None:  # CancellationReasons, Item, ...: as botocore's endpoint adds them
            parsed.update(parser.parse(response, error_shape))
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        http = AWSResponse(handler.uri, response["status_code"], response_headers, MockRawResponse(response["body"]))
        client.meta.events.emit(f"after-call.{service.service_id.hyphenize()}.{operation_name}", http_response=http,
                                parsed=parsed, model=model, context=context)
        if response["status_code"] < 300:
            return parsed
        raise client.exceptions.from_code(code)(parsed, operation_name)


def _attribute_value_parser(parser: Any) -> Any:
    """A parser like the client's whose AttributeValues skip the model walk (most of parsing a Query's items), for
    DynamoDB answers of the direct route."""

    class AttributeValueParser(type(parser)):  # type: ignore[misc]
        def _handle_structure(self, shape: Any, value: Any) -> Any:
            if shape.name == "AttributeValue" and isinstance(value, dict):
                return _attribute_value(value, _unb64)
            return super()._handle_structure(shape, value)

    return AttributeValueParser(timestamp_parser=parser._timestamp_parser, blob_parser=parser._blob_parser)


_direct: dict[str, _DirectRoute] = {}


def _direct_base(base_classes: list[type], **_kwargs: Any) -> None:
    if _DirectClient not in base_classes:
        base_classes.insert(0, _DirectClient)


def install_direct(endpoint: str) -> None:
    """Run this process's calls to ``endpoint`` (and the interpreter's localhost alias) of the services in
    ``_HANDLERS`` in moto's handlers directly (:class:`_DirectClient`), for clients created from now on."""
    import boto3
    import botocore.handlers

    with _lock:
        if endpoint in _direct:
            raise FastPathError(f"direct calls to {endpoint} are already installed")
        route = _DirectRoute()
        for service in _HANDLERS:
            _require(route.handler_class(service), "call_action")
        port = urlsplit(endpoint).port
        _direct[endpoint.rstrip("/")] = route
        _direct[f"http://localhost:{port}"] = route
        if "direct" not in _state:
            for service in _HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.append((f"creating-client-class.{service}", _direct_base))
                if boto3.DEFAULT_SESSION is not None:
                    boto3.DEFAULT_SESSION.events.register(f"creating-client-class.{service}", _direct_base,
                                                          unique_id=f"chronicle-fastpath-direct-{service}")
            _state["direct"] = True


def uninstall_direct(endpoint: str) -> None:
    with _lock:
        route = _direct.pop(endpoint.rstrip("/"), None)
        if route is not None:
            route.enabled = False
            _direct.pop(f"http://localhost:{urlsplit(endpoint).port}", None)


# ---- caches -----------------------------------------------------------------------------------------------
_SFN = "moto.stepfunctions.parser."


def _moto(key: str) -> Any:
    """What a cache replaces in moto: registered and checked in chronicle.local.moto_patches."""
    return moto_patches.original(key)[2]


def _require(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None:
        raise FastPathError(f"moto has no {getattr(obj, '__name__', obj)}.{name}: update "
                            "src/chronicle/local/fastpath.py for this moto version")
    return value


class _CachingBoto3:
    """Stands in for the ``boto3`` module inside moto's interpreter: ``client(...)`` once per service/region/endpoint."""

    def __init__(self, boto3: Any) -> None:
        self._boto3 = boto3
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def client(self, service_name: str, region_name: str | None = None, endpoint_url: str | None = None,
               **kwargs: Any) -> Any:
        key = (service_name, region_name, endpoint_url, kwargs.get("aws_access_key_id"))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._boto3.client(service_name=service_name, region_name=region_name,
                                            endpoint_url=endpoint_url, **kwargs)
                self._clients[key] = client
            return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._boto3, name)


def _attribute_value(value: dict[str, Any], blob: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """A DynamoDB AttributeValue with its binary values through ``blob``: by default as moto's result holds it
    (bytes) into the JSON protocol's form (base64 text); with :func:`_unb64`, that form back as botocore's parser
    returns it. Both skip the model walk (ten members and a union check per value)."""
    blob = blob or _b64
    out: dict[str, Any] = {}
    for kind, raw in value.items():
        if raw is None:
            continue
        if kind == "M":
            out[kind] = {k: _attribute_value(v, blob) for k, v in raw.items()}
        elif kind == "L":
            out[kind] = [_attribute_value(v, blob) for v in raw]
        elif kind == "B":
            out[kind] = blob(raw)
        elif kind == "BS":
            out[kind] = [blob(v) for v in raw]
        else:
            out[kind] = raw
    return out


def _b64(raw: str | bytes) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _fast_structure(original: Callable[..., Any]) -> Callable[..., Any]:
    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and getattr(shape, "name", None) == "AttributeValue" and isinstance(value, dict):
            serialized[key] = _attribute_value(value)
            return
        original(self, serialized, value, shape, key)

    _serialize_type_structure.__wrapped__ = original  # type: ignore[attr-defined]
    return _serialize_type_structure


def _direct_lambda_task(original: Callable[..., Any]) -> Callable[..., Any]:
    def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> dict[str, Any]:
        # (state_credentials: the state machine's role; moto's own path ignores it too, IAM is not emulated)
        if set(parameters) - {"FunctionName", "Payload"}:
            return original(parameters=parameters, region=region, state_credentials=state_credentials)
        import json

        from .seam import invoke_function

        function = parameters["FunctionName"]
        if not function.startswith("arn:"):
            from .account import ACCOUNT_ID

            function = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function}"
        body = parameters.get("Payload") or b"{}"
        try:
            text, errored = invoke_function(function, body.decode() if isinstance(body, bytes) else body)
        except Exception:  # noqa: BLE001 - no such function, ...: the Invoke API's own error, through moto
            return original(parameters=parameters, region=region, state_credentials=state_credentials)
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        response = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}
        if errored:
            response["FunctionError"] = "Unhandled"
        return response

    _invoke_lambda_function.__wrapped__ = original  # type: ignore[attr-defined]
    return _invoke_lambda_function


_watchers: dict[str, threading.Event] = {}


def watch(execution_arn: str) -> threading.Event | None:
    """An event set when the execution ends (None when the caches, which report it, are not installed). Call
    before starting it; :func:`unwatch` after."""
    if "caches" not in _state:
        return None
    event = threading.Event()
    _watchers[execution_arn] = event
    return event


def unwatch(execution_arn: str) -> None:
    _watchers.pop(execution_arn, None)


def _cache_backend_lookup(dispatcher_app: Any) -> None:
    moto_patches.original("moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host")
    lookup = _require(dispatcher_app, "get_backend_for_host")
    backends: dict[Any, Any] = {}

    def get_backend_for_host(host: Any) -> Any:
        if host not in backends:
            backends[host] = lookup(host)
        return backends[host]

    dispatcher_app.get_backend_for_host = get_backend_for_host  # this one application instance only


def install_caches(dispatcher_app: Any) -> None:
    """Cache the ASL parse, the interpreter's boto3 clients and moto's host -> backend lookup (per process)."""
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with _lock:
        _cache_backend_lookup(dispatcher_app)
        _state["holders"] = _state.get("holders", 0) + 1  # one per emulator; the last uninstall removes them
        if "caches" in _state:
            return
        original_terminated = _moto(f"{_SFN}backend.execution:BaseExecutionWorkerCommunication.terminated")

        def terminated(self: Any) -> None:
            original_terminated(self)  # the status, output and error are set: DescribeExecution has them
            event = _watchers.get(getattr(self.execution, "exec_arn", None))
            if event is not None:
                event.set()

        BaseExecutionWorkerCommunication.terminated = terminated
        from moto.core.serialize import BaseJSONSerializer

        original_structure = _moto("moto.core.serialize:BaseJSONSerializer._serialize_type_structure")
        BaseJSONSerializer._serialize_type_structure = _fast_structure(original_structure)
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        original_invoke = _moto(f"{_SFN}asl.component.state.exec.state_task.lambda_eval_utils:_invoke_lambda_function")
        lambda_eval_utils._invoke_lambda_function = _direct_lambda_task(original_invoke)
        original_entrypoint = _moto(f"{_SFN}backend.execution_worker:ExecutionWorker._get_evaluation_entrypoint")
        _moto(f"{_SFN}asl.utils.boto_client:boto_client_for")  # _CachingBoto3 serves what it calls
        parsed: dict[str, Any] = {}
        parse_lock = threading.Lock()

        def _get_evaluation_entrypoint(self: Any) -> Any:
            definition = self._evaluation_details.state_machine_details.definition
            program = parsed.get(definition)
            if program is None:
                program = original_entrypoint(self)
                with parse_lock:
                    parsed[definition] = program
            return program

        ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint
        original_boto3 = _moto(f"{_SFN}asl.utils.boto_client:boto3")
        boto_client.boto3 = _CachingBoto3(original_boto3)

        from moto.core import responses as moto_responses

        original_names = _moto("moto.core.responses:method_names_from_class")
        names_of: dict[type, list[str]] = {}

        def method_names_from_class(clazz: Any) -> list[str]:  # inspect.getmembers on every request, otherwise
            if clazz not in names_of:
                names_of[clazz] = original_names(clazz)
            return names_of[clazz]

        moto_responses.method_names_from_class = method_names_from_class
        # JSONPath: jsonpath_ng builds a new PLY lexer and parser for every parse, and the interpreter parses each
        # state's paths ($.Payload, ResultPath, ...) on every execution: parsed once per path (the parsed
        # expressions are only read by find/update).
        from moto.stepfunctions.parser.asl.component.common.path import result_path
        from moto.stepfunctions.parser.asl.utils import json_path

        original_parses = (_moto(f"{_SFN}asl.utils.json_path:parse"), _moto(f"{_SFN}asl.component.common.path.result_path:parse"))
        json_path.parse = functools.lru_cache(maxsize=1024)(original_parses[0])
        result_path.parse = functools.lru_cache(maxsize=1024)(original_parses[1])
        _state["caches"] = (original_entrypoint, original_boto3, original_terminated, original_structure,
                            original_invoke, original_names, original_parses)


def uninstall_caches() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    with _lock:
        _state["holders"] = max(0, _state.get("holders", 0) - 1)
        if "caches" not in _state or _state["holders"]:
            return
        (original_entrypoint, original_boto3, original_terminated, original_structure,
         original_invoke, original_names, original_parses) = _state.pop("caches")
        from moto.stepfunctions.parser.asl.component.common.path import result_path
        from moto.stepfunctions.parser.asl.utils import json_path

        json_path.parse, result_path.parse = original_parses
        from moto.core import responses as moto_responses

        moto_responses.method_names_from_class = original_names
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        lambda_eval_utils._invoke_lambda_function = original_invoke
        BaseExecutionWorkerCommunication.terminated = original_terminated
        from moto.core.serialize import BaseJSONSerializer

        BaseJSONSerializer._serialize_type_structure = original_structure
        ExecutionWorker._get_evaluation_entrypoint = original_entrypoint
        boto_client.boto3 = original_boto3
