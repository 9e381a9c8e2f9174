"""The fenced ```bash blocks of README.md and docs/*.md as commands the docs test runs (test_docs_commands.py)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```bash([^\n]*)\n(.*?)^```", re.M | re.S)
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z ]*)>")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

# Commands the test does not run, each with why. Matched on the command with comments stripped.
HANDLED = [
    (re.compile(r"^make local\b"), "long-running: the stack this test started plays its part"),
    (re.compile(r"^make (test|unit|lint|check)\b"), "the suite this test is part of"),
    (re.compile(r"^make setup\b"), "done: the .venv this test runs in"),
]
# Minutes each (a full sam build, every benchmark): run when CHRONICLE_DOCS_SLOW=1.
SLOW = re.compile(r"^(make (bench|build)\b|\.venv/bin/sam build\b)")


@dataclass
class Command:
    file: str
    block_line: int  # the line of the block's opening fence
    text: str

    def where(self) -> str:
        return f"{self.file}, block at line {self.block_line}, command `{self.text.strip()[:300]}`"


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def commands(path: Path, root: Path) -> list[Command]:
    """Every command of every ```bash block (not ```bash aws: those need an AWS account)."""
    text = path.read_text(encoding="utf-8")
    out: list[Command] = []
    for match in FENCE.finditer(text):
        if match.group(1).strip() == "aws":
            continue
        line = text[:match.start()].count("\n") + 1
        pending = ""
        for raw in match.group(2).splitlines():
            if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
                continue
            pending += raw + "\n"
            if _complete(pending):
                out.append(Command(path.relative_to(root).as_posix(), line, pending.rstrip("\n")))
                pending = ""
        if pending:
            out.append(Command(path.relative_to(root).as_posix(), line, pending.rstrip("\n")))
    return out


def strip_comment(text: str) -> str:
    """The command without its trailing `# ...` comment (outside quotes), for matching."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        return " ".join(lexer)
    except ValueError:
        return text


def problem_in_output(stdout: str) -> str | None:
    """What an answer shows is wrong: an API error, GraphQL errors, or a GraphQL field that came back null/[]
    (a read that saw nothing: a missing X-Actor-Id, a wrong id); or metrics JSON (EMF) mixed into the output."""
    if any(line.startswith('{"_aws"') for line in stdout.splitlines()):
        return "EMF metrics JSON in the output (Powertools metrics of the handlers it ran)"
    try:
        answer = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if "error" in answer and "message" in answer:
        return f"the API answered an error: {stdout[:500]}"
    if answer.get("errors"):
        return f"GraphQL errors: {json.dumps(answer['errors'])[:500]}"
    data = answer.get("data")
    if isinstance(data, dict):
        empty = [field for field, value in data.items() if value is None or value == []]
        if empty:
            return f"GraphQL returned nothing for {', '.join(empty)} (no X-Actor-Id? a wrong id?): {stdout[:300]}"
    return None


def learn(command: str, stdout: str, values: dict[str, str]) -> None:
    """Placeholders an answer fills: <aggregateId>, <project>/<projectId>, <template>/<templateId>, <user>."""
    try:
        answer = json.loads(stdout)
    except ValueError:
        return
    if not isinstance(answer, dict) or not isinstance(answer.get("aggregateId"), str):
        return
    values["aggregateId"] = answer["aggregateId"]
    kind = re.search(r"/commands/(\w+)", command)
    names = {"CreateProject": ("project", "projectId"), "UploadTemplate": ("template", "templateId"),
             "RegisterUser": ("user", "userId")}.get(kind.group(1) if kind else "", ())
    for name in names:
        values[name] = answer["aggregateId"]
