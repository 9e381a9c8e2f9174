"""Every command in the fenced ```bash blocks of README.md and docs/*.md works as printed.

They run from the project root against a `chronicle local` this test starts (on free ports: 3000 and 3001 in the
commands are rewritten to them, so parallel runs and a developer's own `make local` do not collide), with no
activated virtual environment (.venv/bin is not on PATH), no AWS configuration and no AWS_* variables.
Placeholders (<aggregateId>, <project>, <template>, <aws port>, ...) are filled from earlier answers. A block that
needs a real AWS account is fenced ```bash aws and skipped; long-running and recursive commands (`make local`,
`make test`) are recognised (docs_blocks.HANDLED); the slow ones (sam build, benchmarks) run with
CHRONICLE_DOCS_SLOW=1. A command fails when it exits non-zero, or its answer is an API error, GraphQL errors, or
a GraphQL field that came back null or [] (a read that saw nothing).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from docs_blocks import ASSIGNMENT, HANDLED, PLACEHOLDER, SLOW, Command, commands, learn, problem_in_output, \
    strip_comment
from local_helpers import ROOT, CliRuntime

pytestmark = pytest.mark.e2e

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    rt = CliRuntime(tmp_path_factory.mktemp("docs-state"), ephemeral=True)
    yield rt
    rt.stop()


@pytest.fixture(scope="module")
def values(stack) -> dict[str, str]:
    """Placeholder -> value, shared by every file (README's project can be read by a later doc's command)."""
    return {"aws port": str(stack.aws_port), "EventStoreTableName": "chronicle-EventStoreTable",
            "ProjectReadModelTableName": "chronicle-ProjectReadModelTable"}


def clean_env(tmp: Path) -> dict[str, str]:
    venv_bin = str(ROOT / ".venv" / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != Path(venv_bin)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "MOTO_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PATH=os.pathsep.join(path), HOME=str(tmp), AWS_CONFIG_FILE=str(tmp / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"), AWS_EC2_METADATA_DISABLED="true")
    return env


def rewrite(text: str, stack: CliRuntime, values: dict[str, str], command: Command) -> str:
    text = re.sub(r"(127\.0\.0\.1|localhost):3000\b", f"127.0.0.1:{stack.port}", text)
    text = re.sub(r"(127\.0\.0\.1|localhost):3001\b", f"127.0.0.1:{stack.aws_port}", text)
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise AssertionError(f"{command.where()}: no earlier answer fills {', '.join(f'<{m}>' for m in missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def skipped(command: Command) -> str | None:
    bare = strip_comment(command.text)
    for pattern, why in HANDLED:
        if pattern.search(bare):
            return why
    if SLOW.search(bare) and not os.environ.get("CHRONICLE_DOCS_SLOW"):
        return "slow: runs with CHRONICLE_DOCS_SLOW=1"
    return None


def run_file(doc: Path, stack: CliRuntime, values: dict[str, str], tmp: Path) -> list[str]:
    failures: list[str] = []
    assignments: dict[int, list[str]] = {}  # block -> its VAR=... lines, for the block's later commands
    env = clean_env(tmp)
    env["CHRONICLE_URL"] = f"http://127.0.0.1:{stack.port}"  # the default of commands that name no URL
    for command in commands(doc, ROOT):
        if skipped(command):
            continue
        try:
            text = rewrite(command.text, stack, values, command)
        except AssertionError as error:
            failures.append(str(error))
            continue
        if ASSIGNMENT.match(text):  # one line or a `VAR=$(...)` continued over several
            assignments.setdefault(command.block_line, []).append(text)
            continue
        script = "\n".join(["set -o pipefail", *assignments.get(command.block_line, []), text])
        try:
            done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=300)
        except subprocess.TimeoutExpired:
            failures.append(f"{command.where()}: still running after 300 s")
            continue
        problem = (f"exited {done.returncode}: {(done.stderr or done.stdout)[-800:]}" if done.returncode
                   else problem_in_output(done.stdout))
        if problem:
            failures.append(f"{command.where()}: {problem}")
        learn(text, done.stdout, values)
    return failures


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(ROOT).as_posix() for d in DOCS])
def test_documented_commands_work_as_printed(doc, stack, values, tmp_path):
    failures = run_file(doc, stack, values, tmp_path)
    assert not failures, f"{len(failures)} documented command(s) fail as printed:\n- " + "\n- ".join(failures)


def test_the_extraction_sees_multi_line_commands_and_skips_aws_blocks(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("```bash\ncurl -d '{\n  \"a\": 1}' \\\n  http://x  # c\nmake local\n```\n"
                   "```bash aws\naws s3 ls\n```\n")
    found = commands(doc, tmp_path)
    assert [c.text.splitlines()[0] for c in found] == ["curl -d '{", "make local"]
    assert skipped(found[1]) and not skipped(found[0])
    assert problem_in_output('{"data": {"project": null}}') and not problem_in_output('{"data": {"p": {"a": 1}}}')
    assert problem_in_output('table\n{"_aws": {"Timestamp": 1}}\n')
