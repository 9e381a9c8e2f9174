"""``POST /graphql`` locally: graphql-core executing the AppSync schema ``api/schema.graphql``.

AppSync predefines its scalars (``AWSDateTime``, ``AWSJSON`` ...) and directives (``@aws_subscribe`` ...);
they are prepended here (only those the schema does not define itself) so the very same file builds.

Resolvers: every ``Query`` field calls ``chronicle.queries.resolve(field_name, arguments)`` (the same function
the GraphQL resolver Lambda uses in AWS). ``Mutation`` fields behave like AppSync's NONE data source: they
return their arguments (that is how the subscription-publishing mutations work), and every mutation's result is
pushed to the subscribers of that mutation (``self.hub``, see ``subscriptions.py``; served by ``websocket.py``).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from collections.abc import Callable

import uuid

from graphql import (DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType,
                     StringValueNode, build_schema, execute_sync, get_operation_ast, parse, validate)

from chronicle.errors import ChronicleError

from . import graphql_document
from .subscriptions import DocumentErrors, Rights, SubscriptionHub

log = logging.getLogger(__name__)

APPSYNC_SCALARS = ["AWSDate", "AWSTime", "AWSDateTime", "AWSTimestamp", "AWSEmail", "AWSJSON", "AWSURL",
                   "AWSPhone", "AWSIPAddress"]
APPSYNC_DIRECTIVES = {
    "aws_subscribe": "directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION",
    "aws_auth": "directive @aws_auth(cognito_groups: [String]) on FIELD_DEFINITION",
    "aws_api_key": "directive @aws_api_key on OBJECT | FIELD_DEFINITION",
    "aws_iam": "directive @aws_iam on OBJECT | FIELD_DEFINITION",
    "aws_oidc": "directive @aws_oidc on OBJECT | FIELD_DEFINITION",
    "aws_lambda": "directive @aws_lambda on OBJECT | FIELD_DEFINITION",
    "aws_cognito_user_pools": "directive @aws_cognito_user_pools(cognito_groups: [String]) on OBJECT | FIELD_DEFINITION",
}


def appsync_prelude(sdl: str) -> str:
    """The AppSync built-ins ``sdl`` uses without declaring."""
    lines = [f"scalar {s}" for s in APPSYNC_SCALARS if not re.search(rf"\bscalar\s+{s}\b", sdl)]
    lines += [d for name, d in APPSYNC_DIRECTIVES.items() if not re.search(rf"\bdirective\s+@{name}\b", sdl)]
    return "\n".join(lines) + "\n"


def _json_serialize(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_parse_value(value: Any) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise GraphQLError(f"AWSJSON: not valid JSON: {exc}") from exc
        return value
    return json.dumps(value)


def _datetime_parse_value(value: Any) -> str:
    """AWSDateTime as strict as AppSync's: a string with an offset (queries.parse_aws_datetime says what is wrong)."""
    from chronicle.queries import parse_aws_datetime

    try:
        parse_aws_datetime(value, "AWSDateTime")
    except ChronicleError as error:
        raise GraphQLError(error.message) from None
    return value


