"""GraphQLResolver: the AppSync Lambda data source for every Query field (dispatch on info.fieldName).

The resolvers are chronicle.queries, which the local /graphql endpoint calls too.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import AppSyncResolver

from chronicle import queries
from chronicle.errors import ChronicleError

logger = Logger()
app = AppSyncResolver()


class _Refused:
    """AppSync shows a Lambda error as errorType = the exception's class name and message = its text: a refusal
    goes out as its SPEC code and plain message (a ChronicleError's text is the JSON body the command API uses)."""

    classes: dict = {}

    @classmethod
    def error(cls, refusal: ChronicleError) -> Exception:
        kind = cls.classes.setdefault(refusal.code, type(refusal.code, (Exception,), {}))
        return kind(refusal.message)


def _field(name):
    def resolver(**arguments):
        try:
            return queries.resolve(name, arguments)
        except ChronicleError as refusal:
            raise _Refused.error(refusal) from None
    return resolver


for _name in queries.RESOLVERS:
    app.resolver(field_name=_name)(_field(_name))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
