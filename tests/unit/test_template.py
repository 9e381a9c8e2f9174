"""template.yaml, api/openapi.yaml and statemachine/*.asl.json agree with each other and with docs/reference/errors.md.

These are the checks cfn-lint and `sam validate` cannot make: every command has a state machine, a REST path and
the right to be started; every documented error code maps to its HTTP status in the response template; nothing may
update or delete an event.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from chronicle.errors import HTTP_STATUS
from chronicle.local.server import _COMMAND_TYPE, command_state_machine_name
from chronicle.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
OPENAPI = yaml.load((ROOT / "api" / "openapi.yaml").read_text(), Loader=yaml.SafeLoader)  # noqa: S506
# The ASL files of command state machines (ArchiveEvents is a workflow of its own, tested below).
STATE_MACHINE_FILES = {ROOT / r["Properties"]["DefinitionUri"] for r in RESOURCES.values()
                       if r["Type"] == "AWS::Serverless::StateMachine"
                       and r["Properties"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-command-")}
# The command state machines: named <stack>-command-<CommandType> (Fn::ForEach expanded by load_template).
COMMANDS = sorted(
    r["Properties"]["Name"]["Fn::Sub"].removeprefix("${AWS::StackName}-command-") for r in RESOURCES.values()
    if r["Type"] == "AWS::Serverless::StateMachine" and r["Properties"]["Name"]["Fn::Sub"].startswith(
        "${AWS::StackName}-command-"))


def _statements(resource: dict) -> list[dict]:
    props = resource.get("Properties", {})
    found = []
    for policy in props.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
        elif isinstance(policy, dict) and "PolicyDocument" in policy:
            found += policy["PolicyDocument"]["Statement"]
    return found


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_there_are_commands():
    assert "CreateProject" in COMMANDS and "ChangeProjectConfiguration" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_an_express_logged_state_machine(command):
    machine = RESOURCES[f"{command}StateMachine"]
    props = machine["Properties"]
    assert machine["Type"] == "AWS::Serverless::StateMachine"
    assert props["Type"] == "EXPRESS"
    # the level is a stack parameter, ERROR by default: no execution data (personal data) in the logs unless ALL
    assert props["Logging"]["Level"] == {"Ref": "WorkflowLogLevel"}
    assert props["Logging"]["IncludeExecutionData"] == {"Fn::If": ["WorkflowLogsExecutionData", True, False]}
    assert TEMPLATE["Parameters"]["WorkflowLogLevel"]["Default"] == "ERROR"
    assert TEMPLATE["Conditions"]["WorkflowLogsExecutionData"] == {"Fn::Equals": [{"Ref": "WorkflowLogLevel"}, "ALL"]}
    definition = (ROOT / props["DefinitionUri"]).read_text()
    for placeholder in set(re.findall(r"\$\{(\w+)\}", definition)):
        assert placeholder in props["DefinitionSubstitutions"], placeholder


def test_the_api_may_start_this_stacks_command_state_machines_and_nothing_else():
    statement = _statements(RESOURCES["CommandApiRole"])[0]
    assert statement["Action"] == "states:StartSyncExecution"
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                                                "stateMachine:${AWS::StackName}-command-*"}
    others = [name for name, r in RESOURCES.items() if r["Type"].endswith("StateMachine")
              and name not in {f"{c}StateMachine" for c in COMMANDS}]
    for name in others:  # e.g. maintenance workflows: never startable through the command API
        assert not RESOURCES[name]["Properties"]["Name"]["Fn::Sub"].startswith("${AWS::StackName}-command-"), name


def test_one_route_serves_every_command_and_builds_the_state_machine_name_like_the_template():
    command_paths = [p for p in OPENAPI["paths"] if p.startswith("/commands")]
    assert command_paths == ["/commands/{commandType}"]
    template = OPENAPI["paths"]["/commands/{commandType}"]["post"]["x-amazon-apigateway-integration"][
        "requestTemplates"]["application/json"]["Fn::Sub"]
    assert "stateMachine:${AWS::StackName}-command-$type" in template
    assert command_state_machine_name("${AWS::StackName}", "$type") == "${AWS::StackName}-command-$type"
    # The local server accepts exactly the command types API Gateway does.
    assert f'$type.matches("{_COMMAND_TYPE.pattern}")' in template


@pytest.mark.parametrize("path", sorted(STATE_MACHINE_FILES))
def test_fail_states_report_spec_codes(path):
    asl = json.loads(path.read_text())
    fails = {name: state for name, state in asl["States"].items() if state["Type"] == "Fail"}
    assert fails, "no Fail states"
    for name, state in fails.items():
        if "ErrorPath" in state:  # the error code the Lambda raised: only documented codes are caught into it
            continue
        assert state["Error"] in HTTP_STATUS, f"{name}: {state['Error']} is not a documented error code"
    for name, state in asl["States"].items():
        for catch in state.get("Catch", []):
            target = asl["States"][catch["Next"]]
            if target["Type"] == "Fail" and "ErrorPath" in target:
                assert set(catch["ErrorEquals"]) <= set(HTTP_STATUS), f"{name} sends non-documented errors to {catch['Next']}"


REFUSALS = set(HTTP_STATUS) - {"InternalError"}  # chronicle.errors: the codes a step refuses a command with


def _catches(states: dict) -> list[tuple[str, dict, dict]]:
    found = []
    for name, state in states.items():
        found += [(name, catch, states.get(catch["Next"], {})) for catch in state.get("Catch", [])]
        for branch in state.get("Branches", []):
            found += _catches(branch["States"])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "statemachine").glob("command*.asl.json"))
                         + sorted((ROOT / "statemachine").glob("template-change.asl.json")), ids=lambda p: p.name)
def test_every_refusal_catch_lists_exactly_the_spec_refusals(path):
    """ASL has no way to share a Catch list and DefinitionSubstitutions only fill strings (decision 0017), so the
    list is written in each Task and held equal to chronicle.errors here: a new documented code fails until every copy
    has it."""
    catches = [c for _, c, target in _catches(json.loads(path.read_text())["States"])
               if target.get("Type") == "Fail" and "ErrorPath" in target]
    assert catches and all(set(c["ErrorEquals"]) == REFUSALS for c in catches)


def test_response_template_maps_every_spec_error_to_its_status():
    responses = OPENAPI["paths"]["/commands/{commandType}"]["post"]["x-amazon-apigateway-integration"]["responses"]
    template = responses["default"]["responseTemplates"]["application/json"]
    mapping = dict(re.findall(r'\$error == "(\w+)"\)\s*#set\(\$context\.responseOverride\.status = (\d+)\)',
                              template))
    expected = {code: status for code, status in HTTP_STATUS.items() if code != "InternalError"}
    assert {code: int(status) for code, status in mapping.items()} == expected
    refused = responses["4\\d{2}"]["responseTemplates"]["application/json"]
    # Step Functions refusing the input (over 256 KiB) is a 413; no such state machine is an unknown command.
    assert "InvalidExecutionInput" in refused and "StateMachineDoesNotExist" in refused


def test_only_the_archive_workflow_may_delete_events_and_nobody_may_update_them():
    event_table = {"Fn::GetAtt": ["EventStoreTable", "Arn"]}
    deleters = set()
    for name, resource in RESOURCES.items():
        for statement in _statements(resource):
            if event_table not in _as_list(statement.get("Resource")) or statement.get("Effect") == "Deny":
                continue
            actions = set(_as_list(statement["Action"]))
            assert not actions & {"dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
                                  "dynamodb:PartiQLDelete", "dynamodb:*"}, name
            if "dynamodb:DeleteItem" in actions:
                deleters.add(name)
            if name == "AppendEventsFunction":
                assert "dynamodb:DeleteItem" not in actions
            elif name == "ArchiveEventsFunction":  # deletes what it archived; never writes an event
                assert actions <= {"dynamodb:Query", "dynamodb:DeleteItem"}, actions
            else:
                assert actions <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}, f"{name} may write events"
    assert deleters == {"ArchiveEventsFunction"}
    # ... and that function is invoked by the archive workflow only.
    invokers = {name for name, resource in RESOURCES.items()
                for policy in resource.get("Properties", {}).get("Policies", [])
                if isinstance(policy, dict) and policy.get("LambdaInvokePolicy", {}).get("FunctionName")
                == {"Ref": "ArchiveEventsFunction"}}
    assert invokers == {"ArchiveEventsStateMachine"}


def test_the_archive_workflow_is_a_scheduled_standard_state_machine():
    machine = RESOURCES["ArchiveEventsStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert machine["DefinitionUri"] == "statemachine/ArchiveEvents.asl.json"
    [schedule] = machine["Events"].values()
    assert schedule["Type"] in ("Schedule", "ScheduleV2") and schedule["Properties"]["Schedule"].startswith("rate(")
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    assert set(re.findall(r"\$\{(\w+)\}", definition)) == set(machine["DefinitionSubstitutions"])
    assert TEMPLATE["Parameters"]["RetentionDays"]["Default"] == 365
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["RETENTION_DAYS"] == {"Ref": "RetentionDays"}


def test_the_archive_bucket_is_encrypted_versioned_private_tls_only_and_gets_colder():
    bucket = RESOURCES["ArchiveBucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    transitions = [t for rule in props["LifecycleConfiguration"]["Rules"] for t in rule.get("Transitions", [])]
    # a class read in milliseconds: the read-through must not need a restore
    assert transitions and all(t["StorageClass"] in ("STANDARD_IA", "GLACIER_IR") for t in transitions)
    assert props["ObjectLockEnabled"] == {"Fn::If": ["ArchiveObjectLock", True, {"Ref": "AWS::NoValue"}]}
    assert "ArchiveObjectLock" in TEMPLATE["Conditions"]
    [tls] = [s for s in RESOURCES["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
             if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "s3:*"


def test_functions_use_the_shared_layer_and_a_supported_runtime():
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] in ("python3.12", "python3.13")
    assert function_globals["Layers"] == [{"Ref": "ChronicleLayer"}]
    assert RESOURCES["ChronicleLayer"]["Metadata"]["BuildMethod"] == "makefile"
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler_dir = ROOT / resource["Properties"]["CodeUri"]
            assert (handler_dir / "app.py").is_file(), name


def test_projector_is_fed_by_a_rule_on_the_bus_with_a_dead_letter_queue():
    events = RESOURCES["ProjectProjectorFunction"]["Properties"]["Events"]
    rule = next(iter(events.values()))
    assert rule["Type"] == "EventBridgeRule"
    assert rule["Properties"]["EventBusName"] == {"Ref": "EventBus"}
    assert rule["Properties"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ProjectionDeadLetterQueue", "Arn"]}


def test_every_graphql_query_field_has_a_resolver():
    from chronicle.local.graphql_local import build_local_schema

    fields = set(build_local_schema((ROOT / "api" / "schema.graphql").read_text()).query_type.fields)
    resolved = {r["Properties"]["FieldName"] for r in RESOURCES.values()
                if r["Type"] == "AWS::AppSync::Resolver" and r["Properties"]["TypeName"] == "Query"}
    assert fields == resolved


def test_subscriptions_name_existing_mutations_of_exactly_their_type():
    """AppSync refuses a schema whose subscribed mutation returns another type (nullability included)."""
    from chronicle.local.graphql_local import build_local_schema

    schema = build_local_schema((ROOT / "api" / "schema.graphql").read_text())
    mutations = schema.mutation_type.fields
    for name, field in schema.subscription_type.fields.items():
        directive = next(d for d in field.ast_node.directives if d.name.value == "aws_subscribe")
        for value in directive.arguments[0].value.values:
            assert value.value in mutations, f"{name}: no mutation {value.value}"
            assert str(mutations[value.value].type) == str(field.type), name


def test_template_bucket_is_private_encrypted_versioned_and_tls_only():
    props = RESOURCES["TemplateBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    [deny] = RESOURCES["TemplateBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_storing_function_may_put_template_bodies():
    def s3_actions(resource):  # on the template bucket (other buckets may have other users)
        return {action for statement in _statements(resource) for action in _as_list(statement["Action"])
                if action.startswith("s3:") and "TemplateBucket" in json.dumps(statement.get("Resource"))}

    access = {name: s3_actions(r) for name, r in RESOURCES.items()
              if r["Type"] == "AWS::Serverless::Function" and s3_actions(r)}
    assert access == {"StoreTemplateBodyFunction": {"s3:PutObject"}, "LoadFactsFunction": {"s3:GetObject"},
                      "GraphQLResolverFunction": {"s3:GetObject"}}


def test_subscribing_to_a_stream_s_changes_is_checked_by_the_resolver_lambda():
    """AppSync runs a Subscription field's resolver when a client subscribes: the Lambda data source refuses those
    who may not see the stream (chronicle.subscription_rights), for every field that module checks."""
    from chronicle import subscription_rights
    from chronicle.local.graphql_local import build_local_schema

    schema = build_local_schema((ROOT / "api" / "schema.graphql").read_text())
    assert set(subscription_rights.FAMILIES) == set(schema.subscription_type.fields)
    def name(value):  # the loop's !Sub with its variable already put in
        return value.get("Fn::Sub", value) if isinstance(value, dict) else value

    checked = {name(r["Properties"]["FieldName"]) for r in RESOURCES.values()
               if r["Type"] == "AWS::AppSync::Resolver" and r["Properties"]["TypeName"] == "Subscription"
               and r["Properties"]["DataSourceName"] == {"Fn::GetAtt": ["GraphQLResolverDataSource", "Name"]}}
    assert checked == set(subscription_rights.CHECKED) == {"onProjectChanged", "onUserChanged"}
