"""A command exists everywhere or nowhere: its schema, its decider, its state machine, the API route, the README.

Adding a command costs its schema, its decide branch, its tests, a name in template.yaml's command list, and an ASL
file only where its workflow has steps of its own (docs/architecture.md, "Adding a command"). These checks fail
when one of those places is forgotten, and when two workflows are copies of each other.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from chronicle.domain import all_commands
from chronicle.local.server import _COMMAND_TYPE
from chronicle.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
PREFIX = "${AWS::StackName}-command-"


def state_machine_commands() -> set[str]:
    names = (r["Properties"]["Name"]["Fn::Sub"] for r in RESOURCES.values()
             if r["Type"] == "AWS::Serverless::StateMachine")
    return {name.removeprefix(PREFIX) for name in names if name.startswith(PREFIX)}


def schema_commands() -> set[str]:
    return {p.name.removesuffix(".json") for p in (ROOT / "schemas" / "commands").glob("*.json")}


def readme_commands() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Commands available now", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)[ `]", section, re.M))


def missing(places: dict[str, set[str]]) -> dict[str, list[str]]:
    everything = set().union(*places.values())
    return {place: sorted(everything - found) for place, found in places.items() if everything - found}


def test_every_command_is_in_every_place():
    places = {"schemas/commands": schema_commands(), "decider": all_commands(),
              "template.yaml state machines": state_machine_commands(), "README table": readme_commands()}
    assert "CreateProject" in places["README table"]
    assert not missing(places), f"commands missing from some places: {missing(places)}"


def test_every_command_name_is_routable():
    for command in all_commands():
        assert _COMMAND_TYPE.match(command), command


def test_a_command_missing_from_one_place_is_caught():
    places = {"schemas/commands": schema_commands(), "decider": all_commands() | {"ArchiveTheWorld"}}
    assert missing(places) == {"schemas/commands": ["ArchiveTheWorld"]}


def _shape(path: Path) -> list[str]:
    """An ASL definition without its comments, one line per JSON token group: what a copy would share."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "Comment"}
        return [strip(v) for v in value] if isinstance(value, list) else value
    return json.dumps(strip(json.loads(path.read_text())), indent=1, sort_keys=True).splitlines()


def test_no_two_state_machine_definitions_are_copies():
    files = sorted((ROOT / "statemachine").glob("*.asl.json"))
    for i, a in enumerate(files):
        for b in files[i + 1:]:
            ratio = difflib.SequenceMatcher(None, _shape(a), _shape(b)).ratio()
            assert ratio <= 0.9, f"{a.name} and {b.name} are {ratio:.0%} alike: share one definition instead"


def test_each_definition_file_is_used():
    used = {r["Properties"].get("DefinitionUri") for r in RESOURCES.values()
            if r["Type"] == "AWS::Serverless::StateMachine"}
    for path in (ROOT / "statemachine").glob("*.asl.json"):
        assert f"statemachine/{path.name}" in used, f"{path.name} is not deployed"
