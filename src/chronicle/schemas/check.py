"""`chronicle schemas check`: what CI refuses about `schemas/` (see docs/event-versioning.md).

Problems (any one fails the check):

- a schema file is not JSON, not JSON Schema 2020-12 (`$schema` and `check_schema`), or leaves
  `additionalProperties` (or `unevaluatedProperties`) undecided at its top level;
- a released file changed or disappeared, or a schema file is not released yet. `schemas/lock.json` records
  the sha256 of every released file: `events/<T>/v<N>.json`, `commands/<C>.json` and `command-envelope.json`.
  `chronicle schemas lock` releases new files; event versions never change once released, command schemas
  (the public API) may change only backward compatibly and are re-locked explicitly (`lock --accept FILE`);
- event versions are not 1..N without gaps, a version has no sample, or a sample does not validate;
- a version N>1 has no upcaster from N-1, an upcaster is a stub, fails, modifies its input, or turns a vN-1
  sample into data that vN refuses; an upcaster is registered for a step that does not exist;
- a command (a state machine in template.yaml, the aggregates' commands) or an event type (the aggregates' event_types,
  and the `("EventType", data)` tuples the deciders return) has no schema.

Notes (informational): whether each version N>1 is backward compatible, i.e. every vN-1 sample is valid against
vN unchanged (new readers read old data), or needs its upcaster.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from chronicle.schemas.ecma import Validator

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
LOCK_FILE = "lock.json"
VERSION_FILE = re.compile(r"^v(\d+)\.json\Z")
Upcasters = dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]]


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"  - {n}" for n in self.notes]
        lines = (["Event versions (how each reads the one before):"] + lines) if lines else []
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s) that fail the check:")
            lines += [f"  x {p}" for p in self.problems]
            lines.append("schemas check FAILED (see docs/event-versioning.md)")
        else:
            lines.append("schemas check passed: every schema is released and unchanged, every sample valid, "
                         "every upcaster works")
        return "\n".join(lines)


# ---- files and the lock --------------------------------------------------------------------------------
def schema_files(root: Path) -> list[Path]:
    """Every schema file the lock covers: the envelope, each command, each event version."""
    files = [root / "command-envelope.json"] if (root / "command-envelope.json").exists() else []
    files += sorted((root / "commands").glob("*.json"))
    files += sorted(p for p in (root / "events").glob("*/v*.json") if VERSION_FILE.match(p.name))
    return files


def fingerprint(path: Path) -> str:
    """sha256 of the file's JSON in canonical form: reformatting is not a change, any edit of content is."""
    try:
        canonical = json.dumps(json.loads(path.read_text()), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = path.read_text()
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_lock(root: Path) -> dict[str, str]:
    path = root / LOCK_FILE
    return json.loads(path.read_text())["released"] if path.exists() else {}


def write_lock(root: Path, released: dict[str, str]) -> None:
    body = {"description": "sha256 of each released schema (canonical JSON). Written by `chronicle schemas lock`; "
                           "never edit an event version listed here: add a new version. See docs/event-versioning.md.",
            "released": dict(sorted(released.items()))}
    (root / LOCK_FILE).write_text(json.dumps(body, indent=2) + "\n")


def update_lock(root: Path, accept: list[str] = ()) -> list[str]:
    """Release every schema file not in the lock yet; re-lock the command schemas named in `accept`.
    Returns the paths written. Released event versions are never re-locked."""
    released = read_lock(root)
    written = []
    for path in schema_files(root):
        name = path.relative_to(root).as_posix()
        if name not in released or (name in accept and fingerprint(path) != released[name]):
            if name in released and name.startswith("events/"):
                raise ValueError(f"{name} is a released event version: it cannot be re-locked, add a new version")
            released[name] = fingerprint(path)
            written.append(name)
    unknown = [a for a in accept if a not in released]
    if unknown:
        raise ValueError(f"not schema files: {', '.join(unknown)}")
    write_lock(root, released)
    return written


# ---- the check ----------------------------------------------------------------------------------------
def run_check(root: Path, repo: Path | None = None, aggregates: dict | None = None,
              upcasters: Upcasters | None = None) -> CheckReport:
    """Check `root` (the schemas/ directory) against the code of `repo` (default: root's parent).

    Upcasters are loaded from `repo`'s src/chronicle/schemas/upcasters.py (so a copy of the repo is checked
    with its own upcasters); aggregates default to `chronicle.domain.AGGREGATES`."""
    root, repo = Path(root), Path(repo) if repo else Path(root).parent
    report = CheckReport()
    validators = _check_schemas(root, report)
    _check_lock(root, report)
    versions = _event_versions(root, report)
    upcasters = load_upcasters(repo) if upcasters is None else upcasters
    _check_upcasters(root, versions, validators, upcasters, report)
    _check_coverage(root, repo, versions, aggregates, report)
    return report


def _check_schemas(root: Path, report: CheckReport) -> dict[Path, Draft202012Validator]:
    validators = {}
    for path in schema_files(root):
        name = path.relative_to(root).as_posix()
        try:
            schema = json.loads(path.read_text())
        except ValueError as error:
            report.problems.append(f"{name}: not valid JSON ({error})")
            continue
        if not isinstance(schema, dict):
            report.problems.append(f"{name}: a schema must be a JSON object")
            continue
        if schema.get("$schema") != DRAFT_2020_12:
            report.problems.append(f"{name}: $schema must be {DRAFT_2020_12!r}, not {schema.get('$schema')!r}")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            where = "/".join(str(p) for p in error.absolute_path) or "top level"
            report.problems.append(f"{name}: not a valid JSON Schema 2020-12 at {where}: {error.message}")
            continue
        if "additionalProperties" not in schema and "unevaluatedProperties" not in schema:
            report.problems.append(f"{name}: decide `additionalProperties` explicitly at the top level "
                                   "(false for a closed shape, or a schema / true on purpose)")
        validators[path] = Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validators


def _check_lock(root: Path, report: CheckReport) -> None:
    released = read_lock(root)
    if not (root / LOCK_FILE).exists():
        report.problems.append(f"{LOCK_FILE} is missing: run `chronicle schemas lock` to release the current schemas")
    present = {p.relative_to(root).as_posix(): p for p in schema_files(root)}
    for name, digest in sorted(released.items()):
        if name not in present:
            report.problems.append(f"{name}: released, but deleted. Stored data and clients still use it: restore it")
        elif fingerprint(present[name]) != digest:
            if name.startswith("events/"):
                report.problems.append(f"{name}: released event schema changed. Events stored with it must keep "
                                       "reading: restore it (git checkout) and add a new version instead "
                                       "(`chronicle schemas new-version`)")
            else:
                report.problems.append(f"{name}: released command schema changed. Only a backward compatible "
                                       "change (no new required field, nothing removed or narrowed) is allowed; "
                                       f"if it is one, accept it with `chronicle schemas lock --accept {name}`")
    for name in sorted(set(present) - set(released)):
        report.problems.append(f"{name}: not released yet: when it is final, run `chronicle schemas lock` "
                               "and commit schemas/lock.json with it")


def _event_versions(root: Path, report: CheckReport) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = {}
    for folder in sorted(p for p in (root / "events").iterdir() if p.is_dir()):
        for stray in sorted(p for p in folder.iterdir() if p.name != "samples" and not VERSION_FILE.match(p.name)):
            report.problems.append(f"events/{folder.name}/{stray.name}: not a version file (v<N>.json) or samples/")
        numbers = sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.match(p.name)))
        if numbers != list(range(1, len(numbers) + 1)):
            report.problems.append(f"events/{folder.name}: versions must be v1..vN without gaps, found {numbers}")
        if numbers:
            versions[folder.name] = numbers
        for samples in sorted((folder / "samples").glob("*")):
            if not (samples.is_dir() and re.fullmatch(r"v\d+", samples.name) and int(samples.name[1:]) in numbers):
                report.problems.append(f"events/{folder.name}/samples/{samples.name}: no such version")
    return versions


