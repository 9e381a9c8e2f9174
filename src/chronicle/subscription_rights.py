"""Who may receive which change notification: the visibility rules of the queries, applied to subscriptions.

A change notification names a stream (``id``) and what happened to it (``eventType``), so it tells as much as a
read of that stream's history: it goes only to those who may see the stream.

- ``onProjectChanged``: the project's read model says who may see it (``queries.may_see_project``: public to
  anyone, internal to any authenticated actor, private to its creator, owner, ``write`` holders and ``read``
  holders).
- ``onUserChanged``: the user themself and holders of ``read`` on ``user:<id>`` (the readers of that user's
  history: an event type such as UserPermissionsChanged is part of the audit trail).
- ``onTemplateChanged``: anyone (every template is readable by anyone).

``authorize`` is the check when a subscription is made (AppSync runs it as the Subscription field's resolver, the
local runtime in its subscription hub): a subscription to one stream needs the right to see that stream now (a
stream that does not exist is refused the same way, so a refusal does not tell that it exists); a subscription
without ``id`` gets every stream's changes, so it needs ``read`` on all of them (``project:*``, ``user:*``).
``may_receive`` is the check of one notification, which the local runtime makes again for each subscriber before
it pushes (docs/decisions/0013-subscription-rights-and-query-budgets.md: AppSync cannot, so in AWS a right
revoked after a subscription was made ends with that subscription).

Both run inside ``queries.acting_as(subscriber)``.
"""

from __future__ import annotations

from typing import Any

from chronicle import aws, policy
from chronicle.errors import Forbidden
from chronicle.projections import project as project_projection
from chronicle.queries import may_see_project, viewer

# Subscription field -> the resource family its id names; None: readable by anyone.
FAMILIES: dict[str, str | None] = {"onProjectChanged": "project", "onUserChanged": "user",
                                   "onTemplateChanged": None}
# The subscription fields with a check: template.yaml attaches the resolver Lambda to each (Subscription<Field>Check).
CHECKED = tuple(name for name, family in FAMILIES.items() if family is not None)


def may_receive(field_name: str, stream_id: Any) -> bool:
    """May the acting actor receive a notification of ``field_name`` about stream ``stream_id``?"""
    family = FAMILIES.get(field_name, "unknown")
    if family is None:
        return True
    if not isinstance(stream_id, str) or not stream_id:
        return False
    if family == "project":
        item = aws.client("dynamodb").get_item(TableName=aws.env("PROJECT_TABLE"), Key={"id": {"S": stream_id}},
                                               ConsistentRead=True).get("Item")
        return bool(item) and may_see_project(stream_id, project_projection.from_item(item))
    if family == "user":
        me = viewer()
        return me.id == stream_id or policy.may(me, "read", f"user:{stream_id}")
    return False  # a subscription field this module does not know: nothing, rather than everything


def authorize(field_name: str, arguments: dict[str, Any]) -> None:
    """Raise Forbidden unless the acting actor may make this subscription (see the module's text)."""
    family = FAMILIES.get(field_name, "unknown")
    if family is None:
        return
    stream_id = arguments.get("id")
    if stream_id is None:
        if family == "unknown" or not policy.may(viewer(), "read", f"{family}:*"):
            raise Forbidden(f"Not Authorized to subscribe to {field_name} without an id: that needs read on "
                            f"{family}:*; subscribe with the id of a stream you may read.",
                            [{"permission": "read", "resource": f"{family}:*"}])
    elif not may_receive(field_name, stream_id):
        raise Forbidden(f"Not Authorized to subscribe to {field_name}(id: {str(stream_id)[:200]!r}).")
