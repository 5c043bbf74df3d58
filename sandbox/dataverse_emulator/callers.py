"""Who is calling: the bearer token names a user, `MSCRMCallerID` may impersonate another.

Dataverse attributes every change to a user. The token's user is the *initiating* user; with the
`MSCRMCallerID: <systemuserid>` header (impersonation, learn.microsoft.com webapi/impersonate-another-user-web-api)
the change is made as, and stamped with, the impersonated user, while the initiating user stays the caller.
Events carry both (RemoteExecutionContext.UserId / InitiatingUserId), which is what lets an integration tell
its own writes from everyone else's.

Authenticators turn a token into a user:
- `StaticTokens` maps fixed bearer tokens to users (Entra tokens are not validated here) and may let other
  requests in as the integration user (the sandbox's DATAVERSE_AUTH=none);
- `AdfsTokens` validates tokens issued by sandbox.adfs_emulator (on-premises Dynamics) and finds the
  application user whose `applicationid` is the token's `appid`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from . import errors

# Fixed ids: WhoAmI has always answered these, and tests name them.
BUSINESS_UNIT_ID = "5a0f9a0e-9d5e-4b5f-8a8e-000000000001"
INTEGRATION_USER_ID = "5a0f9a0e-9d5e-4b5f-8a8e-000000000002"
ORGANIZATION_ID = "5a0f9a0e-9d5e-4b5f-8a8e-000000000003"
SYSTEM_USER_ID = "5a0f9a0e-9d5e-4b5f-8a8e-000000000004"  # SYSTEM: imports, platform jobs
ZERO_GUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Caller:
    user_id: str  # the user the change is made as (the impersonated one, if any)
    initiating_user_id: str  # the user the token belongs to
    user_agent: str = ""

    @property
    def impersonating(self) -> bool:
        return self.user_id != self.initiating_user_id


SYSTEM_CALLER = Caller(SYSTEM_USER_ID, SYSTEM_USER_ID)


@dataclass(frozen=True)
class RequestContext:
    """What every write of one request shares (set by the server before routing)."""

    caller: Caller = SYSTEM_CALLER
    solution: str | None = None  # MSCRM.SolutionUniqueName
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class Authenticator(Protocol):
    def user_for(self, token: str | None) -> str | None:
        """The systemuserid the token authenticates, or None to answer 401."""


class StaticTokens:
    """Fixed bearer tokens, each naming a user; other requests act as `anonymous_user` (None: they are 401)."""

    def __init__(self, tokens: Mapping[str, str] | None = None, *, anonymous_user: str | None = None) -> None:
        self.tokens = dict(tokens or {})
        self.anonymous_user = anonymous_user

    def add(self, token: str, user_id: str) -> None:
        self.tokens[token] = user_id

    def user_for(self, token: str | None) -> str | None:
        if token is not None and token in self.tokens:
            return self.tokens[token]
        return self.anonymous_user


class TokenValidator(Protocol):
    def validate(self, token: str, resource: str) -> Mapping[str, object] | None:
        """The token's claims if it is valid for `resource`, else None."""


@dataclass(frozen=True)
class AdfsTokens:
    """AD FS access tokens for `resource`; the `appid` claim names the application user."""

    issuer: TokenValidator
    resource: str
    application_user: Callable[[str], str | None]  # applicationid -> systemuserid

    def user_for(self, token: str | None) -> str | None:
        claims = self.issuer.validate(token, self.resource) if token else None
        app_id = claims.get("appid") if claims else None
        if not isinstance(app_id, str):
            return None
        user = self.application_user(app_id)
        if user is None:
            raise errors.not_a_member()
        return user


def bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def resolve_caller(
    authenticator: Authenticator,
    headers: Mapping[str, str],
    user_exists: Callable[[str], bool],
) -> Caller | None:
    """The request's Caller, None when it is not authenticated (401); impersonating a user who does not exist
    is refused the way Dataverse refuses a missing row."""
    user = authenticator.user_for(bearer_token(headers.get("authorization")))
    if user is None:
        return None
    acting = headers.get("mscrmcallerid")
    if acting:
        acting = acting.strip().strip("{}").lower()
        if not user_exists(acting):
            raise errors.not_found_by_id("systemuser", acting)
    return Caller(acting or user, user, headers.get("user-agent", ""))
