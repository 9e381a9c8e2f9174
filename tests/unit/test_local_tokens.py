"""Local tokens (chronicle.local.tokens): `chronicle token` signs with the state directory's key; only untampered,
unexpired tokens of that key verify (no `alg: none`, no other key)."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from chronicle.cli import main
from chronicle.local import tokens


def test_issue_and_verify(tmp_path):
    key = tokens.load_key(tmp_path)
    assert stat.S_IMODE((tmp_path / tokens.KEY_FILE).stat().st_mode) == 0o600
    assert tokens.load_key(tmp_path) == key  # made once
    token = tokens.issue(key, "alice")
    assert tokens.verify(key, token)["sub"] == "alice"
    assert tokens.verify(key, f"Bearer {token}")["sub"] == "alice"


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_forged_tampered_and_expired_tokens_are_refused(tmp_path):
    key = tokens.load_key(tmp_path)
    token = tokens.issue(key, "alice")
    header, claims, signature = token.split(".")
    as_admin = _b64({**json.loads(base64.urlsafe_b64decode(claims + "==")), "sub": "admin"})
    cases = [
        f"{header}.{as_admin}.{signature}",  # edited claims
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{as_admin}.",  # unsigned
        tokens.issue(b"o" * 32, "alice"),  # another state dir's key
        tokens.issue(key, "alice", now=0),  # expired long ago
        "not-a-token",
    ]
    for bad in cases:
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(key, bad)


def test_chronicle_token_prints_a_token_of_the_state_dir(tmp_path, capsys):
    assert main(["token", "--actor", "bob", "--state-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert tokens.verify(tokens.load_key(tmp_path), printed)["sub"] == "bob"
