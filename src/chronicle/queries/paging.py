"""Paging shared by every list of the API: the ``limit`` (1-100, default 20) and ``nextToken``, the DynamoDB key
where the next page starts, base64url JSON, checked on the way back in (a forged token is a client mistake)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chronicle.errors import ValidationError

MAX_PAGE, DEFAULT_PAGE = 100, 20
MAX_ID_BYTES = 1024  # DynamoDB keys hold up to 2048 bytes; no id Chronicle makes comes near this


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}.", [{"path": "$.limit"}])
    return limit


def token(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def untoken(token: str | None, key_names: set[str]) -> dict | None:
    """A nextToken back to the DynamoDB key it encodes, checked: a forged token is a client mistake (400-like
    GraphQL error), never a DynamoDB or botocore error text."""
    if not token:
        return None
    forged = ValidationError("nextToken is not a token this API returned (pass the nextToken of the previous page "
                             "of the same query, unchanged).", [{"path": "$.nextToken"}])
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error):
        raise forged from None
    if not (isinstance(key, dict) and set(key) == key_names and all(
            isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) and 0 < len(v["S"]) <= MAX_ID_BYTES
            for v in key.values())):
        raise forged
    return key


def read_page(operation: Callable[..., dict[str, Any]], request: dict[str, Any],
              next_token: str | None) -> dict[str, Any]:
    """One Query or Scan page; DynamoDB refusing a well-formed key of no item of this listing is a forged token."""
    try:
        return operation(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationException" or not next_token:
            raise
        raise ValidationError("nextToken is not a token this API returned.", [{"path": "$.nextToken"}]) from None
