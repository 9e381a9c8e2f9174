"""template.yaml and statemachine/ edits for `chronicle local --watch` (chronicle.local.watch).

The edited template is resolved against the running stack's resources (their physical names and ARNs), without
creating anything: :meth:`StackReloader.plan` computes every state machine's definition and every changed
function's code and environment, and raises :class:`~chronicle.local.watch.ReloadError` when any of it does not
resolve. :meth:`StackReloader.apply` then updates the definitions in place (UpdateStateMachine: executions
already running finish on the definition they started with, as in AWS). Other resources are not re-created: a
change to one is reported as needing a restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .emulator import REGION
from .seam import HandlerSpec
from .stack import StackBuilder, _merge_globals, load_template

STATE_MACHINES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
FUNCTION = "AWS::Serverless::Function"


@dataclass
class Plan:
    template: dict[str, Any]
    definitions: dict[str, str] = field(default_factory=dict)  # state machine arn -> new definition
    handlers: dict[str, HandlerSpec] = field(default_factory=dict)  # function name -> code
    environment: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    return {lid: _merge_globals(globals_fn, dict(decl.get("Properties") or {}))
            for lid, decl in (template.get("Resources") or {}).items() if decl.get("Type") == FUNCTION}


class StackReloader:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.template = load_template(runtime.template_path)  # what the running stack was built from

    def _builder(self) -> StackBuilder:
        import boto3

        builder = StackBuilder(self.runtime.template_path, session=boto3.session.Session(region_name=REGION),
                               parameter_overrides=self.runtime.parameter_overrides())
        builder.stack.resources = dict(self.runtime.stack.resources)  # Ref / GetAtt name what is running
        return builder

    def plan(self) -> Plan:
        from .watch import ReloadError

        try:
            builder = self._builder()
            plan = Plan(builder.template)
            self._restart_notes(plan)
            self._plan_state_machines(builder, plan)
            self._plan_functions(builder, plan)
        except ReloadError:
            raise
        except Exception as error:  # noqa: BLE001 - any resolve failure: report it, change nothing
            raise ReloadError(f"template.yaml: {type(error).__name__}: {error}") from None
        return plan

    def _restart_notes(self, plan: Plan) -> None:
        old, new = self.template.get("Resources") or {}, plan.template.get("Resources") or {}
        handled = (*STATE_MACHINES, FUNCTION)
        restart = sorted(lid for lid in set(old) | set(new) if old.get(lid) != new.get(lid)
                         and not (lid in old and lid in new and new[lid].get("Type") in handled))
        if restart:
            plan.notes.append(f"{', '.join(restart)} changed: resources are created when the stack starts; "
                              "restart `chronicle local` for that part (state is kept)")

    def _plan_state_machines(self, builder: StackBuilder, plan: Plan) -> None:
        sfn = builder.client("stepfunctions")
        for lid, decl in (plan.template.get("Resources") or {}).items():
            res = builder.stack.resources.get(lid)
            if decl.get("Type") not in STATE_MACHINES or res is None or res.skipped or not res.physical_id:
                continue
            definition = builder.state_machine_args(res, dict(decl.get("Properties") or {}))["definition"]
            if sfn.describe_state_machine(stateMachineArn=res.physical_id)["definition"] != definition:
                plan.definitions[res.physical_id] = definition
        if plan.definitions:
            names = sorted(arn.rsplit(":", 1)[-1] for arn in plan.definitions)
            plan.notes.append(f"state machine definitions updated: {', '.join(names)}")

    def _plan_functions(self, builder: StackBuilder, plan: Plan) -> None:
        old = _functions(self.template)
        for lid, props in _functions(plan.template).items():
            res = builder.stack.resources.get(lid)
            if old.get(lid) == props or res is None or res.skipped or not res.physical_id:
                continue
            used = ("CodeUri", "Handler", "Timeout", "MemorySize", "Environment")
            p = builder.resolve({k: v for k, v in props.items() if k in used})
            plan.handlers[res.physical_id] = HandlerSpec((builder.base_dir / str(p["CodeUri"])).resolve(),
                                                         str(p["Handler"]), int(p.get("Timeout", 3)),
                                                         int(p.get("MemorySize", 128)))
            env = (p.get("Environment") or {}).get("Variables") or {}
            plan.environment.update({k: str(v) for k, v in env.items()})

    def apply(self, plan: Plan) -> None:
        import boto3

        sfn = boto3.session.Session(region_name=REGION).client("stepfunctions")
        for arn, definition in plan.definitions.items():
            sfn.update_state_machine(stateMachineArn=arn, definition=definition)
        os.environ.update(plan.environment)
        self.runtime.stack.environment.update(plan.environment)
        self.template = plan.template
