"""What an aggregate id looks like (schemas/command-envelope.json's `aggregateId`): 1 to 128 characters of
letters, digits and ``._:@-``, starting with a letter or digit, matched against the whole text (no trailing newline).
"""

from __future__ import annotations

import re

_AGGREGATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def is_aggregate_id(text: str) -> bool:
    return _AGGREGATE_ID.fullmatch(text) is not None
