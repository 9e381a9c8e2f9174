"""Every sample under events/<function>/ fed to its real handler, as `sam local invoke -e` would, on moto.

The samples chain: a stored v1 ProjectCreated is projected, then the resolver reads it; a command runs through
validate -> append -> publish.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest

from chronicle import errors

ROOT = Path(__file__).resolve().parents[2]


class Context:
    function_name = "sample"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sample"
    aws_request_id = "sample-request"

    def get_remaining_time_in_millis(self):
        return 30_000


def handler(function: str):
    spec = importlib.util.spec_from_file_location(f"sample_{function}_{uuid.uuid4().hex}",
                                                  ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def sample(function: str, case: str) -> dict:
    return json.loads((ROOT / "events" / function / f"{case}.json").read_text())


def test_every_function_has_samples_and_every_sample_a_function():
    functions = {p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists()}
    samples = {p.name for p in (ROOT / "events").iterdir() if list(p.glob("*.json"))}
    assert functions == samples


def test_validate_command_samples(aws):
    command = handler("validate_command")(sample("validate_command", "create-project"), Context())
    assert command["aggregateId"] == "sample-project-1" and command["data"]["name"] == "Payments"
    with pytest.raises(errors.ValidationError):
        handler("validate_command")(sample("validate_command", "invalid-body"), Context())


def test_append_then_publish_samples(aws):
    outcome = handler("append_events")(sample("append_events", "create-project"), Context())
    assert outcome["response"]["version"] == 1 and outcome["response"]["events"][0]["eventType"] == "ProjectCreated"
    assert "events" not in outcome  # state data stays small: PublishEvents reads the events back by `stream`
    assert handler("publish_events")(sample("publish_events", "project-created"), Context()) == {"published": 1}


def test_projector_then_resolver_samples(aws):
    result = handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    assert result == {"applied": 1, "skipped": False, "version": 1}
    again = handler("project_projector")(sample("project_projector", "project-created-v1"), Context())
    assert again["skipped"]
    project = handler("graphql_resolver")(sample("graphql_resolver", "query-project"), Context())
    assert project["name"] == "Payments" and project["visibility"] == "private"
    assert handler("graphql_resolver")(sample("graphql_resolver", "query-history"), Context()) == []
