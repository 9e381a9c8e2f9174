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

from graphql import (DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType, build_schema,
                     execute_sync, get_operation_ast, parse, validate)

from .subscriptions import SubscriptionHub

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


def build_local_schema(sdl: str) -> GraphQLSchema:
    schema = build_schema(appsync_prelude(sdl) + sdl)
    aws_json = schema.type_map.get("AWSJSON")
    if aws_json is not None:
        aws_json.serialize = _json_serialize  # type: ignore[attr-defined]
        aws_json.parse_value = _json_parse_value  # type: ignore[attr-defined]
    return schema


def _default_resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    from chronicle import queries  # imported late: the handler environment must be set first

    return queries.resolve(field_name, arguments)


class LocalGraphQL:
    def __init__(self, schema_path: str | Path,
                 resolve: Callable[[str, dict[str, Any]], Any] = _default_resolve) -> None:
        self.schema_path = Path(schema_path)
        self.resolve = resolve
        self.schema = build_local_schema(self.schema_path.read_text(encoding="utf-8"))
        query = self.schema.query_type
        if query is not None:
            for name, field in query.fields.items():
                field.resolve = self._query_resolver(name)
        self.hub = SubscriptionHub(self.schema)
        mutation = self.schema.mutation_type
        if mutation is not None:
            for field in mutation.fields.values():
                field.resolve = lambda _root, _info, **args: args

    def _query_resolver(self, name: str) -> Callable[..., Any]:
        def resolver(_root: Any, _info: Any, **args: Any) -> Any:
            return self.resolve(name, args)

        return resolver

    def execute(self, query: str, variables: dict[str, Any] | None = None,
                operation_name: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """What graphql_sync does (parse, validate, execute), keeping the document for the mutation's subscribers.

        Queries run as `actor` (the X-Actor-Id header; chronicle.queries.acting_as)."""
        from chronicle.queries import acting_as

        with acting_as(actor):
            return self._execute(query, variables, operation_name)

    def _execute(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> dict[str, Any]:
        try:
            document = parse(query)
        except GraphQLError as error:
            return {"data": None, "errors": [self._format_error(error)]}
        errors = validate(self.schema, document)
        if errors:
            return {"data": None, "errors": [self._format_error(e) for e in errors]}
        return self.execute_document(document, variables, operation_name)

    def execute_document(self, document: DocumentNode, variables: dict[str, Any] | None = None,
                         operation_name: str | None = None) -> dict[str, Any]:
        """Execute a parsed and validated document; a mutation's result goes to its subscribers."""
        result = execute_sync(self.schema, document, variable_values=variables, operation_name=operation_name)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [self._format_error(e) for e in result.errors]
        elif result.data:
            operation = get_operation_ast(document, operation_name)
            if operation is not None and operation.operation == OperationType.MUTATION:
                self._publish_mutation(operation, result.data)
        return out

    def _publish_mutation(self, operation: OperationDefinitionNode, data: dict[str, Any]) -> None:
        """A mutation's result goes to the subscribers of that mutation (@aws_subscribe), as in AppSync."""
        for selection in operation.selection_set.selections:
            name = selection.name.value  # type: ignore[attr-defined]
            key = selection.alias.value if selection.alias else name  # type: ignore[attr-defined]
            self.hub.publish(name, data.get(key))

    def run_rule_target(self, operation: str, variables: Any) -> None:
        """An EventBridge rule's AppSync target (AppSyncParameters.GraphQLOperation) run locally."""
        out = self.execute(operation, variables if isinstance(variables, dict) else {})
        if out.get("errors"):
            log.warning("EventBridge -> GraphQL operation failed: %s", out["errors"])

    @staticmethod
    def _format_error(error: GraphQLError) -> dict[str, Any]:
        formatted = error.formatted
        original = error.original_error
        # AppSync names the error type; a ChronicleError's code is its documented type.
        code = getattr(original, "code", None)
        if original is not None:
            formatted["errorType"] = code if isinstance(code, str) else type(original).__name__
            if code and hasattr(original, "message"):
                formatted["message"] = original.message
        return formatted
