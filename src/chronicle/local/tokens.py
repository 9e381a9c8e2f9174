"""Locally-signed tokens: the stand-in for a Cognito user pool's ID token on `chronicle local`.

`chronicle token --actor alice` prints a JWT (HS256) whose `sub` is the actor, signed with a key kept in the state
directory (``<state-dir>/local-token.key``, created on first use, readable by its owner only). `chronicle local`
accepts it in the ``Authorization`` header (as the Cognito authorizer does in AWS, with or without ``Bearer``) on
POST /commands/... and POST /graphql, so a client's token path runs end to end on one machine. Without the header
the X-Actor-Id header still names the actor. These tokens prove nothing beyond "whoever can read the state
directory made it": the local runtime trusts its callers anyway (docs/local-runtime.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

KEY_FILE = "local-token.key"
ISSUER = "chronicle-local"
LIFETIME_SECONDS = 3600


class InvalidToken(ValueError):
    """The Authorization header holds no token this runtime signed, or one that expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(state_dir: str | Path, create: bool = True) -> bytes:
    """The state directory's signing key (32 random bytes), made on first use."""
    path = Path(state_dir) / KEY_FILE
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"{path} does not exist: start `chronicle local` with this --state-dir first")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_key(state_dir, create=False)  # made by a concurrent first use
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 32:
        raise InvalidToken(f"{path} is not a signing key")
    return key


def issue(key: bytes, actor: str, lifetime: int = LIFETIME_SECONDS, now: float | None = None) -> str:
    """A JWT shaped like a Cognito ID token: sub, iss, token_use, iat, exp."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": actor, "iss": ISSUER, "token_use": "id", "iat": issued, "exp": issued + lifetime}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def verify(key: bytes, token: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a token this key signed and that has not expired; InvalidToken otherwise."""
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("not a JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise InvalidToken("not a token of this runtime (HS256)")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("bad signature (signed with another state directory's key?)")
    if claims.get("iss") != ISSUER or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidToken("not a token of this runtime")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= (time.time() if now is None else now):
        raise InvalidToken("the token expired")
    return claims


def add_token_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "token", help="print a local token (JWT) for an actor, accepted by `chronicle local` as Authorization",
        description="Print a token whose sub is ACTOR, signed with the state directory's key: `chronicle local` "
                    "on that --state-dir accepts it in the Authorization header, as the Cognito authorizer "
                    "accepts a user pool's ID token in AWS.")
    p.add_argument("--actor", required=True, help="the actor id the token names (its sub)")
    p.add_argument("--state-dir", default=".chronicle", help="the state directory of `chronicle local` "
                   "(default .chronicle)")
    p.add_argument("--lifetime", type=int, default=LIFETIME_SECONDS, help="seconds (default 3600)")
    p.set_defaults(func=run_token)


def run_token(args: Any) -> int:
    print(issue(load_key(args.state_dir), args.actor, lifetime=args.lifetime))
    return 0
