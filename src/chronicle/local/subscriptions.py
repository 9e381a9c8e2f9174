"""GraphQL subscriptions locally: AppSync's model, served over WebSocket with the graphql-transport-ws protocol.

In AWS (template.yaml) the projector announces each read-model change on the bus (``chronicle.projections`` /
``ProjectChanged``), an EventBridge rule sends it to AppSync as the mutation ``publishProjectChanged``
(InputTransformer -> GraphQL variables), and AppSync pushes the mutation's result to every ``onProjectChanged``
subscriber whose arguments match (``@aws_subscribe(mutations: [...])``). Locally the same rule (collected by the
stack builder, see ``Stack.graphql_targets``) runs the same mutation in ``LocalGraphQL`` on the event dispatcher's
thread, and :class:`SubscriptionHub` pushes the result.

AppSync filtering: a subscription argument that is given must equal the same-named field of the mutation's result.
Rights (``Rights``, given by ``LocalGraphQL``: ``chronicle.subscription_rights``): a subscription is refused unless
its actor may make it, and each change goes only to the subscribers whose actor may see the stream it names.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType, execute,
                     parse, validate)
from graphql.execution.values import get_argument_values, get_variable_values

from chronicle.errors import ChronicleError

from .graphql_document import root_fields

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Rights:
    """``authorize(actor, field, arguments)`` raises a ChronicleError to refuse a subscription;
    ``may_receive(actor, field, stream_id)`` says whether one change goes to one subscriber."""

    authorize: Callable[[str | None, str, dict[str, Any]], None]
    may_receive: Callable[[str | None, str, Any], bool]


ANYONE = Rights(lambda _actor, _field, _arguments: None, lambda _actor, _field, _stream: True)


# ---- EventBridge InputTransformer -----------------------------------------------------------------------------
def _json_path(event: Any, path: str) -> Any:
    value = event
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.removeprefix("$")):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def transform_input(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """EventBridge's InputTransformer: a placeholder outside quotes takes the value as JSON (a string is quoted);
    inside a JSON string it takes the value's text."""
    values = {name: _json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    template = transformer["InputTemplate"]
    out, in_string, i = [], False, 0
    while i < len(template):
        char = template[i]
        match = re.match(r"<([\w.-]+)>", template[i:]) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                text = value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            i += match.end()
            continue
        if char == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        out.append(char)
        i += 1
    text = "".join(out)
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---- subscribers ----------------------------------------------------------------------------------------------
@dataclass
class Subscription:
    document: DocumentNode
    variables: dict[str, Any]
    field_name: str
    mutations: set[str]
    arguments: dict[str, Any]
    send: Send
    actor: str | None = None
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


class SubscriptionHub:
    """Who listens to which mutation; ``publish`` pushes a mutation's result to the matching subscribers."""

    def __init__(self, schema: GraphQLSchema, rights: Rights = ANYONE) -> None:
        self.schema = schema
        self.rights = rights
        self._subscriptions: dict[str, Subscription] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, document: DocumentNode, operation: OperationDefinitionNode, variables: dict[str, Any],
                  send: Send, actor: str | None = None) -> list[Subscription]:
        """Register every root field of a validated subscription operation (through fragments too) for ``actor``;
        returns the registrations. DocumentErrors when the variables do not fit or the actor may not subscribe."""
        root = self.schema.subscription_type
        assert root is not None
        coerced = get_variable_values(self.schema, operation.variable_definitions or [], variables)
        if isinstance(coerced, list):
            raise DocumentErrors(coerced)
        registered = []
        for selection in root_fields(document, operation):
            name = selection.name.value
            definition = root.fields[name]
            arguments = get_argument_values(definition, selection, coerced)
            try:
                self.rights.authorize(actor, name, arguments)
            except ChronicleError as refusal:
                raise DocumentErrors([GraphQLError(refusal.message, selection,
                                                   extensions={"errorType": refusal.code})]) from None
            registered.append(Subscription(document, variables, name, _subscribed_mutations(definition),
                                           arguments, send, actor))
        with self._lock:
            for subscription in registered:
                self._subscriptions[subscription.key] = subscription
        return registered

    def unsubscribe(self, subscriptions: list[Subscription]) -> None:
        with self._lock:
            for subscription in subscriptions:
                self._subscriptions.pop(subscription.key, None)

    def publish(self, mutation: str, result: Any) -> int:
        """Push ``result`` (the value of mutation field ``mutation``) to its subscribers; returns how many."""
        if not isinstance(result, dict):
            return 0
        with self._lock:
            targets = [s for s in self._subscriptions.values() if mutation in s.mutations
                       and all(v is None or result.get(k) == v for k, v in s.arguments.items())]
        targets = [s for s in targets if self._may_receive(s, result.get("id"))]
        for subscription in targets:
            payload = execute(self.schema, subscription.document, root_value={subscription.field_name: result},
                              variable_values=subscription.variables)
            message: dict[str, Any] = {"data": payload.data}  # type: ignore[union-attr]
            if payload.errors:  # type: ignore[union-attr]
                message["errors"] = [e.formatted for e in payload.errors]  # type: ignore[union-attr]
            try:
                subscription.send(message)
            except Exception:  # noqa: BLE001 - a gone subscriber must not stop the others
                log.debug("subscriber %s gone", subscription.key, exc_info=True)
        return len(targets)


    def _may_receive(self, subscription: Subscription, stream_id: Any) -> bool:
        try:
            return self.rights.may_receive(subscription.actor, subscription.field_name, stream_id)
        except Exception:  # noqa: BLE001 - a check that fails keeps the change from this subscriber, not others
            log.exception("could not check whether subscriber %s may see %r", subscription.key, stream_id)
            return False


def _subscribed_mutations(definition: Any) -> set[str]:
    node = definition.ast_node
    for directive in getattr(node, "directives", None) or []:
        if directive.name.value == "aws_subscribe":
            for argument in directive.arguments:
                if argument.name.value == "mutations":
                    return {v.value for v in argument.value.values}
    return set()


def prepare(schema: GraphQLSchema, query: Any, operation_name: str | None = None
            ) -> tuple[DocumentNode, OperationDefinitionNode]:
    """Parse and validate; raise GraphQLError (a list in ``.errors``) when the document is not executable."""
    if not isinstance(query, str):
        raise DocumentErrors([GraphQLError("'query' must be a string")])
    try:
        document = parse(query)
    except GraphQLError as error:
        raise DocumentErrors([error]) from None
    errors = validate(schema, document)
    if errors:
        raise DocumentErrors(list(errors))
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1:
        raise DocumentErrors([GraphQLError("Name exactly one operation (operationName).")])
    return document, chosen[0]


class DocumentErrors(Exception):
    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def is_subscription(operation: OperationDefinitionNode) -> bool:
    return operation.operation == OperationType.SUBSCRIPTION
