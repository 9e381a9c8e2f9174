"""Who the actor is in AWS: the one mapping from an authenticated principal to a stable actor id.

Both APIs hand this module the raw identity fields AWS vouches for (API Gateway's request template: the Cognito
authorizer's `claims.sub` and `$context.identity`; AppSync: `ctx.identity`), never anything the client wrote.
The result is a valid stream id (``[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}``, so it works as a User aggregate id and in
the resource ``user:<id>``) and stable across sessions (docs/security.md, "Identity mapping"):

=========================================================  ======================================================
principal                                                  actor id
=========================================================  ======================================================
Cognito user pool token (Cognito authorizer, AppSync)      its ``sub``, as is
Cognito identity pool, authenticated                       ``cognito:<identity id>``
Cognito identity pool, unauthenticated (guest)             anonymous (``None``)
``arn:aws:sts::<acct>:assumed-role/<role>/<session>``      ``role:<role>``; the session name goes to metadata
``arn:aws:iam::<acct>:user/<path/><name>``                 ``iamuser:<name>``
``arn:aws:iam::<acct>:root``                               refused (Forbidden)
``arn:aws:sts::<acct>:federated-user/<name>``              refused: the name is whatever the caller chose
a principal of another account than the stack's            refused: its names are not this account's
=========================================================  ======================================================

IAM role and user names may hold ``+ = ,``, which a stream id may not: each is written ``:2B``, ``:3D``, ``:2C``
(``:`` never occurs in an IAM name, so the escaping is one-to-one). The session name of an assumed role is chosen by
whoever assumes it, so it never decides who the actor is: it is only recorded (event metadata ``actorSession``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chronicle.errors import Forbidden
from chronicle.ids import reserved_prefix

STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")  # schemas/command-envelope.json aggregateId
_IAM_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)  # IAM role / user name characters
_ESCAPES = {"+": ":2B", "=": ":3D", ",": ":2C"}
_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)",
                  re.ASCII)
_COGNITO_IDENTITY_ID = re.compile(r"[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}", re.ASCII)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its actor id, and the role session name when it signed with an assumed role."""

    actor_id: str
    session: str | None = None


def refused(reason: str) -> Forbidden:
    return Forbidden(f"This principal cannot act on Chronicle: {reason}.",
                     [{"reason": "PrincipalNotMapped", "message": reason}])


def principal_of(identity: dict[str, Any] | None, home_account: str | None = None) -> Principal | None:
    """The actor of raw identity fields (keys as API Gateway and AppSync name them); None for anonymous.

    `home_account` is the stack's account id: IAM principals of other accounts are refused."""
    identity = {k: v for k, v in (identity or {}).items() if isinstance(v, str) and v}
    if "sub" in identity:  # Cognito user pool: only the authorizer / AppSync sets it
        return Principal(_valid(identity["sub"], "the token's sub is not a valid actor id"))
    cognito_id = identity.get("cognitoIdentityId")
    if cognito_id:
        auth_type = identity.get("cognitoAuthenticationType") or identity.get("cognitoIdentityAuthType")
        if auth_type != "authenticated":
            return None  # a guest of an identity pool is anyone
        if not _COGNITO_IDENTITY_ID.fullmatch(cognito_id):
            raise refused("the Cognito identity id is not of the form <region>:<uuid>")
        return Principal(f"cognito:{cognito_id}")
    arn = identity.get("userArn")
    if arn:
        return arn_principal(arn, home_account)
    return None


def arn_principal(arn: str, home_account: str | None = None) -> Principal:
    """The actor of an IAM or STS principal ARN (see the table above)."""
    match = _ARN.fullmatch(arn)
    if not match:
        raise refused("not an IAM or STS principal ARN")
    if home_account and match["account"] != home_account:
        raise refused(f"principals of account {match['account']} are not principals of this stack's account")
    service, resource = match["service"], match["resource"]
    kind, _, rest = resource.partition("/")
    if service == "iam" and kind == "root":
        raise refused("the account's root user; sign with an IAM role or user")
    if service == "sts" and kind == "federated-user":
        raise refused("a federated user (GetFederationToken) names itself; sign with an IAM role or user")
    parts = rest.split("/")
    if service == "sts" and kind == "assumed-role" and len(parts) >= 2:
        # assumed-role/<role name>/<session>; a role path, if AWS ever shows one, comes before the name
        return Principal(_named("role", parts[-2]), session=parts[-1])
    if service == "iam" and kind == "user" and rest:
        return Principal(_named("iamuser", parts[-1]))  # user/<path/>name
    raise refused(f"{service} principals of kind {kind!r} are not mapped to actors")


def _named(prefix: str, name: str) -> str:
    if not _IAM_NAME.fullmatch(name):
        raise refused(f"{name!r} is not an IAM name")
    escaped = "".join(_ESCAPES.get(char, char) for char in name)
    return _valid(f"{prefix}:{escaped}", "the name is too long for an actor id")


def _valid(actor_id: str, reason: str) -> str:
    if not STREAM_ID.fullmatch(actor_id):
        raise refused(reason)
    check_actor_id(actor_id)
    return actor_id


def check_actor_id(actor_id: str) -> None:
    """Refuse (Forbidden) an actor id with a typed prefix of another aggregate (``project-``, ``template-``): such
    an id could name a project's or template's stream, never a user's (docs/decisions/0010)."""
    prefix = reserved_prefix(actor_id)
    if prefix is not None:
        raise refused(f"actor ids starting with {prefix!r} are reserved for {prefix.rstrip('-')} ids")


def request_principal(request: dict[str, Any]) -> Principal:
    """The actor of a command workflow's input. In AWS the request template passes `identity` (raw fields) and
    `homeAccount`; the mapping here is authoritative. Locally (no `identity`) the input's `actorId` is the
    X-Actor-Id header's (or a local token's) actor as it is. Anonymous is the actor id "anonymous"."""
    if "identity" in request:
        identity = request["identity"] if isinstance(request["identity"], dict) else {}
        principal = principal_of(identity, request.get("homeAccount") or None)
        return principal or Principal("anonymous")
    return Principal(str(request.get("actorId") or "anonymous"))


def session_of(command: dict[str, Any]) -> dict[str, str]:
    """`{"actorSession": name}` when the command's actor signed with an assumed role: recorded with its events
    (metadata), never part of the actor id."""
    return {"actorSession": command["actorSession"]} if command.get("actorSession") else {}
