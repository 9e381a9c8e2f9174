"""The state a sample event needs (events/samples.yaml), set up by `chronicle invoke` on its fresh stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST = "events/samples.yaml"


class SampleError(Exception):
    """The manifest is malformed or a given state could not be set up: one line for the user."""


@dataclass(frozen=True)
class Sample:
    given: list[dict[str, Any]] = field(default_factory=list)  # commands to run first, in order
    fails: str | None = None  # the errorType a sample meant to fail ends with


def _manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SampleError(f"{MANIFEST}: {error}") from None
    return doc if isinstance(doc, dict) else {}


def sample_for(root: Path, event_path: str | None) -> Sample:
    """What events/<function>/<case>.json declares in events/samples.yaml (nothing for other files)."""
    if not event_path or event_path == "-":
        return Sample()
    try:
        rel = Path(event_path).resolve().relative_to((root / "events").resolve())
    except ValueError:
        return Sample()
    doc = _manifest(root)
    entry = (doc.get("samples") or {}).get(rel.with_suffix("").as_posix()) or {}
    states = doc.get("states") or {}
    unknown = [name for name in entry.get("given") or [] if name not in states]
    if unknown:
        raise SampleError(f"{MANIFEST}: {rel}: no state named {', '.join(unknown)} under `states`")
    return Sample([states[name] for name in entry.get("given") or []], entry.get("fails"))


def set_up(url: str, sample: Sample, err: Any) -> None:
    """Run the sample's given commands against the stack at url (its command API, as the given actor)."""
    for state in sample.given:
        command, actor = state["command"], state.get("actor", "alice")
        request = urllib.request.Request(f"{url}/commands/{command}", data=json.dumps(state["body"]).encode(),
                                         method="POST", headers={"content-type": "application/json",
                                                                 "X-Actor-Id": actor})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise SampleError(f"given {command} failed ({error.code}): {error.read().decode()[:300]}") from None
        print(f"given: {command} {answer.get('aggregateId', '')} as {actor} -> version {answer.get('version')}",
              file=err, flush=True)
