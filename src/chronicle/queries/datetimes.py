"""AppSync's AWSDateTime: parsed as strictly as AppSync does, and turned into the event store's timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chronicle.errors import ValidationError

# An extended ISO-8601 date-time with seconds optional, fraction optional and the offset required ("Z" or
# +hh:mm[:ss]).
_AWS_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)\Z")


def parse_aws_datetime(value: Any, name: str = "asOf") -> datetime:
    """An AWSDateTime string -> an aware datetime, or ValidationError saying what is wrong."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be an AWSDateTime string such as 2026-11-30T12:00:00Z.",
                              [{"path": f"$.{name}"}])
    match = _AWS_DATETIME.match(value)
    if not match:
        raise ValidationError(f"{name} is not an AWSDateTime: expected YYYY-MM-DDThh:mm:ss[.sss] and an offset "
                              f"(Z or +hh:mm), got {value[:64]!r}.", [{"path": f"$.{name}"}])
    minute, seconds, fraction, offset = match.groups()
    text = minute + (seconds.split(".")[0] if seconds else ":00") + (f".{fraction[:6]:0<6}" if fraction else "")
    try:
        return datetime.fromisoformat(text + offset.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValidationError(f"{name} is not a valid date-time: {error}.", [{"path": f"$.{name}"}]) from None


def store_timestamp(value: Any) -> str | None:
    """An AWSDateTime as the store's timestamp format (UTC, milliseconds, Z) so that strings compare as times."""
    if value is None:
        return None
    try:
        moment = parse_aws_datetime(value).astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        raise ValidationError("asOf is outside the years 0001-9999 once converted to UTC.",
                              [{"path": "$.asOf"}]) from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
