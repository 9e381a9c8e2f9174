"""`chronicle schemas check` on the repository, and on temporary copies broken one way at a time."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chronicle.cli import main
from chronicle.schemas.check import read_lock, run_check, update_lock
from chronicle.schemas.scaffold import new_version

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the check reads: schemas/, statemachine/, the domain and upcasters.py."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "schemas", copy / "schemas")
    shutil.copytree(ROOT / "statemachine", copy / "statemachine")
    shutil.copy(ROOT / "template.yaml", copy / "template.yaml")
    shutil.copytree(ROOT / "src" / "chronicle" / "domain", copy / "src" / "chronicle" / "domain",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "src" / "chronicle" / "schemas").mkdir()
    shutil.copy(ROOT / "src" / "chronicle" / "schemas" / "upcasters.py", copy / "src" / "chronicle" / "schemas")
    return copy


def problems(repo: Path) -> str:
    report = run_check(repo / "schemas", repo)
    assert not report.ok
    return "\n".join(report.problems)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


UPCASTERS_PY = Path("src/chronicle/schemas/upcasters.py")


def test_the_repository_passes_and_reports_compatibility():
    report = run_check(ROOT / "schemas", ROOT)
    assert report.ok, report.text()
    [note] = [n for n in report.notes if n.startswith("ProjectCreated v2:")]
    # says plainly what changed and that it is fine, never "NOT ..." followed by "passed"
    assert "changes the shape" in note and note.endswith("fine: its upcaster turns every v1 sample into valid v2")
    assert "NOT" not in report.text() and "FAIL" not in report.text()


def test_a_shape_change_without_a_working_upcaster_says_it_would_fail(repo):
    text = (repo / UPCASTERS_PY).read_text()
    (repo / UPCASTERS_PY).write_text(text + "\nUPCASTERS.pop(('ProjectCreated', 1))\n")
    report = run_check(repo / "schemas", repo)
    [note] = [n for n in report.notes if n.startswith("ProjectCreated v2:")]
    assert "WOULD FAIL" in note and not report.ok and "schemas check FAILED" in report.text()


def test_the_copy_passes(repo):
    assert run_check(repo / "schemas", repo).ok


def test_the_lock_covers_every_schema_file():
    assert set(read_lock(ROOT / "schemas")) == {
        p.relative_to(ROOT / "schemas").as_posix() for p in (ROOT / "schemas").rglob("*.json")
        if "samples" not in p.parts and p.name != "lock.json"}


def test_an_edited_released_event_schema_fails(repo):
    edit_json(repo / "schemas/events/ProjectCreated/v1.json", lambda s: s["properties"].update(x={"type": "string"}))
    assert "events/ProjectCreated/v1.json: released event schema changed" in problems(repo)
    with pytest.raises(ValueError, match="cannot be re-locked"):
        update_lock(repo / "schemas", ["events/ProjectCreated/v1.json"])


def test_reformatting_a_released_file_is_not_a_change(repo):
    path = repo / "schemas/events/ProjectCreated/v1.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True))
    assert run_check(repo / "schemas", repo).ok


def test_a_changed_command_schema_fails_until_accepted(repo):
    edit_json(repo / "schemas/commands/CreateProject.json",
              lambda s: s["properties"].update(labels={"type": "array", "items": {"type": "string"}}))
    assert "commands/CreateProject.json: released command schema changed" in problems(repo)
    assert update_lock(repo / "schemas", ["commands/CreateProject.json"]) == ["commands/CreateProject.json"]
    assert run_check(repo / "schemas", repo).ok


def test_a_deleted_released_file_fails(repo):
    (repo / "schemas/commands/ChangeProjectConfiguration.json").unlink()
    found = problems(repo)
    assert "commands/ChangeProjectConfiguration.json: released, but deleted" in found
    assert "command ChangeProjectConfiguration (a state machine in template.yaml) has no schema" in found


def test_a_new_file_is_unreleased_until_locked(repo):
    shutil.copy(repo / "schemas/events/ProjectCreated/v2.json", repo / "schemas/events/ProjectCreated/v3.json")
    shutil.copytree(repo / "schemas/events/ProjectCreated/samples/v2", repo / "schemas/events/ProjectCreated/samples/v3")
    with (repo / UPCASTERS_PY).open("a") as f:
        f.write("\nUPCASTERS[('ProjectCreated', 2)] = lambda data: dict(data)\n")
    assert "events/ProjectCreated/v3.json: not released yet" in problems(repo)
    assert update_lock(repo / "schemas") == ["events/ProjectCreated/v3.json"]
    report = run_check(repo / "schemas", repo)
    assert report.ok, report.text()
    assert "ProjectCreated v3: backward compatible (every v2 sample is valid v3 unchanged)" in report.notes


def test_a_missing_upcaster_fails(repo):
    path = repo / UPCASTERS_PY
    path.write_text(path.read_text().replace('("ProjectCreated", 1): project_created_v1_to_v2,', ""))
    assert "upcaster ProjectCreated v1 -> v2 is missing" in problems(repo)


def test_an_upcaster_whose_output_is_invalid_fails(repo):
    path = repo / UPCASTERS_PY
    path.write_text(path.read_text().replace('"visibility": "private"', '"visibility": "secret"'))
    found = problems(repo)
    assert "upcaster ProjectCreated v1 -> v2 (project_created_v1_to_v2): its output for " \
           "events/ProjectCreated/samples/v1/minimal.json is not valid v2: $.visibility" in found


def test_an_upcaster_that_modifies_its_input_fails(repo):
    path = repo / UPCASTERS_PY
    path.write_text(path.read_text().replace('return {**data, "visibility": "private"}',
                                             'data["visibility"] = "private"\n    return data'))
    assert "modifies its input" in problems(repo)


def test_an_upcaster_for_a_missing_version_fails(repo):
    with (repo / UPCASTERS_PY).open("a") as f:
        f.write("\nUPCASTERS[('ProjectCreated', 5)] = lambda data: data\n")
    assert "upcaster ProjectCreated v5 -> v6 is registered, but events/ProjectCreated/v6.json does not exist" \
        in problems(repo)


def test_samples_are_required_and_must_validate(repo):
    samples = repo / "schemas/events/ProjectConfigurationChanged/samples/v1"
    (samples / "set-and-unset.json").unlink()
    assert "events/ProjectConfigurationChanged/samples/v1/: no sample event" in problems(repo)
    (samples / "bad.json").write_text('{"set": {}}')
    assert "samples/v1/bad.json: not valid against v1: $: 'unset' is a required property" in problems(repo)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(type="objekt"), "not a valid JSON Schema 2020-12 at type"),
    (lambda s: s.update({"$schema": "http://json-schema.org/draft-07/schema#"}), "$schema must be"),
    (lambda s: s.pop("additionalProperties"), "decide `additionalProperties` explicitly"),
])
def test_an_invalid_schema_fails(repo, change, message):
    path = repo / "schemas/commands/ChangeProjectConfiguration.json"
    edit_json(path, change)
    update_lock(repo / "schemas", ["commands/ChangeProjectConfiguration.json"])  # isolate the schema problem
    found = problems(repo)
    assert f"commands/ChangeProjectConfiguration.json: {message}" in found


def test_a_schema_that_is_not_json_fails(repo):
    (repo / "schemas/events/ServiceRemoved/v1.json").write_text("{not json")
    assert "events/ServiceRemoved/v1.json: not valid JSON" in problems(repo)


def test_a_state_machine_without_a_command_schema_fails(repo):
    template = (repo / "template.yaml").read_text()
    (repo / "template.yaml").write_text(template.replace("- [CreateProject, ", "- [ArchiveProject, CreateProject, "))
    assert "command ArchiveProject (a state machine in template.yaml) has no schema: " \
           "add schemas/commands/ArchiveProject.json" in problems(repo)


def test_an_emitted_event_without_a_schema_fails(repo):
    (repo / "src/chronicle/domain/archive.py").write_text(
        "def decide(command_type, data, state):\n    return [('ProjectArchived', {})]\n")
    assert "event ProjectArchived (returned in archive.py:2) has no schema" in problems(repo)


def test_an_aggregate_event_type_without_a_schema_fails(repo):
    shutil.rmtree(repo / "schemas/events/ServiceRemoved")
    # RemoveService's decide branch returns it too, which the check names first
    assert re.search(r"event ServiceRemoved \((aggregate Project event_types|returned in project\.py:\d+)\) has no "
                     "schema", problems(repo))


def test_a_version_gap_fails(repo):
    (repo / "schemas/events/ProjectCreated/v2.json").rename(repo / "schemas/events/ProjectCreated/v3.json")
    assert "events/ProjectCreated: versions must be v1..vN without gaps, found [1, 3]" in problems(repo)


def test_new_version_scaffolds_and_the_check_fails_on_the_stub(repo):
    written = new_version(repo / "schemas", "ProjectCreated", repo)
    v3 = repo / "schemas/events/ProjectCreated/v3.json"
    assert v3 in written
    schema = json.loads(v3.read_text())
    assert schema["$id"] == "chronicle:event:ProjectCreated:v3" and schema["title"] == "ProjectCreated v3"
    assert schema["properties"] == json.loads((v3.parent / "v2.json").read_text())["properties"]
    assert (v3.parent / "samples/v3/public.json").exists()
    assert "UPCASTERS[('ProjectCreated', 2)] = project_created_v2_to_v3" in (repo / UPCASTERS_PY).read_text()

    found = problems(repo)
    assert "upcaster ProjectCreated v2 -> v3 (project_created_v2_to_v3) is a stub" in found
    assert "events/ProjectCreated/v3.json: not released yet" in found

    path = repo / UPCASTERS_PY
    path.write_text(path.read_text().replace(
        'raise NotImplementedError("upcaster ProjectCreated v2 -> v3 is a stub")', "return dict(data)"))
    update_lock(repo / "schemas")
    report = run_check(repo / "schemas", repo)
    assert report.ok, report.text()

    (repo / "schemas/events/ProjectCreated/v3.json").unlink()  # v3 again while its upcaster exists: refused
    with pytest.raises(ValueError, match="already defines"):
        new_version(repo / "schemas", "ProjectCreated", repo)


def test_new_version_of_an_unknown_event_type_is_refused(repo):
    with pytest.raises(ValueError, match="no schema for event type"):
        new_version(repo / "schemas", "Nope", repo)


def test_the_cli(repo, capsys):
    assert main(["schemas", "check", "--root", str(repo)]) == 0
    assert "schemas check passed" in capsys.readouterr().out
    assert main(["schemas", "new-version", "ServiceRemoved", "--root", str(repo)]) == 0
    assert "wrote schemas/events/ServiceRemoved/v2.json" in capsys.readouterr().out
    assert main(["schemas", "check", "--root", str(repo)]) == 1
    assert "upcaster ServiceRemoved v1 -> v2 (service_removed_v1_to_v2) is a stub" in capsys.readouterr().err
    assert main(["schemas", "check", "--root", str(repo), "--update-lock"]) == 1
    out = capsys.readouterr()
    assert "locked schemas/events/ServiceRemoved/v2.json" in out.out and "not released" not in out.err
