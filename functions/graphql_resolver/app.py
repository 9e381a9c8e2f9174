"""GraphQLResolver: the AppSync Lambda data source for every Query field (dispatch on info.fieldName).

The resolvers are chronicle.queries, which the local /graphql endpoint calls too.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import AppSyncResolver

from chronicle import queries

logger = Logger()
app = AppSyncResolver()


def _field(name):
    def resolver(**arguments):
        return queries.resolve(name, arguments)
    return resolver


for _name in queries.RESOLVERS:
    app.resolver(field_name=_name)(_field(_name))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
