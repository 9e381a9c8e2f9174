"""Create the resources of the repo's ``template.yaml`` in the embedded emulator with plain boto3 calls.

Why not moto's CloudFormation: state machines it creates are not seen by the executing Step Functions backend,
and ``EventBusName: !Ref SomeBus`` in a rule crashes it (see DESIGN.md). So this module reads the SAM template
itself and understands the small part of CloudFormation the project uses:

- ``Fn::ForEach`` (the ``AWS::LanguageExtensions`` transform) in Resources, Conditions and Outputs, expanded on load:
  the loop's identifier is replaced in keys, in strings (``${Id}``, ``&{Id}``) and in ``Ref: Id``;
- intrinsics: ``Ref`` (parameters with their Default, pseudo parameters ``AWS::StackName`` = ``chronicle``,
  ``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``, ``AWS::URLSuffix``, ``AWS::NoValue``; resources),
  ``Fn::GetAtt`` (``Arn``, ``Name``, ``StreamArn``, ``QueueUrl``, ``QueueName``), ``Fn::Sub`` (both forms),
  ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If``/``Conditions`` (Equals/Not/And/Or);
- resources: ``AWS::DynamoDB::Table``, ``AWS::Events::EventBus``, ``AWS::S3::Bucket``, ``AWS::SQS::Queue``,
  ``AWS::Serverless::Function`` (Globals.Function merged; ``EventBridgeRule`` and ``SQS`` events),
  ``AWS::KMS::Key``, ``AWS::Lambda::EventSourceMapping`` (SQS: polled by ``chronicle.local.queues``; DynamoDB streams: read by
  ``chronicle.local.streams``),
  ``AWS::Events::Rule`` (Lambda/SQS targets; AppSync targets go to ``Stack.graphql_targets``), ``AWS::Serverless::StateMachine`` /
  ``AWS::StepFunctions::StateMachine`` (DefinitionUri/Definition + DefinitionSubstitutions).
  Everything else (IAM, Logs, Api, AppSync, layers, alarms ...) is skipped with a debug log.

Resources are created in dependency order (Ref/GetAtt/Sub/DependsOn), so attributes only known after
creation (a table's StreamArn) resolve like in CloudFormation. Physical names the template leaves open are
deterministic (``chronicle-<LogicalId>``) so that persisted state finds its tables again after a restart.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .account import ACCOUNT_ID, REGION
from .seam import HandlerSpec

log = logging.getLogger("chronicle.local.stack")

STACK_NAME = "chronicle"
NO_VALUE = object()


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


# ---------------------------------------------------------------------------------------------------------
# YAML with CloudFormation short-form tags


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag_constructor(name: str):
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _tag_constructor(_tag))
for _fn in ("GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
            "Base64", "GetAZs", "ImportValue", "Cidr", "Length", "ToJsonString", "Transform"):
    _CfnLoader.add_constructor(f"!{_fn}", _tag_constructor(f"Fn::{_fn}"))


def load_template(path: str | Path) -> dict[str, Any]:
    """The template with every ``Fn::ForEach`` expanded, as CloudFormation sees it after AWS::LanguageExtensions."""
    with open(path, encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict) or "Resources" not in doc:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    for section in ("Conditions", "Resources", "Outputs"):
        if isinstance(doc.get(section), dict):
            doc[section] = expand_for_each(doc[section])
    return doc


def expand_for_each(section: dict[str, Any]) -> dict[str, Any]:
    """Expand ``Fn::ForEach::<Loop>: [Identifier, [values], {OutputKey: fragment}]`` entries (nested loops too).

    Only literal collections: the template's loops list their values (a parameter would make the local stack
    and the deployed one differ by what was passed at deploy time).
    """
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = value
            continue
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[1], list)
                and isinstance(value[2], dict)):
            raise TemplateError(f"{key}: expected [Identifier, [literal values], {{OutputKey: fragment}}]")
        identifier, collection, fragment = value
        for item in collection:
            for name, resolved in expand_for_each(_bind(fragment, identifier, str(item))).items():
                if name in out or name in section:
                    raise TemplateError(f"{key}: {name} is generated twice")
                out[name] = resolved
    return out


def _bind(value: Any, identifier: str, item: str) -> Any:
    """``value`` with the loop identifier replaced by one item of the collection."""
    if isinstance(value, str):
        alnum = re.sub(r"[^A-Za-z0-9]", "", item)
        return value.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", alnum)
    if isinstance(value, list):
        return [_bind(v, identifier, item) for v in value]
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        return {_bind(k, identifier, item): _bind(v, identifier, item) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------------
# The stack


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


@dataclass
class GraphQLTarget:
    """An EventBridge rule target that calls the GraphQL API (AppSyncParameters)."""

    rule: str
    operation: str
    input_transformer: dict[str, Any] | None = None
    input: str | None = None


@dataclass
class QueueConsumer:
    """A function's SQS event source."""

    queue_url: str
    queue_arn: str
    function_arn: str
    batch_size: int = 10
    report_failures: bool = False


