"""`chronicle schemas new-version EventType`: scaffold the next version of an event schema.

Creates `events/<T>/v<N+1>.json` (a copy of vN, $id and title bumped), `events/<T>/samples/v<N+1>/` (copies of
the vN samples, to edit into v<N+1> data) and appends a stub upcaster vN -> vN+1 to upcasters.py, registered in
UPCASTERS. The stub raises NotImplementedError, so `chronicle schemas check` fails until it is written.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from chronicle.schemas.check import VERSION_FILE

STUB_MARKER = "# STUB (chronicle schemas new-version): implement, then run `chronicle schemas check`."


def upcaster_name(event_type: str, version: int) -> str:
    """ProjectCreated, 2 -> project_created_v2_to_v3."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", event_type).lower()
    return f"{snake}_v{version}_to_v{version + 1}"


def new_version(root: Path, event_type: str, repo: Path | None = None) -> list[Path]:
    """Scaffold v<N+1> of `event_type` under `root` (schemas/); returns the files created or changed."""
    root = Path(root)
    repo = Path(repo) if repo else root.parent
    folder = root / "events" / event_type
    numbers = sorted(int(m.group(1)) for p in folder.glob("v*.json") if (m := VERSION_FILE.match(p.name)))
    if not numbers:
        raise ValueError(f"no schema for event type {event_type!r}: write {folder / 'v1.json'} and its samples "
                         "by hand (a first version needs no upcaster)")
    n = numbers[-1]
    upcasters_file = repo / "src" / "chronicle" / "schemas" / "upcasters.py"
    name = upcaster_name(event_type, n)
    source = upcasters_file.read_text()
    if f"def {name}(" in source:
        raise ValueError(f"{upcasters_file} already defines {name}")

    schema = json.loads((folder / f"v{n}.json").read_text())
    schema["$id"] = f"chronicle:event:{event_type}:v{n + 1}"
    schema["title"] = f"{event_type} v{n + 1}"
    schema["description"] = (
        f"TODO: say what changed from v{n} and why. This file started as a copy of v{n}: change its properties, "
        f"edit the samples under samples/v{n + 1}/ into v{n + 1} data, implement upcasters.{name}, update the "
        f"decider to emit v{n + 1}, then `chronicle schemas lock`. See docs/event-versioning.md.")
    created = folder / f"v{n + 1}.json"
    created.write_text(json.dumps(schema, indent=2) + "\n")

    samples = folder / "samples" / f"v{n + 1}"
    samples.mkdir(parents=True, exist_ok=True)
    copies = []
    for sample in sorted((folder / "samples" / f"v{n}").glob("*.json")):
        copies.append(Path(shutil.copy2(sample, samples / sample.name)))

    stub = f'''

{STUB_MARKER}
def {name}(data: Data) -> Data:
    """{event_type} v{n} -> v{n + 1}: TODO say what changes (return a new dict, never modify `data`)."""
    raise NotImplementedError("upcaster {event_type} v{n} -> v{n + 1} is a stub")


UPCASTERS[({event_type!r}, {n})] = {name}
'''
    upcasters_file.write_text(source.rstrip("\n") + "\n" + stub)
    return [created, samples, *copies, upcasters_file]
