"""KMS keys that survive a restart of the local runtime.

moto makes a new key id and new key material for every CreateKey, so after a restart nothing encrypted under the
old key (the users' data keys, chronicle.personal) could be decrypted, and email MACs would change. The stack
builder hands each key it creates to :class:`KeyRing`, which either records it in ``<state-dir>/kms.json`` (first
run) or gives the fresh moto key the saved id and material (later runs). An ephemeral run keeps nothing.

This reaches into moto's KMS backend (``kms_backends[account][region].keys``), like the other emulator patches:
tests/e2e/test_local_restart.py checks that a restart keeps the keys usable.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

from .account import ACCOUNT_ID, REGION
from .statedir import atomic_write


class KeyRing:
    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.saved: dict[str, dict[str, str]] = {}
        if self.path is not None and self.path.exists():
            self.saved = json.loads(self.path.read_text())
        self._lock = threading.Lock()

    def adopt(self, logical_id: str, key_id: str) -> tuple[str, str]:
        """The (key id, arn) the stack should use for the key moto just created as `key_id`."""
        from moto.kms.models import kms_backends

        backend = kms_backends[ACCOUNT_ID][REGION]
        key: Any = backend.keys[key_id]
        with self._lock:
            saved = self.saved.get(logical_id)
            if saved is not None and saved["id"] != key_id:
                del backend.keys[key_id]
                key.id = saved["id"]
                key.arn = key.arn.replace(key_id, saved["id"])
                key.key_material = base64.b64decode(saved["material"])
                backend.keys[key.id] = key
            elif saved is None and self.path is not None:
                self.saved[logical_id] = {"id": key.id, "material": base64.b64encode(key.key_material).decode()}
                atomic_write(self.path, json.dumps(self.saved, indent=1).encode())
        return key.id, key.arn