@dataclass
class StreamConsumer:
    """A function's DynamoDB stream event source (chronicle.local.streams)."""

    stream_arn: str
    function_arn: str
    batch_size: int = 100
    report_failures: bool = False
    filters: list[str] = field(default_factory=list)  # FilterCriteria patterns (EventBridge syntax)
    max_retries: int = 3
    on_failure: str | None = None  # DestinationConfig.OnFailure queue ARN
    starting_position: str = "LATEST"

    def matches(self, record: dict[str, Any]) -> bool:
        if not self.filters:
            return True
        if not hasattr(self, "_patterns"):
            from moto.events.models import EventPattern  # Lambda filters use EventBridge's pattern syntax

            self._patterns = [EventPattern.load(pattern) for pattern in self.filters]
        return any(pattern.matches_event(record) for pattern in self._patterns)


@dataclass
class Stack:
    template_path: Path
    resources: dict[str, Resource] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    handlers: dict[str, HandlerSpec] = field(default_factory=dict)  # function name -> code
    state_machines: dict[str, str] = field(default_factory=dict)  # name -> arn
    graphql_targets: list[GraphQLTarget] = field(default_factory=list)
    queue_consumers: list[QueueConsumer] = field(default_factory=list)
    stream_consumers: list[StreamConsumer] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == type_ and not r.skipped]

    @property
    def tables(self) -> dict[str, str]:
        return {r.logical_id: r.physical_id for r in self.of_type("AWS::DynamoDB::Table")}  # type: ignore[misc]

    @property
    def buckets(self) -> dict[str, str]:
        return {r.logical_id: r.physical_id for r in self.of_type("AWS::S3::Bucket")}  # type: ignore[misc]


_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