def samples_of(root: Path, event_type: str, version: int) -> list[Path]:
    return sorted((root / "events" / event_type / "samples" / f"v{version}").glob("*.json"))


def load_upcasters(repo: Path) -> Upcasters:
    """UPCASTERS as defined by `repo`'s upcasters.py (a fresh module, not the imported one)."""
    path = repo / "src" / "chronicle" / "schemas" / "upcasters.py"
    if not path.exists():
        from chronicle.schemas.upcasters import UPCASTERS

        return UPCASTERS
    spec = importlib.util.spec_from_file_location(f"_chronicle_check_upcasters_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UPCASTERS


def _check_upcasters(root: Path, versions: dict[str, list[int]], validators: dict[Path, Draft202012Validator],
                     upcasters: Upcasters, report: CheckReport) -> None:
    for (event_type, step) in sorted(upcasters):
        if step + 1 not in versions.get(event_type, []):
            report.problems.append(f"upcaster {event_type} v{step} -> v{step + 1} is registered, "
                                   f"but events/{event_type}/v{step + 1}.json does not exist")
    for event_type, numbers in versions.items():
        for n in numbers:
            validator = validators.get(root / "events" / event_type / f"v{n}.json")
            samples = samples_of(root, event_type, n)
            if not samples:
                report.problems.append(f"events/{event_type}/samples/v{n}/: no sample event; add at least one "
                                       f"*.json holding eventData valid against v{n}")
            if validator is None:
                continue  # already reported as an invalid schema
            for sample in samples:
                for error in _errors(validator, _load(sample, report)):
                    report.problems.append(f"{_rel(root, sample)}: not valid against v{n}: {error}")
            if n > 1:
                _check_step(root, event_type, n, validator, upcasters, report)


def _check_step(root: Path, event_type: str, n: int, validator: Draft202012Validator, upcasters: Upcasters,
                report: CheckReport) -> None:
    """vN-1 -> vN: is vN backward compatible, does the upcaster exist, work, and produce valid vN data?"""
    old_samples = [(s, _load(s, report)) for s in samples_of(root, event_type, n - 1)]
    breaking = [(s, e) for s, data in old_samples for e in _errors(validator, data)[:1]]
    if not old_samples:
        report.notes.append(f"{event_type} v{n}: compatibility unknown (no v{n - 1} samples)")
    elif breaking:
        sample, error = breaking[0]
        problems_before = len(report.problems)
        _check_upcaster(root, event_type, n, validator, upcasters, report, old_samples)
        verdict = f"fine: its upcaster turns every v{n - 1} sample into valid v{n}" \
            if len(report.problems) == problems_before else "WOULD FAIL: see the problems below"
        report.notes.append(f"{event_type} v{n}: changes the shape (v{n - 1} data is not valid v{n}: sample "
                            f"{sample.name}: {error}), so readers need the upcaster v{n - 1} -> v{n}; {verdict}")
        return
    else:
        report.notes.append(f"{event_type} v{n}: backward compatible (every v{n - 1} sample is valid v{n} "
                            "unchanged)")
    _check_upcaster(root, event_type, n, validator, upcasters, report, old_samples)


def _check_upcaster(root: Path, event_type: str, n: int, validator: Draft202012Validator, upcasters: Upcasters,
                    report: CheckReport, old_samples: list[tuple[Path, Any]]) -> None:
    upcaster = upcasters.get((event_type, n - 1))
    label = f"upcaster {event_type} v{n - 1} -> v{n}"
    if upcaster is None:
        report.problems.append(f"{label} is missing: add a function to src/chronicle/schemas/upcasters.py and "
                               f"register it as UPCASTERS[({event_type!r}, {n - 1})]")
        return
    label += f" ({getattr(upcaster, '__name__', upcaster)})"
    for sample, data in old_samples:
        before = copy.deepcopy(data)
        try:
            upcast = upcaster(data)
        except NotImplementedError:
            report.problems.append(f"{label} is a stub: implement it in src/chronicle/schemas/upcasters.py")
            return
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            report.problems.append(f"{label} fails on {_rel(root, sample)}: {type(error).__name__}: {error}")
            continue
        if data != before:
            report.problems.append(f"{label} modifies its input ({_rel(root, sample)}): return a new dict")
        for error in _errors(validator, upcast):
            report.problems.append(f"{label}: its output for {_rel(root, sample)} is not valid v{n}: {error}")


def _check_coverage(root: Path, repo: Path, versions: dict[str, list[int]], aggregates: dict | None,
                    report: CheckReport) -> None:
    if aggregates is None:
        from chronicle.domain import AGGREGATES as aggregates
    commands = {p.stem for p in (root / "commands").glob("*.json")}
    used_commands = {c: "a state machine in template.yaml" for c in _state_machine_commands(repo / "template.yaml")}
    for aggregate in aggregates.values():
        used_commands.update({c: f"aggregate {aggregate.type}" for c in aggregate.commands if c not in used_commands})
    for command, where in sorted(used_commands.items()):
        if command not in commands:
            report.problems.append(f"command {command} ({where}) has no schema: add schemas/commands/{command}.json")
    used_events = {t: f"aggregate {a.type} event_types" for a in aggregates.values() for t in a.event_types}
    used_events.update(emitted_event_types(repo / "src" / "chronicle" / "domain"))
    for event_type, where in sorted(used_events.items()):
        if event_type not in versions:
            report.problems.append(f"event {event_type} ({where}) has no schema: add schemas/events/{event_type}/v1.json "
                                   "and a sample under samples/v1/")


def _state_machine_commands(template: Path) -> set[str]:
    """The commands template.yaml deploys a state machine for (named <stack>-command-<CommandType>)."""
    if not template.is_file():
        return set()
    from chronicle.local.stack import load_template  # expands Fn::ForEach; needs PyYAML (a local extra)

    prefix = "${AWS::StackName}-command-"
    names = [((r.get("Properties") or {}).get("Name") or {}) for r in load_template(template)["Resources"].values()
             if r.get("Type") == "AWS::Serverless::StateMachine"]
    subs = [n.get("Fn::Sub") for n in names if isinstance(n, dict)]
    return {s.removeprefix(prefix) for s in subs if isinstance(s, str) and s.startswith(prefix)}


def emitted_event_types(domain: Path) -> dict[str, str]:
    """The event types the deciders return: the string heading each `(eventType, data)` tuple of a returned list."""
    found = {}
    for module in sorted(domain.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.List):
                for element in node.value.elts:
                    if (isinstance(element, ast.Tuple) and len(element.elts) == 2
                            and isinstance(element.elts[0], ast.Constant) and isinstance(element.elts[0].value, str)):
                        found.setdefault(element.elts[0].value, f"returned in {module.name}:{element.lineno}")
    return found


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    from chronicle.schemas.registry import json_path

    return sorted(f"{json_path(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data))


def _load(path: Path, report: CheckReport) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        report.problems.append(f"{path}: not valid JSON ({error})")
        return None


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
