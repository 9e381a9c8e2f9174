"""One HTTP exchange with retries (stdlib urllib): what chronicle.client sends, and which failures it sends again.

Retried, with exponential backoff and full jitter: no answer at all (connection refused or reset, timeout), 429
(throttling), 500, 502, 503 and 504. A retried command carries the same commandId, so the service applies it once
whatever happened to the earlier attempts' answers. Everything else is answered at once (as a typed error).
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from .errors import TransportError, error_for

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Sender = Callable[[str, str, dict[str, str], bytes, float], tuple[int, bytes]]


def urllib_send(method: str, url: str, headers: dict[str, str], body: bytes, timeout: float) -> tuple[int, bytes]:
    """Send one request; (status, body). Raises OSError / HTTPException when there is no answer."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - http(s) URLs
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@dataclass
class Retrying:
    """Backoff policy: `attempts` tries in all, the n-th wait drawn from [0, min(cap, base * 2**n)]."""

    attempts: int = 5
    base: float = 0.2
    cap: float = 5.0
    timeout: float = 35.0
    send: Sender = urllib_send
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = field(default=random.random)

    def exchange(self, method: str, url: str, body: bytes, auth: Any) -> tuple[int, Any]:
        """(status, parsed JSON body) of the last attempt, after retrying what may be retried. A 401 makes the
        auth refresh its token once (CognitoTokens), then the request is sent again (not counted as a retry)."""
        attempt, refreshed = 0, False
        while True:
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       **auth.headers(method, url, body)}
            try:
                status, raw = self.send(method, url, headers, body, self.timeout)
            except (OSError, HTTPException) as error:  # refused, reset, timed out: no answer at all
                status, raw = None, error
            if status == 401 and not refreshed and auth.refresh():
                refreshed = True
                continue
            attempt += 1
            if (status is None or status in RETRY_STATUSES) and attempt < self.attempts:
                self._wait(attempt - 1)
                continue
            if status is None:
                raise TransportError(f"No answer from {url} after {attempt} attempts: {raw}") from raw
            return status, _parse(raw)

    def _wait(self, attempt: int) -> None:
        self.sleep(self.rand() * min(self.cap, self.base * 2 ** attempt))


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return {"error": "InternalError", "message": raw[:200].decode("utf-8", "replace")}


def raise_for(status: int, body: Any) -> Any:
    if status != 200:
        raise error_for(status, body)
    return body