class StackBuilder:
    """Resolve and create one template's resources (see module doc)."""

    def __init__(self, template_path: str | Path, session: Any = None, stack_name: str = STACK_NAME,
                 parameter_overrides: dict[str, str] | None = None, key_ring: Any = None) -> None:
        import boto3

        self.template_path = Path(template_path).resolve()
        self.base_dir = self.template_path.parent
        self.template = load_template(self.template_path)
        self.stack_name = stack_name
        self.session = session or boto3.session.Session(region_name=REGION)
        self.params = self._parameters(parameter_overrides or {})
        self.conditions = self.template.get("Conditions") or {}
        self._condition_cache: dict[str, bool] = {}
        self.stack = Stack(self.template_path)
        self._role_arn: str | None = None
        self._clients: dict[str, Any] = {}
        self.key_ring = key_ring

    # -- plumbing --------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, decl in (self.template.get("Parameters") or {}).items():
            if name in overrides:
                values[name] = overrides[name]
            elif "Default" in decl:
                values[name] = decl["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            is_list = str(decl.get("Type", "")).startswith("List<") or decl.get("Type") == "CommaDelimitedList"
            if is_list and isinstance(values[name], str):
                values[name] = values[name].split(",")
        return values

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }.get(name, KeyError)

    # -- conditions ------------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise TemplateError(f"unknown condition {name}")
            self._condition_cache[name] = bool(self._eval_condition(self.conditions[name]))
        return self._condition_cache[name]

    def _eval_condition(self, expr: Any) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), = expr.items()
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self._eval_condition(arg[0])
            if key == "Fn::And":
                return all(self._eval_condition(x) for x in arg)
            if key == "Fn::Or":
                return any(self._eval_condition(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
        return bool(self.resolve(expr))

    # -- intrinsics ------------------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        value = self.pseudo(name)
        if value is not KeyError:
            return value
        res = self.stack.resources.get(name)
        if res is not None and res.skipped:
            return self._placeholder(res)
        if res is None or res.physical_id is None:
            raise TemplateError(f"Ref {name}: not a parameter or a created resource")
        return res.attributes.get("Ref", res.physical_id)

    def _placeholder(self, res: Resource, attr: str = "") -> str:
        """A reference to a resource that is not emulated (IAM, Logs, a layer ...): a recognisable dummy."""
        log.debug("reference to %s%s, which is not emulated locally", res.logical_id, f".{attr}" if attr else "")
        return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:not-emulated/{self.stack_name}-{res.logical_id}"

    def get_att(self, name: str, attr: str) -> Any:
        res = self.stack.resources.get(name)
        if res is not None and res.skipped:
            return self._placeholder(res, attr)
        if res is None:
            raise TemplateError(f"GetAtt {name}.{attr}: no such resource")
        if attr not in res.attributes:
            raise TemplateError(f"GetAtt {name}.{attr}: attribute not supported locally")
        return res.attributes[attr]

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def repl(m: re.Match[str]) -> str:
            var = m.group(1).strip()
            if var in variables:
                return str(variables[var])
            if "." in var and not var.startswith("AWS::"):
                res, att = var.split(".", 1)
                return str(self.get_att(res, att))
            return str(self.ref(var))

        out = _SUB_VAR.sub(repl, text)
        return out.replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(parts[0], self.resolve(parts[1]))
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(x) for x in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg))
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported locally")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    # -- dependency order ------------------------------------------------------------------------------
    def _deps(self, logical_id: str, decl: dict[str, Any]) -> set[str]:
        names = set(self.template["Resources"])
        found: set[str] = set()

        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "Ref" and isinstance(x, str):
                        found.add(x)
                    elif k == "Fn::GetAtt":
                        found.add(x.split(".")[0] if isinstance(x, str) else x[0])
                    elif k == "Fn::Sub":
                        text = x[0] if isinstance(x, list) else x
                        for var in _SUB_VAR.findall(text):
                            found.add(var.split(".")[0].strip())
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)

        walk(decl.get("Properties"))
        if decl.get("Type") == "AWS::Serverless::Function":
            walk((self.template.get("Globals") or {}).get("Function"))
        dep = decl.get("DependsOn") or []
        found.update([dep] if isinstance(dep, str) else dep)
        found.discard(logical_id)
        return found & names

    def _order(self) -> list[str]:
        resources = self.template["Resources"]
        deps = {lid: self._deps(lid, decl) for lid, decl in resources.items()}
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(lid: str, path: tuple[str, ...]) -> None:
            if state.get(lid) == 2:
                return
            if state.get(lid) == 1:
                raise TemplateError(f"circular dependency: {' -> '.join(path + (lid,))}")
            state[lid] = 1
            for d in sorted(deps[lid]):
                visit(d, path + (lid,))
            state[lid] = 2
            order.append(lid)

        for lid in resources:
            visit(lid, ())
        return order

    # -- build -----------------------------------------------------------------------------------------
    def build(self) -> Stack:
        globals_fn = (self.template.get("Globals") or {}).get("Function") or {}
        for lid in self._order():
            decl = self.template["Resources"][lid]
            type_ = decl.get("Type", "")
            res = Resource(lid, type_)
            self.stack.resources[lid] = res
            if "Condition" in decl and not self.condition(decl["Condition"]):
                res.skipped = True
                log.debug("skip %s (condition %s is false)", lid, decl["Condition"])
                continue
            creator = getattr(self, "_create_" + type_.replace("::", "_"), None)
            if creator is None:
                res.skipped = True
                log.debug("skip %s (%s): not emulated locally", lid, type_)
                continue
            props = dict(decl.get("Properties") or {})
            if type_ == "AWS::Serverless::Function":
                props = _merge_globals(globals_fn, props)
            creator(res, props)
        return self.stack

    def _name(self, res: Resource, props: dict[str, Any], key: str, lower: bool = False) -> str:
        if props.get(key) is not None:
            return str(self.resolve(props[key]))
        name = f"{self.stack_name}-{res.logical_id}"
        return name.lower() if lower else name

    def _create_AWS_DynamoDB_Table(self, res: Resource, props: dict[str, Any]) -> None:
        p = self.resolve(props)
        name = self._name(res, props, "TableName")
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        throughput = p.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if args["BillingMode"] != "PAY_PER_REQUEST":
            args["ProvisionedThroughput"] = throughput
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if p.get(key):
                indexes = []
                for idx in p[key]:
                    idx = {k: v for k, v in idx.items() if k not in ("ContributorInsightsSpecification",)}
                    if key == "GlobalSecondaryIndexes" and args["BillingMode"] != "PAY_PER_REQUEST":
                        idx.setdefault("ProvisionedThroughput", throughput)
                    indexes.append(idx)
                args[key] = indexes
        if p.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        desc = self.client("dynamodb").create_table(**args)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.client("dynamodb").update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        res.physical_id = name
        res.attributes = {"Arn": desc["TableArn"], "Name": name}
        if desc.get("LatestStreamArn"):
            res.attributes["StreamArn"] = desc["LatestStreamArn"]
        log.debug("table %s", name)

    def _create_AWS_Events_EventBus(self, res: Resource, props: dict[str, Any]) -> None:
        name = self._name(res, props, "Name")
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        res.physical_id = name
        res.attributes = {"Arn": arn, "Name": name}

    def _create_AWS_S3_Bucket(self, res: Resource, props: dict[str, Any]) -> None:
        name = self._name(res, props, "BucketName", lower=True)
        self.client("s3").create_bucket(Bucket=name)
        p = self.resolve(props)
        if (p.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            self.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        res.physical_id = name
        res.attributes = {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}

    def _create_AWS_SQS_Queue(self, res: Resource, props: dict[str, Any]) -> None:
        p = self.resolve(props)
        name = self._name(res, props, "QueueName")
        attrs = {}
        if p.get("FifoQueue"):
            attrs["FifoQueue"] = "true"
            if not name.endswith(".fifo"):
                name += ".fifo"
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
            if key in p:
                attrs[key] = str(p[key])
        if "RedrivePolicy" in p:
            attrs["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        res.physical_id = url
        res.attributes = {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", "QueueName": name, "QueueUrl": url}

    def _create_AWS_KMS_Key(self, res: Resource, props: dict[str, Any]) -> None:
        p = self.resolve(props)
        args = {k: p[k] for k in ("Description", "KeySpec", "KeyUsage") if p.get(k)}
        meta = self.client("kms").create_key(**args)["KeyMetadata"]
        key_id, arn = meta["KeyId"], meta["Arn"]
        if self.key_ring is not None:  # the same key id and material as the previous run (local/kms_keys.py)
            key_id, arn = self.key_ring.adopt(res.logical_id, key_id)
        res.physical_id = key_id
        res.attributes = {"Arn": arn, "KeyId": key_id}

    def _lambda_role(self) -> str:
        if self._role_arn is None:
            iam = self.client("iam")
            name = f"{self.stack_name}-local-lambda-role"
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                              "Principal": {"Service": ["lambda.amazonaws.com",
                                                                                        "states.amazonaws.com"]}}]}
            try:
                self._role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            except iam.exceptions.EntityAlreadyExistsException:
                self._role_arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        return self._role_arn

    def _create_AWS_Serverless_Function(self, res: Resource, props: dict[str, Any]) -> None:
        used = ("CodeUri", "Handler", "Runtime", "Timeout", "MemorySize", "Environment")
        p = self.resolve({k: v for k, v in props.items() if k in used})  # not Layers, Policies, ...
        name = self._name(res, props, "FunctionName")
        code_uri = p.get("CodeUri")
        handler = p.get("Handler")
        if not isinstance(code_uri, str) or not handler:
            res.skipped = True
            log.warning("skip %s: only a local CodeUri + Handler can run in-process", res.logical_id)
            return
        env = {k: str(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
        for key, value in env.items():
            if key in self.stack.environment and self.stack.environment[key] != value:
                raise TemplateError(
                    f"{res.logical_id}: environment variable {key}={value!r} differs from another function's "
                    f"{self.stack.environment[key]!r}; the local runtime runs every handler in one process, so "
                    f"all functions must share one Environment (template Globals)"
                )
            self.stack.environment[key] = value
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("README.txt", "code runs in-process from the repository (chronicle.local.seam)")
        args: dict[str, Any] = {
            "FunctionName": name, "Runtime": p.get("Runtime", "python3.12"), "Role": self._lambda_role(),
            "Handler": handler, "Code": {"ZipFile": buf.getvalue()},
            "Timeout": int(p.get("Timeout", 3)), "MemorySize": int(p.get("MemorySize", 128)),
        }
        if env:
            args["Environment"] = {"Variables": env}
        arn = self.client("lambda").create_function(**args)["FunctionArn"]
        res.physical_id = name
        res.attributes = {"Arn": arn, "Name": name}
        self.stack.handlers[name] = HandlerSpec((self.base_dir / code_uri).resolve(), handler,
                                                args["Timeout"], args["MemorySize"])
        for event_id, event in (props.get("Events") or {}).items():
            if event.get("Type") == "EventBridgeRule":
                self._function_eventbridge_rule(res, event_id, self.resolve(event.get("Properties") or {}), arn)
            elif event.get("Type") == "SQS":
                q = self.resolve(event.get("Properties") or {})
                self._queue_consumer(q["Queue"], arn, q)
            else:
                log.debug("skip %s event %s (%s): not emulated locally", res.logical_id, event_id, event.get("Type"))

    def _function_eventbridge_rule(self, res: Resource, event_id: str, p: dict[str, Any], fn_arn: str) -> None:
        rule_name = p.get("RuleName") or f"{self.stack_name}-{res.logical_id}-{event_id}"[:64]
        bus = _bus_name(p.get("EventBusName", "default"))
        args: dict[str, Any] = {"Name": rule_name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
        args["EventPattern"] = json.dumps(p.get("Pattern") or {})
        self.client("events").put_rule(**args)
        target: dict[str, Any] = {"Id": (p.get("Target") or {}).get("Id", f"{res.logical_id}Target"), "Arn": fn_arn}
        for key in ("Input", "InputPath"):
            if key in p:
                target[key] = p[key]
        if p.get("RetryPolicy"):
            target["RetryPolicy"] = p["RetryPolicy"]
        dlq = p.get("DeadLetterConfig") or {}
        if dlq.get("Arn"):
            target["DeadLetterConfig"] = {"Arn": dlq["Arn"]}
        elif dlq.get("Type") == "SQS":  # SAM creates the queue
            queue = Resource(dlq.get("QueueLogicalId") or f"{res.logical_id}{event_id}Queue", "AWS::SQS::Queue")
            self._create_AWS_SQS_Queue(queue, {})
            self.stack.resources.setdefault(queue.logical_id, queue)
            target["DeadLetterConfig"] = {"Arn": queue.attributes["Arn"]}
        self.client("events").put_targets(Rule=rule_name, EventBusName=bus, Targets=[target])
        log.debug("rule %s on %s -> %s", rule_name, bus, fn_arn)

    def _queue_consumer(self, queue_arn: str, function_arn: str, p: dict[str, Any]) -> None:
        """An SQS event source. Not a moto event source mapping (moto invokes those inside SendMessage, once, and
        never retries): the local runtime polls the queue itself (chronicle.local.queues)."""
        if ":sqs:" not in queue_arn:
            log.debug("skip event source %s: only SQS is emulated locally", queue_arn)
            return
        self.stack.queue_consumers.append(QueueConsumer(
            queue_url=self.client("sqs").get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"],
            queue_arn=queue_arn, function_arn=function_arn, batch_size=int(p.get("BatchSize", 10)),
            report_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or [])))

    def _stream_consumer(self, stream_arn: str, function_arn: str, p: dict[str, Any]) -> None:
        """A DynamoDB stream event source, read by the local runtime itself (chronicle.local.streams). It starts
        at the stream's end whatever StartingPosition says: loaded state is not new (docs/local-runtime.md)."""
        retries = int(p.get("MaximumRetryAttempts", -1))
        self.stack.stream_consumers.append(StreamConsumer(
            stream_arn=stream_arn, function_arn=function_arn, batch_size=min(int(p.get("BatchSize", 100)), 1000),
            report_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
            filters=[f["Pattern"] for f in (p.get("FilterCriteria") or {}).get("Filters", [])],
            max_retries=3 if retries < 0 else min(retries, 3),
            on_failure=((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")))

    def _create_AWS_Lambda_EventSourceMapping(self, res: Resource, props: dict[str, Any]) -> None:
        p = self.resolve(props)
        function = p["FunctionName"]
        if not function.startswith("arn:"):
            function = self.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        if ":dynamodb:" in p["EventSourceArn"] and "/stream/" in p["EventSourceArn"]:
            self._stream_consumer(p["EventSourceArn"], function, p)
        else:
            self._queue_consumer(p["EventSourceArn"], function, p)
        res.physical_id = f"{self.stack_name}-{res.logical_id}"
        res.attributes = {}

    def _create_AWS_Events_Rule(self, res: Resource, props: dict[str, Any]) -> None:
        p = self.resolve(props)
        name = self._name(res, props, "Name")
        bus = _bus_name(p.get("EventBusName", "default"))
        args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": p.get("State", "ENABLED")}
        if "EventPattern" in p:
            pattern = p["EventPattern"]
            args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in p:
            args["ScheduleExpression"] = p["ScheduleExpression"]
        arn = self.client("events").put_rule(**args)["RuleArn"]
        targets = []
        for t in p.get("Targets") or []:
            if "AppSyncParameters" in t:  # moto cannot call AppSync: the local runtime runs these itself
                self.stack.graphql_targets.append(GraphQLTarget(
                    rule=name, operation=t["AppSyncParameters"]["GraphQLOperation"],
                    input_transformer=t.get("InputTransformer"), input=t.get("Input")))
            elif ":lambda:" in t.get("Arn", "") or ":sqs:" in t.get("Arn", ""):
                keep = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig",
                        "SqsParameters")
                targets.append({k: v for k, v in t.items() if k in keep})
            else:
                log.debug("skip target %s of rule %s: not emulated locally", t.get("Arn"), name)
        if targets:
            self.client("events").put_targets(Rule=name, EventBusName=bus, Targets=targets)
        res.physical_id = name if bus == "default" else f"{bus}|{name}"
        res.attributes = {"Arn": arn}

    def _create_AWS_Serverless_StateMachine(self, res: Resource, props: dict[str, Any]) -> None:
        args = self.state_machine_args(res, props)
        arn = self.client("stepfunctions").create_state_machine(**args)["stateMachineArn"]
        res.physical_id = arn
        res.attributes = {"Arn": arn, "Name": args["name"], "Ref": arn}
        self.stack.state_machines[args["name"]] = arn
        log.debug("state machine %s (%s)", args["name"], args["type"])

    def state_machine_args(self, res: Resource, props: dict[str, Any]) -> dict[str, Any]:
        """CreateStateMachine's arguments for a state machine resource (its definition resolved); also what
        ``chronicle local --watch`` compares to update a running stack's definitions."""
        used = ("DefinitionUri", "Definition", "DefinitionString", "DefinitionSubstitutions", "Type", "StateMachineType")
        p = self.resolve({k: v for k, v in props.items() if k in used})  # not Logging, Policies, Role, ...
        if "DefinitionUri" in p:
            uri = p["DefinitionUri"]
            if not isinstance(uri, str):
                raise TemplateError(f"{res.logical_id}: DefinitionUri must be a local path")
            definition = (self.base_dir / uri).read_text(encoding="utf-8")
        elif "Definition" in p:
            definition = json.dumps(p["Definition"])
        else:
            definition = p.get("DefinitionString")
            if definition is None:
                raise TemplateError(f"{res.logical_id}: no Definition/DefinitionUri/DefinitionString")
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)))
        if leftover:
            log.warning("%s: unresolved DefinitionSubstitutions %s", res.logical_id, leftover)
        json.loads(definition)  # fail here, with the resource name, rather than inside moto
        name = self._name(res, props, "Name" if "Name" in props else "StateMachineName")
        return {"name": name, "definition": definition, "roleArn": self._lambda_role(),
                "type": p.get("Type", p.get("StateMachineType", "STANDARD"))}

    def _create_AWS_StepFunctions_StateMachine(self, res: Resource, props: dict[str, Any]) -> None:
        self._create_AWS_Serverless_StateMachine(res, props)


def _bus_name(value: Any) -> str:
    value = str(value or "default")
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _merge_globals(globals_fn: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (the function wins), lists/scalars are replaced by the function's."""
    out: dict[str, Any] = dict(globals_fn)
    for key, value in props.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_dict(out[key], value)
        else:
            out[key] = value
    return out


def _merge_dict(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge_dict(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_stack(template_path: str | Path, session: Any = None, stack_name: str = STACK_NAME,
                parameter_overrides: dict[str, str] | None = None, key_ring: Any = None) -> Stack:
    return StackBuilder(template_path, session=session, stack_name=stack_name,
                        parameter_overrides=parameter_overrides, key_ring=key_ring).build()
