"""How chronicle.client proves who it is. Each auth gives the headers of one request (`headers(method, url,
body)`) and the command route it uses:

- `LocalActor(actor)`: the X-Actor-Id header of `chronicle local` (no proof at all: local only);
- `Token(token)`: a bearer token as is (a user pool ID token, or `chronicle token --actor alice` locally);
- `CognitoTokens(...)`: a user pool's ID token, refreshed with its refresh token (InitiateAuth REFRESH_TOKEN_AUTH)
  before it expires, or after the API answered 401;
- `SigV4(...)`: requests signed with the default boto3 session's credentials (machines; /iam/commands).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .errors import Unauthorized


class LocalActor:
    """`chronicle local` only: the actor named in the X-Actor-Id header (anyone may send any id)."""

    command_prefix = "/commands"

    def __init__(self, actor: str):
        self.actor = actor

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return {"X-Actor-Id": self.actor}

    def refresh(self) -> bool:
        return False


class Token:
    """A bearer token sent as the Authorization header (what the Cognito authorizer and AppSync read)."""

    command_prefix = "/commands"

    def __init__(self, token: str):
        self.token = token

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return {"Authorization": self.current()}

    def current(self) -> str:
        return self.token

    def refresh(self) -> bool:
        """After a 401: whether a new token was obtained (then the request is sent again)."""
        return False


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (not verified: the API verifies it), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


class CognitoTokens(Token):
    """A user pool session: the ID token is sent; `leeway` seconds before it expires (or after a 401) it is
    refreshed with InitiateAuth(REFRESH_TOKEN_AUTH). `cognito` is a boto3 cognito-idp client (default: one from
    the default session in `region`)."""

    def __init__(self, id_token: str, refresh_token: str | None, client_id: str, region: str | None = None,
                 cognito: Any = None, leeway: float = 60.0, clock: Callable[[], float] = time.time):
        super().__init__(id_token)
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.region = region
        self._cognito = cognito
        self.leeway = leeway
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def sign_in(cls, username: str, password: str, client_id: str, region: str | None = None,
                cognito: Any = None, **kwargs: Any) -> CognitoTokens:
        """Sign in with a user name (the e-mail) and password (the app client's USER_PASSWORD_AUTH flow)."""
        client = cognito or _cognito_client(region)
        answer = client.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
                                      AuthParameters={"USERNAME": username, "PASSWORD": password})
        if "ChallengeName" in answer:
            raise Unauthorized(f"Sign-in needs the {answer['ChallengeName']} challenge first (e.g. a new password "
                               "or an MFA code): complete it with the AWS CLI or your front end.")
        result = answer["AuthenticationResult"]
        return cls(result["IdToken"], result.get("RefreshToken"), client_id, region, client, **kwargs)

    def current(self) -> str:
        expiry = token_expiry(self.token)
        if expiry is not None and expiry - self.leeway <= self.clock():
            self.refresh()
        return self.token

    def refresh(self) -> bool:
        if not self.refresh_token:
            return False
        with self._lock:
            self._cognito = self._cognito or _cognito_client(self.region)
            answer = self._cognito.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", ClientId=self.client_id,
                                                 AuthParameters={"REFRESH_TOKEN": self.refresh_token})
            self.token = answer["AuthenticationResult"]["IdToken"]
        return True


def _cognito_client(region: str | None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region).client("cognito-idp")


class SigV4:
    """Sign each request with SigV4 (botocore) using the credentials of a boto3 session (default: the default
    session, so the usual profile / role / environment chain). The service is `appsync` for an AppSync host and
    `execute-api` otherwise; the region comes from the host (or `region`)."""

    command_prefix = "/iam/commands"

    def __init__(self, session: Any = None, region: str | None = None):
        if session is None:
            import boto3

            session = boto3.session.Session()
        self.session = session
        self.region = region

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = self.session.get_credentials()
        if credentials is None:
            raise Unauthorized("No AWS credentials in the boto3 session to sign with.")
        service, region = signing_scope(url, self.region or self.session.region_name)
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
        return dict(request.headers.items())

    def refresh(self) -> bool:
        return False


def signing_scope(url: str, default_region: str | None) -> tuple[str, str]:
    """(service, region) for SigV4: <id>.appsync-api.<region>.amazonaws.com or <id>.execute-api.<region>..."""
    labels = (urlsplit(url).hostname or "").split(".")
    for service, signing in (("appsync-api", "appsync"), ("execute-api", "execute-api")):
        if service in labels and labels.index(service) + 1 < len(labels):
            return signing, labels[labels.index(service) + 1]
    if not default_region:
        raise Unauthorized(f"Cannot tell the region of {url}: pass SigV4(region=...).")
    return ("appsync" if "graphql" in url else "execute-api"), default_region
