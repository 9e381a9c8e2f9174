"""One sample request per command type, for measuring what it costs (chronicle.local.cost.model).

A sample is the request body of `POST /commands/<CommandType>`. Placeholders, replaced before each run:
- "{<AggregateType>}" (e.g. "{Project}"): the id of a stream of that type, made by running that aggregate's create
  command once (unmeasured) the first time it is needed;
- "{n}": a number unique to the run, so that repeated runs stay valid (new names, new keys).
`before` lists commands run (unmeasured, same "{n}") before each measured run, for a command that needs state
(RemoveService needs the service it removes); a create among them makes "{<AggregateType>}" name its new stream.
`actor` is the X-Actor-Id (placeholders too: a user acts as "{User}"). `extra_minimum` is what the command needs beyond the plain
workflow's minimum, in billing units (an S3 put for a template body, the reservation item for an email).

tests/unit/test_cost_units.py fails when a command has no sample or a sample does not validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    body: dict[str, Any]
    before: tuple[str, ...] = ()
    actor: str = "cost-bench"
    extra_minimum: dict[str, float] = field(default_factory=dict)


SAMPLES: dict[str, Sample] = {
    "CreateProject": Sample({"data": {"name": "Cost sample {n}", "ownerId": "alice",
                                      "description": "A project created to measure what a command costs."}}),
    "ChangeProjectConfiguration": Sample({"aggregateId": "{Project}",
                                          "data": {"set": {"region": "eu-west-1", "tier-{n}": "gold"}}}),
}


def fill(value: Any, ids: dict[str, str], n: int) -> Any:
    """`value` with its placeholders replaced."""
    if isinstance(value, str):
        value = value.replace("{n}", str(n))
        for aggregate_type, aggregate_id in ids.items():
            value = value.replace("{" + aggregate_type + "}", aggregate_id)
        return value
    if isinstance(value, list):
        return [fill(v, ids, n) for v in value]
    if isinstance(value, dict):
        return {fill(k, ids, n): fill(v, ids, n) for k, v in value.items()}
    return value


def placeholders(value: Any) -> set[str]:
    """The aggregate types a sample refers to."""
    import re

    import json

    return set(re.findall(r"\{([A-Z][A-Za-z]*)\}", json.dumps(value)))
