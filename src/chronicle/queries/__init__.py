"""The query side: one function per GraphQL field, returning JSON-ready values (AWSJSON as JSON strings).

The same functions answer AppSync (functions/graphql_resolver) and the local /graphql endpoint, through
``resolve(field_name, arguments)`` and the ``RESOLVERS`` table. The modules:

- ``visibility``: the acting viewer (``acting_as``, ``viewer``) and who may see a project, a user's email or a
  User stream's events (docs/reference/authorization.md);
- ``paging``: ``limit`` and ``nextToken``, shared by every list; ``datetimes``: AppSync's AWSDateTime;
- ``project_reads``, ``topology``, ``template_reads``, ``user_reads``, ``history_reads`` (over
  chronicle.history_page), ``changes``: the resolvers, by read model.

Every resolver and the names other modules use are importable from here, as before the split.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from chronicle.errors import ChronicleError, InternalError, ValidationError
from chronicle.queries.changes import publishProjectChanged, publishTemplateChanged, publishUserChanged
from chronicle.queries.datetimes import parse_aws_datetime
from chronicle.queries.history_reads import history, historyPage
from chronicle.queries.paging import MAX_ID_BYTES, MAX_PAGE
from chronicle.queries.project_reads import project, projectAt, projects
from chronicle.queries.template_reads import template, templates, templateUsage
from chronicle.queries.topology import deploy_order, serviceTopology
from chronicle.queries.user_reads import permissionMatrix, user
from chronicle.queries.visibility import ANONYMOUS, acting_as, may_see_email, may_see_project, viewer
from chronicle.queries.visibility import user_event_opener as _user_event_opener  # the name history_page once used

__all__ = [
    "ANONYMOUS", "MAX_ID_BYTES", "MAX_PAGE", "RESOLVERS", "_user_event_opener", "acting_as", "deploy_order", "history",
    "historyPage", "may_see_email", "may_see_project", "parse_aws_datetime", "permissionMatrix", "project",
    "projectAt", "projects", "publishProjectChanged", "publishTemplateChanged", "publishUserChanged", "resolve",
    "serviceTopology", "template", "templateUsage", "templates", "user", "viewer",
]

log = logging.getLogger(__name__)

# Arguments that name an item: an empty one would reach DynamoDB as an empty key (its ValidationException).
_ID_ARGUMENTS = ("id", "aggregateId", "ownerId", "projectId", "templateId", "userId")

RESOLVERS: dict[str, Callable[..., Any]] = {
    "project": project, "projects": projects, "projectAt": projectAt, "history": history,
    "historyPage": historyPage,
    "user": user, "permissionMatrix": permissionMatrix,
    "publishProjectChanged": publishProjectChanged, "publishUserChanged": publishUserChanged,
    "serviceTopology": serviceTopology, "template": template,
    "templates": templates, "templateUsage": templateUsage, "publishTemplateChanged": publishTemplateChanged,
}


def resolve(field_name: str, arguments: dict[str, Any]) -> Any:
    """Run one field's resolver. A client mistake is a ChronicleError with a clear message; anything else is
    logged with an id, and the client sees only "internal error" and that id (never an exception's text)."""
    try:
        resolver = RESOLVERS[field_name]
    except KeyError:
        raise ValidationError(f"No resolver for field {field_name!r}.") from None
    for name in _ID_ARGUMENTS:
        value = arguments.get(name)
        if isinstance(value, str) and not 0 < len(value.encode()) <= MAX_ID_BYTES:
            raise ValidationError(f"{name} must be 1 to {MAX_ID_BYTES} bytes long.", [{"path": f"$.{name}"}])
    try:
        return resolver(**arguments)
    except ChronicleError:
        raise
    except Exception:
        error_id = str(uuid.uuid4())
        log.exception("resolver %s failed (error id %s)", field_name, error_id)
        raise InternalError(f"internal error (id {error_id})", [{"errorId": error_id}]) from None
