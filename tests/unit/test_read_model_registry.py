"""A read model exists everywhere or nowhere: its row in chronicle.projections.registry, its projector function,
EventBridge rule and table in template.yaml, its GraphQL change types, its rebuild option.

Adding a read model costs a row in the registry and the template resources it names (docs/architecture.md,
"Adding a read model"); these checks fail when one of those places is forgotten. The change mutations are one
resolver definition that answers the subscription rules' role only: its code is run here with node.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chronicle.local.stack import load_template
from chronicle.projections.registry import READ_MODELS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
SCHEMA = (ROOT / "api" / "schema.graphql").read_text()
MODELS = sorted(READ_MODELS.values(), key=lambda m: m.name)
CHANGING = [m for m in MODELS if m.changed]


def _projector_functions() -> set[str]:
    return {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"
            and r["Properties"]["CodeUri"].rstrip("/").endswith("_projector")}


def test_every_projector_in_the_template_is_registered_and_every_row_has_one():
    assert _projector_functions() == {m.function for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_the_projector_function_runs_the_registered_model(model):
    function = RESOURCES[model.function]["Properties"]
    code = (ROOT / function["CodeUri"] / "app.py").read_text()
    assert f'projector_handler_for("{model.name}")' in code
    rules = [e["Properties"] for e in function["Events"].values() if e["Type"] == "EventBridgeRule"]
    assert [r["Pattern"]["source"] for r in rules] == [[f"chronicle.{model.aggregate_type}"]]
    assert all("DeadLetterConfig" in r for r in rules)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_the_table_exists_is_named_in_the_environment_and_only_its_projector_writes_it(model):
    assert RESOURCES[model.table_resource]["Type"] == "AWS::DynamoDB::Table"
    environment = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert environment[model.table_env] == {"Ref": model.table_resource}
    writers = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"
               and _writes(r, model.table_resource)}
    assert writers == {model.function}


WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _writes(function: dict, table: str) -> bool:
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if WRITES & set(actions) and re.search(rf'"{table}[".]', json.dumps(statement.get("Resource"))):
                return True
    return False


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_rebuild_has_an_option_for_the_model(model):
    from chronicle.cli import build_parser

    args = build_parser().parse_args(["projections", "rebuild", "--read-model", model.name,
                                      f"--{model.option}", "t"])
    assert getattr(args, model.option.replace("-", "_")) == "t"


def test_models_that_announce_changes_are_the_template_subscriptions_and_the_schema_mutations():
    mutations = set(re.findall(r"^\s*publish(\w+)Changed\(", SCHEMA, re.M))
    resolvers = {m.group(1) for name in RESOURCES if (m := re.fullmatch(r"MutationPublish(\w+)ChangedResolver", name))}
    assert {m.changed for m in CHANGING} == mutations == resolvers


@pytest.mark.parametrize("model", CHANGING, ids=lambda m: m.name)
def test_the_change_subscription_is_fully_wired(model):
    changed = model.changed
    assert re.search(rf"^type {changed}Change\b[^{{]*\{{", SCHEMA, re.M)  # auth directives may follow
    assert re.search(rf'on{changed}Changed\(id: ID\): {changed}Change @aws_subscribe\(mutations: '
                     rf'\["publish{changed}Changed"\]\)', SCHEMA)
    rule = RESOURCES[f"{changed}ChangedSubscriptionRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["chronicle.projections"], "detail-type": [f"{changed}Changed"]}
    (target,) = rule["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": ["ChangeSubscriptionRole", "Arn"]}
    assert f"publish{changed}Changed(" in target["AppSyncParameters"]["GraphQLOperation"]
    granted = json.dumps(RESOURCES["ChangeSubscriptionRole"]["Properties"]["Policies"])
    assert f"/types/Mutation/fields/publish{changed}Changed" in granted


def _resolver_code(changed: str) -> str:
    code = RESOURCES[f"MutationPublish{changed}ChangedResolver"]["Properties"]["Code"]["Fn::Sub"]
    values = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "ChangeSubscriptionRole": "stack-Rule-X"}
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], code)


RUN_RESOLVER = """
const util = { unauthorized() { throw new Error('Unauthorized'); } };
%s
const answers = [];
for (const identity of %s) {
  try { answers.push(JSON.stringify(request({ args: { id: 'p', version: 1, eventType: 'E' }, identity }))); }
  catch (error) { answers.push(error.message); }
}
console.log(JSON.stringify(answers));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the APPSYNC_JS resolver")
@pytest.mark.parametrize("model", CHANGING, ids=lambda m: m.name)
def test_only_the_rule_role_may_publish_a_change(model):
    code = _resolver_code(model.changed).replace("import { util } from '@aws-appsync/utils';", "")
    code = code.replace("export function", "function")
    identities = [
        {"userArn": "arn:aws:sts::123456789012:assumed-role/stack-Rule-X/a1b2c3"},  # the rule, as EventBridge calls
        {"userArn": "arn:aws:sts::123456789012:assumed-role/Admin/mallory"},  # any other principal with GraphQL
        {"userArn": "arn:aws:sts::123456789012:assumed-role/stack-Rule-X-longer/a"},  # a role whose name extends it
        {"userArn": "arn:aws:iam::123456789012:user/stack-Rule-X"},
        None,  # no identity (an API key or another mode)
    ]
    out = subprocess.run(["node", "-e", RUN_RESOLVER % (code, json.dumps(identities))], capture_output=True,
                         text=True, check=True).stdout
    answers = json.loads(out)
    assert json.loads(answers[0]) == {"payload": {"id": "p", "version": 1, "eventType": "E"}}
    assert answers[1:] == ["Unauthorized"] * 4