def _datetime_parse_literal(node: Any, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("AWSDateTime must be a string such as \"2026-11-30T12:00:00Z\".")
    return _datetime_parse_value(node.value)


def build_local_schema(sdl: str) -> GraphQLSchema:
    schema = build_schema(appsync_prelude(sdl) + sdl)
    aws_json = schema.type_map.get("AWSJSON")
    if aws_json is not None:
        aws_json.serialize = _json_serialize  # type: ignore[attr-defined]
        aws_json.parse_value = aws_json.coerce_input_value = _json_parse_value  # type: ignore[attr-defined]
    aws_datetime = schema.type_map.get("AWSDateTime")
    if aws_datetime is not None:
        # graphql-core 3.3 reads coerce_input_value (parse_value is its older name)
        aws_datetime.parse_value = aws_datetime.coerce_input_value = _datetime_parse_value  # type: ignore[attr-defined]
        aws_datetime.parse_literal = _datetime_parse_literal  # type: ignore[attr-defined]
    return schema


# AppSync's defaults when template.yaml sets no QueryDepthLimit / ResolverCountLimit on the GraphQLApi.
DEFAULT_DEPTH_LIMIT, DEFAULT_RESOLVER_LIMIT = 75, 10_000
MAX_TOKENS = 10_000  # parsing stops there: the full introspection query is 183 tokens, 50 root fields with
# their selections far less than this; parsing is the first cost of a request
PREPARED_DOCUMENTS = 256  # validated documents kept for reuse
MAX_FIELDS = 2_000  # fields of one operation (or of any one fragment definition) once fragments are expanded:
# the full introspection query has about 150, this schema's widest honest query far fewer


def limits_from_template(template: dict[str, Any]) -> tuple[int, int]:
    """(QueryDepthLimit, ResolverCountLimit) of the template's AWS::AppSync::GraphQLApi: the local API keeps them."""
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") == "AWS::AppSync::GraphQLApi":
            props = resource.get("Properties") or {}
            return (int(props.get("QueryDepthLimit", DEFAULT_DEPTH_LIMIT)),
                    int(props.get("ResolverCountLimit", DEFAULT_RESOLVER_LIMIT)))
    return DEFAULT_DEPTH_LIMIT, DEFAULT_RESOLVER_LIMIT


def subscription_mutations(schema: GraphQLSchema) -> set[str]:
    """Mutations that only feed subscriptions (named by an @aws_subscribe): in AWS only the EventBridge rule's IAM
    role may call them (template.yaml grants appsync:GraphQL on them to that role alone)."""
    names: set[str] = set()
    subscription = schema.subscription_type
    for field in (subscription.fields.values() if subscription else ()):
        for directive in (field.ast_node.directives if field.ast_node else ()):
            if directive.name.value == "aws_subscribe":
                for argument in directive.arguments:
                    names.update(v.value for v in getattr(argument.value, "values", ()))
    return names


def _default_resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    from chronicle import queries  # imported late: the handler environment must be set first

    return queries.resolve(field_name, arguments)


def _authorize_subscription(actor: str | None, field_name: str, arguments: dict[str, Any]) -> None:
    from chronicle import subscription_rights
    from chronicle.queries import acting_as

    with acting_as(actor):
        subscription_rights.authorize(field_name, arguments)


def _may_receive(actor: str | None, field_name: str, stream_id: Any) -> bool:
    from chronicle import subscription_rights
    from chronicle.queries import acting_as

    with acting_as(actor):
        return subscription_rights.may_receive(field_name, stream_id)


QUERY_RIGHTS = Rights(_authorize_subscription, _may_receive)  # the queries' visibility rules, for subscriptions


class LocalGraphQL:
    def __init__(self, schema_path: str | Path,
                 resolve: Callable[[str, dict[str, Any]], Any] = _default_resolve,
                 depth_limit: int = DEFAULT_DEPTH_LIMIT, resolver_limit: int = DEFAULT_RESOLVER_LIMIT,
                 rights: Rights = QUERY_RIGHTS) -> None:
        self.schema_path = Path(schema_path)
        self.resolve = resolve
        self.depth_limit, self.resolver_limit = depth_limit, resolver_limit
        self.schema = build_local_schema(self.schema_path.read_text(encoding="utf-8"))
        self.rule_only_mutations = subscription_mutations(self.schema)
        # Documents that passed prepare(): the same text gives the same answer (rule targets send one mutation
        # per change; clients repeat their queries). Bounded: cleared when full.
        self._prepared: dict[tuple[str, str | None, str], tuple[DocumentNode, OperationDefinitionNode]] = {}
        query = self.schema.query_type
        if query is not None:
            for name, field in query.fields.items():
                field.resolve = self._query_resolver(name)
        self.hub = SubscriptionHub(self.schema, rights)
        mutation = self.schema.mutation_type
        if mutation is not None:
            for field in mutation.fields.values():
                field.resolve = lambda _root, _info, **args: args

    def _query_resolver(self, name: str) -> Callable[..., Any]:
        def resolver(_root: Any, _info: Any, **args: Any) -> Any:
            return self.resolve(name, args)

        return resolver

    def prepare(self, query: Any, operation_name: str | None = None, transport: str = "http"
                ) -> tuple[DocumentNode, OperationDefinitionNode]:
        """Parse, bound and validate a client's document, as AppSync does before any resolver runs; raise
        DocumentErrors. ``transport`` is "http" (POST /graphql), "websocket" or "rule" (an EventBridge target)."""
        if not isinstance(query, str):
            raise DocumentErrors([GraphQLError("'query' must be a string")])
        key = (query, operation_name, transport)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepare(query, operation_name, transport)
            if len(self._prepared) >= PREPARED_DOCUMENTS:
                self._prepared.clear()
            self._prepared[key] = prepared
        return prepared

    def _prepare(self, query: str, operation_name: str | None, transport: str
                 ) -> tuple[DocumentNode, OperationDefinitionNode]:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            raise DocumentErrors([error]) from None
        except RecursionError:
            raise DocumentErrors([GraphQLError(f"Query depth exceeds the limit of {self.depth_limit}.")]) from None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
        if len(chosen) != 1:
            raise DocumentErrors([GraphQLError("Name exactly one operation (operationName)." if operations
                                               else "The document has no operation.")])
        operation = chosen[0]
        self._check_size(document, operation)  # before validation, whose cost grows with the expanded document
        errors = validate(self.schema, document)
        if errors:
            raise DocumentErrors(list(errors))
        if operation.operation == OperationType.SUBSCRIPTION and transport == "http":
            raise DocumentErrors([GraphQLError("Subscriptions are served over WebSocket (graphql-transport-ws) on "
                                               "/graphql, not over POST.")])
        if operation.operation == OperationType.MUTATION and transport != "rule":
            self._refuse_rule_only(document, operation)
        return document, operation

    def _check_size(self, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        """QueryDepthLimit, ResolverCountLimit and MAX_FIELDS, measured with each fragment counted once."""
        try:
            measured = graphql_document.measure(document, operation)
            widest = max(measured.fields, graphql_document.largest_fragment(document).fields)
        except RecursionError:  # a chain of a thousand fragments, each spreading the next
            raise DocumentErrors([GraphQLError("Fragments nest too deeply (each spreading the next).")]) from None
        if measured.depth > self.depth_limit:
            raise DocumentErrors([GraphQLError(f"Query depth {measured.depth} exceeds the limit of "
                                               f"{self.depth_limit} (QueryDepthLimit in template.yaml).")])
        if measured.resolvers > self.resolver_limit:
            raise DocumentErrors([GraphQLError(f"The request would run {measured.resolvers} resolvers; the limit "
                                               f"is {self.resolver_limit} (ResolverCountLimit in template.yaml).")])
        if widest > MAX_FIELDS:
            raise DocumentErrors([GraphQLError(f"The document expands to {widest} fields (fragments spread "
                                               f"repeatedly); the limit is {MAX_FIELDS}.")])

    def _refuse_rule_only(self, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        """Only the EventBridge rule may run the subscription-feeding mutations: reached directly, through a
        fragment spread or an inline fragment."""
        for field in graphql_document.root_fields(document, operation):
            name = field.name.value
            if name in self.rule_only_mutations:
                error = GraphQLError(f"Not Authorized to access {name} on type Mutation")
                error.extensions = {"errorType": "Unauthorized"}
                raise DocumentErrors([error])

    def execute(self, query: str, variables: dict[str, Any] | None = None,
                operation_name: str | None = None, transport: str = "http", actor: str | None = None
                ) -> dict[str, Any]:
        """prepare() then execute as `actor` (the X-Actor-Id header; chronicle.queries.acting_as); a mutation's
        result goes to its subscribers."""
        try:
            document, _ = self.prepare(query, operation_name, transport)
        except DocumentErrors as problem:
            return {"data": None, "errors": [self._format_error(e) for e in problem.errors]}
        return self.execute_document(document, variables, operation_name, actor)

    def execute_document(self, document: DocumentNode, variables: dict[str, Any] | None = None,
                         operation_name: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """Execute a parsed and validated document as ``actor``; a mutation's result goes to its subscribers."""
        from chronicle.history_page import budget
        from chronicle.queries import acting_as

        with acting_as(actor), budget():
            result = execute_sync(self.schema, document, variable_values=variables, operation_name=operation_name)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [self._format_error(e) for e in result.errors]
        elif result.data:
            operation = get_operation_ast(document, operation_name)
            if operation is not None and operation.operation == OperationType.MUTATION:
                self._publish_mutation(document, operation, result.data)
        return out

    def _publish_mutation(self, document: DocumentNode, operation: OperationDefinitionNode,
                          data: dict[str, Any]) -> None:
        """A mutation's result goes to the subscribers of that mutation (@aws_subscribe), as in AppSync."""
        for field in graphql_document.root_fields(document, operation):
            name = field.name.value
            self.hub.publish(name, data.get(field.alias.value if field.alias else name))

    def run_rule_target(self, operation: str, variables: Any) -> None:
        """An EventBridge rule's AppSync target (AppSyncParameters.GraphQLOperation) run locally."""
        out = self.execute(operation, variables if isinstance(variables, dict) else {}, transport="rule")
        if out.get("errors"):
            log.warning("EventBridge -> GraphQL operation failed: %s", out["errors"])

    @staticmethod
    def _format_error(error: GraphQLError) -> dict[str, Any]:
        """A client mistake keeps its message; any other exception is logged with an id and reaches the client as
        "internal error" and that id, never its text or type (docs/reference/graphql.md)."""
        original = error.original_error
        while isinstance(original, GraphQLError) and original.original_error is not None:
            original = original.original_error
        if original is not None and not isinstance(original, (ChronicleError, GraphQLError)):
            error_id = str(uuid.uuid4())
            log.error("GraphQL execution failed (error id %s)", error_id, exc_info=original)
            formatted = GraphQLError(f"internal error (id {error_id})", error.nodes, path=error.path).formatted
            formatted["errorType"] = "InternalError"
            return formatted
        formatted = error.formatted
        extensions = formatted.pop("extensions", None) or {}
        if "errorType" in extensions:
            formatted["errorType"] = extensions["errorType"]
        if isinstance(original, ChronicleError):  # AppSync names the error type: a ChronicleError's code is its type
            formatted["errorType"] = original.code
            formatted["message"] = original.message
        return formatted
