"""Every attribute of moto that the local runtime replaces, in one table, checked at start.

moto (pinned in pyproject) has no API for what the local runtime needs: running Lambda code in-process, atomic
DynamoDB operations, a journal of every write, the speed-ups of chronicle.local.fastpath. So a few modules wrap
moto's own methods. Each target is named here as ``module:Owner.attribute`` with the parameters the wrapper was
written against; the modules that patch take their target from :func:`original` (an unregistered target is an
error), and :func:`check` resolves them all when the runtime starts. A moto upgrade that renames, removes or
re-signs one of them stops ``chronicle local`` at start with one message listing every target that changed, instead
of a wrapper failing (or, worse, silently doing nothing) in the middle of a request.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any


class MotoPatchError(RuntimeError):
    """moto is not what the local runtime's patches were written against."""


@dataclass(frozen=True)
class Target:
    key: str  # "moto.events.models:Rule.send_to_targets"
    params: tuple[str, ...] | None  # its parameters as the wrapper expects them; None: not a function
    by: str  # the chronicle.local module that replaces it

    def resolve(self) -> tuple[Any, str, Any]:
        """(owner, attribute name, current value); raises MotoPatchError when missing or re-signed."""
        module_name, _, path = self.key.partition(":")
        *owners, name = path.split(".")
        try:
            owner: Any = importlib.import_module(module_name)
            for part in owners:
                owner = getattr(owner, part)
            value = getattr(owner, name)
        except (ImportError, AttributeError) as error:
            raise MotoPatchError(f"moto has no {self.key} (replaced by chronicle.local.{self.by}): update it for "
                                 "this moto version") from error
        if self.params is not None:
            actual = tuple(inspect.signature(value).parameters)  # through __wrapped__: the original's
            if actual != self.params:
                raise MotoPatchError(f"{self.key} takes {list(actual)}, chronicle.local.{self.by} expects "
                                     f"{list(self.params)}: update it for this moto version")
        return owner, name, value


_DDB = "moto.dynamodb.models:DynamoDBBackend."
_SFN = "moto.stepfunctions.parser."
_PUT = ("self", "table_name", "item_attrs", "expected", "condition_expression", "expression_attribute_names",
        "expression_attribute_values", "overwrite", "return_values_on_condition_check_failure")
_UPDATE = ("self", "table_name", "key", "update_expression", "expression_attribute_names",
           "expression_attribute_values", "attribute_updates", "expected", "condition_expression",
           "return_values_on_condition_check_failure")
_DELETE = ("self", "table_name", "key", "expression_attribute_names", "expression_attribute_values",
           "condition_expression", "return_values_on_condition_check_failure")
# DynamoDBBackend: every operation serialized by moto_atomic (a *args wrapper: existence is enough); the writes are
# also journaled by durable, which binds their arguments by name (so their parameters are checked).
_DYNAMODB: dict[str, tuple[str, ...] | None] = {
    "put_item": _PUT, "update_item": _UPDATE, "delete_item": _DELETE,
    "transact_write_items": ("self", "transact_items"), "execute_statement": ("self", "statement", "parameters"),
    "execute_transaction": ("self", "statements"), "batch_execute_statement": ("self", "statements"),
    "batch_write_item": None, "get_item": None, "query": None, "scan": None, "batch_get_item": None,
    "transact_get_items": None,
}

TARGETS: dict[str, Target] = {t.key: t for t in (
    *(Target(_DDB + name, params, "moto_atomic, durable" if params else "moto_atomic")
      for name, params in _DYNAMODB.items()),
    # seam: Lambda code runs in-process; EventBridge rules deliver to Lambda targets; delivered-event callbacks
    Target("moto.awslambda.models:LambdaFunction._invoke_lambda", ("self", "event"), "seam"),
    Target("moto.events.models:Rule.send_to_targets", ("self", "original_event", "transform_input"), "seam"),
    Target("moto.events.models:EventsBackend.put_events", ("self", "events"), "seam"),
    # moto_query: Query reads only the items its key condition can match (a sorted index per partition)
    Target("moto.dynamodb.models.table:Table.query", (
        "self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward",
        "projection_expressions", "index_name", "consistent_read", "filter_expression", "hash_key_conditions",
        "range_key_conditions", "filter_kwargs"), "moto_query"),
    Target("moto.dynamodb.models.table:Table.put_item", _PUT[:1] + _PUT[2:], "moto_query"),
    Target("moto.dynamodb.models.table:Table.delete_item", ("self", "hash_key", "range_key"), "moto_query"),
    # durable: every write to a persisted table or bucket is journaled
    Target("moto.s3.models:S3Backend.put_object", (
        "self", "bucket_name", "key_name", "value", "storage", "etag", "multipart", "encryption", "kms_key_id",
        "bucket_key_enabled", "lock_mode", "lock_legal_status", "lock_until", "checksum_value", "request_method",
        "disable_notification"), "durable"),
    Target("moto.s3.models:S3Backend.delete_object", ("self", "bucket_name", "key_name", "version_id", "bypass"),
           "durable"),
    # queue_store: the dead-letter queues' messages are journaled (they survive a restart)
    Target("moto.sqs.models:SQSBackend.send_message", (
        "self", "queue_name", "message_body", "message_attributes", "delay_seconds", "deduplication_id", "group_id",
        "system_attributes", "validate_group_id"), "queue_store"),
    Target("moto.sqs.models:SQSBackend.delete_message", ("self", "queue_name", "receipt_handle"), "queue_store"),
    Target("moto.sqs.models:SQSBackend.purge_queue", ("self", "queue_name"), "queue_store"),
    # fastpath: caches and direct routes (see its docstring)
    Target(_SFN + "backend.execution:BaseExecutionWorkerCommunication.terminated", ("self",), "fastpath"),
    Target("moto.core.serialize:BaseJSONSerializer._serialize_type_structure",
           ("self", "serialized", "value", "shape", "key"), "fastpath"),
    Target(_SFN + "asl.component.state.exec.state_task.lambda_eval_utils:_invoke_lambda_function",
           ("parameters", "region", "state_credentials"), "fastpath"),
    Target(_SFN + "backend.execution_worker:ExecutionWorker._get_evaluation_entrypoint", ("self",), "fastpath"),
    Target(_SFN + "asl.utils.boto_client:boto3", None, "fastpath"),
    Target(_SFN + "asl.utils.boto_client:boto_client_for", ("region", "service", "state_credentials"), "fastpath"),
    Target("moto.core.responses:method_names_from_class", ("clazz",), "fastpath"),
    Target(_SFN + "asl.utils.json_path:parse", ("path", "debug"), "fastpath"),
    Target(_SFN + "asl.component.common.path.result_path:parse", ("string",), "fastpath"),
    Target("moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host", ("self", "host"),
           "fastpath"),
)}


def original(key: str) -> tuple[Any, str, Any]:
    """(owner, attribute name, current value) of a registered target, checked; what a patching module replaces."""
    target = TARGETS.get(key)
    if target is None:
        raise MotoPatchError(f"{key} is not registered in chronicle.local.moto_patches.TARGETS")
    return target.resolve()


def check() -> None:
    """Resolve every target; one MotoPatchError naming each that moto no longer has as expected."""
    problems = []
    for target in TARGETS.values():
        try:
            target.resolve()
        except MotoPatchError as error:
            problems.append(str(error))
    if problems:
        raise MotoPatchError(f"{len(problems)} moto internal(s) changed:\n  " + "\n  ".join(problems))
