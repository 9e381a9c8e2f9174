"""Identity in the template CloudFormation gets (after `sam package` and the SAM transform, as test_sam_package
builds it): the user pool and its app client, the Cognito authorizer of the REST API beside its SigV4 route,
AppSync's auth modes, and the first-admin bootstrap (a Rule, the invited user, its sub in every function's
ADMIN_ACTOR_IDS)."""

from __future__ import annotations

import pytest

from test_sam_package import deployed, monkeypatch_module, packaged  # noqa: F401 - shared module fixtures

POOL_ARN = {"Fn::If": ["CreateUserPool", {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "UserPoolArn"}]}


def test_the_stack_creates_a_user_pool_unless_given_one(deployed, packaged):  # noqa: F811
    pool = deployed["UserPool"]
    assert pool["Type"] == "AWS::Cognito::UserPool" and pool["Condition"] == "CreateUserPool"
    assert packaged["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "UserPoolArn"}, ""]}
    assert packaged["Parameters"]["UserPoolArn"]["Default"] == ""
    properties = pool["Properties"]
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    assert properties["MfaConfiguration"] == "OPTIONAL" and properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    client = deployed["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False  # a front end cannot keep a secret
    assert "ALLOW_REFRESH_TOKEN_AUTH" in client["ExplicitAuthFlows"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def _rest_api(deployed):  # noqa: F811
    apis = [r for r in deployed.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert len(apis) == 1
    return apis[0]["Properties"]["Body"]


def test_the_rest_api_has_a_cognito_authorizer_and_a_sigv4_route(deployed):  # noqa: F811
    body = _rest_api(deployed)
    schemes = body["components"]["securitySchemes"]
    assert schemes["cognito"]["x-amazon-apigateway-authorizer"] == {"type": "cognito_user_pools",
                                                                   "providerARNs": [POOL_ARN]}
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert body["paths"]["/commands/{commandType}"]["post"]["security"] == [{"cognito": []}]
    assert body["paths"]["/iam/commands/{commandType}"]["post"]["security"] == [{"sigv4": []}]
    # nothing else is open: /health is a mock that answers {"status": "ok"}
    open_routes = [path for path, methods in body["paths"].items()
                   for method in methods.values() if not method.get("security")]
    assert open_routes == ["/health"]


def test_appsync_takes_user_pool_tokens_and_iam(deployed):  # noqa: F811
    api = deployed["GraphQLApi"]["Properties"]
    assert api["AuthenticationType"] == "AMAZON_COGNITO_USER_POOLS"
    assert api["UserPoolConfig"]["UserPoolId"]["Fn::If"][:2] == ["CreateUserPool", {"Ref": "UserPool"}]
    assert api["UserPoolConfig"]["DefaultAction"] == "ALLOW"
    assert api["AdditionalAuthenticationProviders"] == [{"AuthenticationType": "AWS_IAM"}]


def _holds(expr, params):
    """Evaluate a Rules condition or assertion (the functions the template's Rules use) for parameter values;
    a parameter not given has its Default, "" for these."""
    if not isinstance(expr, dict):
        return expr
    (fn, arg), = expr.items()
    if fn == "Ref":
        return params.get(arg, "")
    if fn == "Fn::Equals":
        return _holds(arg[0], params) == _holds(arg[1], params)
    if fn == "Fn::Not":
        return not _holds(arg[0], params)
    if fn == "Fn::Or":
        return any(_holds(x, params) for x in arg)
    raise AssertionError(f"{fn} is not evaluated here")


def _deploys(packaged, params):  # noqa: F811
    for rule in packaged["Rules"].values():
        applies = "RuleCondition" not in rule or _holds(rule["RuleCondition"], params)
        if applies and not all(_holds(a["Assert"], params) for a in rule["Assertions"]):
            return False
    return True


@pytest.mark.parametrize("params, ok", [
    ({}, False),  # nobody could ever grant a permission
    ({"AdminEmail": "admin@example.com"}, True),
    ({"AdminActorIds": "role:Ops"}, True),
    ({"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc",
      "AdminEmail": "admin@example.com"}, False),  # the stack invites only into its own pool
    ({"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc",
      "AdminActorIds": "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"}, True),
])
def test_the_stack_refuses_to_deploy_without_a_first_admin(packaged, params, ok):  # noqa: F811
    assert _deploys(packaged, params) is ok


def test_the_invited_admins_sub_becomes_an_admin_actor_id(deployed, packaged):  # noqa: F811
    assert deployed["AdminUser"]["Condition"] == "InviteAdmin"
    assert deployed["AdminUser"]["Properties"]["Username"] == {"Ref": "AdminEmail"}
    sub = deployed["AdminUserSub"]
    assert sub["Properties"]["Username"] == {"Ref": "AdminUser"}
    expected = {"Fn::If": ["InviteAdmin", {"Fn::Join": [",", [{"Fn::GetAtt": ["AdminUserSub", "Sub"]},
                                                              {"Ref": "AdminActorIds"}]]}, {"Ref": "AdminActorIds"}]}
    functions = [r for r in deployed.values() if r["Type"] == "AWS::Lambda::Function"
                 and "Environment" in r["Properties"]]
    assert functions and all(f["Properties"]["Environment"]["Variables"]["ADMIN_ACTOR_IDS"] == expected
                             for f in functions)
    role = deployed["AdminUserSubFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert role == [{"Effect": "Allow", "Action": "cognito-idp:AdminGetUser",
                     "Resource": {"Fn::GetAtt": ["UserPool", "Arn"]}}]
