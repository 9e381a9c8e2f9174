"""GraphQLResolver: the AppSync Lambda data source for every Query field (dispatch on info.fieldName).

The resolvers are chronicle.queries, which the local /graphql endpoint calls too. They run as the request's
authenticated identity (docs/security.md, "Identity mapping"), never as anything the client sends in the query.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import AppSyncResolver

from chronicle import queries
from chronicle.errors import ChronicleError

logger = Logger()
app = AppSyncResolver()


def actor_of(identity: dict | None) -> str | None:
    """The actor id of an AppSync identity: Cognito user pool / OIDC `sub`, else the Cognito identity (identity
    pool), else the IAM principal's ARN. The same order as the command API's request template."""
    identity = identity or {}
    return identity.get("sub") or identity.get("cognitoIdentityId") or identity.get("userArn") or None


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
            with queries.acting_as(actor_of(app.current_event.get("identity"))):
                return queries.resolve(name, arguments)
        except ChronicleError as refusal:
            raise _Refused.error(refusal) from None
    return resolver


for _name in queries.RESOLVERS:
    app.resolver(field_name=_name)(_field(_name))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
