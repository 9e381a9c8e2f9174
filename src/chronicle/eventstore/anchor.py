"""Anchors: every stream's head, signed, kept by the user outside the stack (docs/eventstore.md "Anchors").

    chronicle verify --anchor > anchor.json          verify every stream, then write the anchor
    chronicle verify --anchor-check anchor.json      verify every stream against it

An anchor is one JSON document::

    {"format": "chronicle-anchor/1", "createdAt", "streams": {id: {"head": N, "hash": H, "sealedFrom": S}},
     "digest": sha256 of the canonical JSON of "streams", "keyId": first 16 hex of sha256(key),
     "hmac": HMAC-SHA256(key, digest)}

The key is a local file (32 random bytes, hex; created on the first --anchor, mode 0600), never stored in the stack:
someone who can rewrite the tables (and the anchor file) cannot make an anchor that checks. Checking one verifies
its HMAC, then every stream with the anchored head held as a record: an event deleted, edited or re-hashed at or
before the anchored head, a stream deleted whole, or hashes stripped before it, fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chronicle.eventstore.chain import ChainReport

FORMAT = "chronicle-anchor/1"


class AnchorInvalid(Exception):
    """The anchor file is not an anchor, or its signature does not check with this key."""


def default_key_file() -> Path:
    configured = os.environ.get("CHRONICLE_ANCHOR_KEY")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "chronicle" / "anchor.key"


def load_key(path: Path, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise AnchorInvalid(f"no anchor key at {path} (the key the anchor was made with)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise AnchorInvalid(f"{path} is not an anchor key (64 hex digits)") from None


def _digest(streams: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(streams, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _sign(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def make(reports: list[ChainReport], key: bytes) -> dict[str, Any]:
    """The anchor of verified streams (each report must be ok)."""
    streams = {r.aggregate_id: {"head": r.head, "hash": r.head_hash, "sealedFrom": r.unsealed_before or 1}
               for r in reports if r.events}
    digest = _digest(streams)
    return {"format": FORMAT, "createdAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "streams": streams, "digest": digest, "keyId": hashlib.sha256(key).hexdigest()[:16],
            "hmac": _sign(key, digest)}


def check(document: Any, key: bytes) -> dict[str, dict[str, Any]]:
    """The anchored streams, once the document's digest and HMAC check with `key`."""
    if not isinstance(document, dict) or document.get("format") != FORMAT or \
            not isinstance(document.get("streams"), dict):
        raise AnchorInvalid(f"not a {FORMAT} document")
    if _digest(document["streams"]) != document.get("digest"):
        raise AnchorInvalid("the anchor's streams do not match its digest (the file was edited)")
    if not hmac.compare_digest(_sign(key, document["digest"]), str(document.get("hmac", ""))):
        raise AnchorInvalid("the anchor's signature does not check with this key (another key, or a forged "
                            "anchor)")
    return document["streams"]
