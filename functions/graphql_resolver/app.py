"""GraphQLResolver: the AppSync Lambda data source for every Query field (dispatch on info.fieldName), and the
check AppSync runs when a client subscribes to onProjectChanged / onUserChanged (chronicle.subscription_rights:
a subscriber must be allowed to see what it will be told about).

The resolvers are chronicle.queries, which the local /graphql endpoint calls too. They run as the request's
authenticated identity (docs/security.md, "Identity mapping"), never as anything the client sends in the query.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import AppSyncResolver

from chronicle import identity as mapped_identity, queries, subscription_rights
from chronicle.errors import ChronicleError

logger = Logger()
app = AppSyncResolver()


def actor_of(identity: dict | None, home_account: str | None = None) -> str | None:
    """The actor id of an AppSync identity (None: anonymous), by the mapping the command API uses too
    (chronicle.identity): a Cognito user pool token's `sub`; an IAM principal's stable id (`role:<name>`, ...)."""
    principal = mapped_identity.principal_of(identity, home_account)
    return principal.actor_id if principal else None


def _home_account() -> str | None:
    """This function's account (arn:aws:lambda:<region>:<account>:function:...): IAM callers must belong to it."""
    arn = getattr(app.lambda_context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


class _Refused:
    """AppSync shows a Lambda error as errorType = the exception's class name and message = its text: a refusal
    goes out as its documented error code and plain message (a ChronicleError's text is the JSON body the command API uses)."""

    classes: dict = {}

    @classmethod
    def error(cls, refusal: ChronicleError) -> Exception:
        kind = cls.classes.setdefault(refusal.code, type(refusal.code, (Exception,), {}))
        return kind(refusal.message)


def _field(name):
    def resolver(**arguments):
        try:
            with queries.acting_as(actor_of(app.current_event.get("identity"), _home_account())):
                return queries.resolve(name, arguments)
        except ChronicleError as refusal:
            raise _Refused.error(refusal) from None
    return resolver


def _subscription(name):
    def authorize(**arguments):
        """Runs once, when the client subscribes: an error refuses the subscription; None lets it go ahead."""
        try:
            with queries.acting_as(actor_of(app.current_event.get("identity"))):
                subscription_rights.authorize(name, arguments)
        except ChronicleError as refusal:
            raise _Refused.error(refusal) from None
        return None
    return authorize


for _name in queries.RESOLVERS:
    app.resolver(field_name=_name)(_field(_name))
for _name in subscription_rights.CHECKED:
    app.resolver(type_name="Subscription", field_name=_name)(_subscription(_name))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
