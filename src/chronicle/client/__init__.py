"""chronicle.client: send commands and GraphQL queries to a deployed Chronicle or to `chronicle local`.

    from chronicle.client import Chronicle
    client = Chronicle.local("http://127.0.0.1:3000", actor="alice")
    project = client.command("CreateProject", {"name": "Demo", "ownerId": "alice"})
    client.query("query($id: ID!) { project(id: $id) { name version } }", {"id": project["aggregateId"]})

Standard library only (urllib); botocore signs SigV4 requests and boto3 refreshes Cognito tokens when those auths
are used. docs/client.md has the details.
"""

from .auth import CognitoTokens, LocalActor, SigV4, Token
from .chronicle_client import Chronicle
from .errors import (AccessDenied, AggregateAlreadyExists, AggregateNotFound, BusinessRuleViolation, ChronicleError,
                     ConcurrencyConflict, Forbidden, GraphQLError, IdempotencyKeyReused, InternalError, NotFound,
                     PayloadTooLarge, ServiceUnavailable, Throttled, TransportError, Unauthorized, UnknownCommand,
                     ValidationError)
from .transport import Retrying

__all__ = ["AccessDenied", "AggregateAlreadyExists", "AggregateNotFound", "BusinessRuleViolation", "Chronicle",
           "ChronicleError", "CognitoTokens", "ConcurrencyConflict", "Forbidden", "GraphQLError",
           "IdempotencyKeyReused", "InternalError", "LocalActor", "NotFound", "PayloadTooLarge", "Retrying",
           "ServiceUnavailable", "SigV4", "Throttled", "Token", "TransportError", "Unauthorized", "UnknownCommand",
           "ValidationError"]
