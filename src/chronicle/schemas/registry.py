"""Loads `schemas/commands/<CommandType>.json` and `schemas/events/<EventType>/v<N>.json` (JSON Schema 2020-12),
compiles each validator once per process (Lambda cold start), validates, and upcasts stored events.
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property, cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from chronicle.schemas.ecma import Validator

from chronicle.schemas.upcasters import UPCASTERS

_VERSION_FILE = re.compile(r"^v(\d+)\.json\Z")


def default_root() -> Path:
    """Where `schemas/` is: $CHRONICLE_SCHEMAS_DIR, the Lambda layer (/opt/python/schemas), or the repo root."""
    if os.environ.get("CHRONICLE_SCHEMAS_DIR"):
        return Path(os.environ["CHRONICLE_SCHEMAS_DIR"])
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "schemas", here.parents[3] / "schemas"):
        if (candidate / "commands").is_dir():
            return candidate
    raise FileNotFoundError("schemas/ directory not found; set CHRONICLE_SCHEMAS_DIR")


def json_path(path) -> str:
    """A jsonschema error path as a JSON path: ('data', 'services', 0) -> $.data.services[0]."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class SchemaRegistry:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._validators: dict[Path, Draft202012Validator] = {}  # compiled once per process (cold starts)

    # ---- discovery -------------------------------------------------------------------------------
    @cached_property
    def command_types(self) -> set[str]:
        return {p.stem for p in (self.root / "commands").glob("*.json")}

    @cached_property
    def event_versions(self) -> dict[str, list[int]]:
        """eventType -> its schema versions, ascending."""
        versions: dict[str, list[int]] = {}
        for folder in sorted((self.root / "events").iterdir()):
            numbers = sorted(int(m.group(1)) for p in folder.glob("v*.json") if (m := _VERSION_FILE.match(p.name)))
            if numbers:
                versions[folder.name] = numbers
        return versions

    def current_version(self, event_type: str) -> int:
        try:
            return self.event_versions[event_type][-1]
        except KeyError:
            raise KeyError(f"no schema for event type {event_type!r} under {self.root / 'events'}") from None

    # ---- loading ---------------------------------------------------------------------------------
    def command_schema_path(self, command_type: str) -> Path:
        return self.root / "commands" / f"{command_type}.json"

    def event_schema_path(self, event_type: str, version: int) -> Path:
        return self.root / "events" / event_type / f"v{version}.json"

    def _validator(self, path: Path) -> Draft202012Validator:
        validator = self._validators.get(path)
        if validator is None:
            schema = json.loads(path.read_text())
            Draft202012Validator.check_schema(schema)
            validator = Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
            self._validators[path] = validator
        return validator

    def envelope_validator(self) -> Draft202012Validator:
        return self._validator(self.root / "command-envelope.json")

    def command_validator(self, command_type: str) -> Draft202012Validator:
        return self._validator(self.command_schema_path(command_type))

    def event_validator(self, event_type: str, version: int) -> Draft202012Validator:
        return self._validator(self.event_schema_path(event_type, version))

    # ---- validation ------------------------------------------------------------------------------
    @staticmethod
    def errors(validator: Draft202012Validator, instance: Any, prefix: tuple = ()) -> list[dict[str, str]]:
        """Every violation as {path, message}, sorted by path for stable answers."""
        found = [{"path": json_path(prefix + tuple(error.absolute_path)), "message": error.message}
                 for error in validator.iter_errors(instance)]
        return sorted(found, key=lambda e: (e["path"], e["message"]))

    def event_errors(self, event_type: str, version: int, data: Any) -> list[dict[str, str]]:
        return self.errors(self.event_validator(event_type, version), data, ("eventData",))

    # ---- upcasting -------------------------------------------------------------------------------
    def upcast(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as its type's current version. The stored item is not touched; the returned copy
        keeps the original under `storedVersion`."""
        event_type = event["eventType"]
        version = int(event["version"])
        current = self.current_version(event_type)
        if version == current:
            return event
        data = event["eventData"]
        for step in range(version, current):
            upcaster = UPCASTERS.get((event_type, step))
            if upcaster is None:
                raise LookupError(f"no upcaster for {event_type} v{step} -> v{step + 1}")
            data = upcaster(data)
        return {**event, "eventData": data, "version": str(current), "storedVersion": event["version"]}


@cache
def registry() -> SchemaRegistry:
    """The process-wide registry (compiled validators are cached on it)."""
    return SchemaRegistry(default_root())
