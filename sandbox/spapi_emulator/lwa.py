"""Login with Amazon (``POST /auth/o2/token``) and the access tokens it hands out.

Two grants, as Amazon documents them: ``refresh_token`` gives a seller token (acts for the seller who
authorised the app); ``client_credentials`` with a scope gives a grantless token (acts for the app itself,
e.g. ``sellingpartnerapi::notifications`` for destinations). Tokens are ``Atza|...`` and live 3600 s. OAuth
failures use RFC 6749 error objects (``invalid_client`` 401, ``invalid_grant`` 400, ...).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import unauthorized
from sandbox.spapi_emulator.routes import Access, Route

LWA_TOKEN: Final = "lwa.token"
LWA_PATH: Final = "/auth/o2/token"
DEFAULT_CLIENT_ID: Final = "sandbox-client-id"
DEFAULT_CLIENT_SECRET: Final = "sandbox-client-secret"
DEFAULT_REFRESH_TOKEN: Final = "sandbox-refresh-token"
ACCESS_TOKEN_LIFETIME: Final = timedelta(seconds=3600)
NOTIFICATIONS_SCOPE: Final = "sellingpartnerapi::notifications"
GRANTLESS_SCOPES: Final = frozenset({NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation"})


@dataclass
class AccessToken:
    expires_at: datetime
    grantless: bool
    scope: str | None = None


class TokenStore:
    """Issued access tokens and the access rule each route needs."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._tokens: dict[str, AccessToken] = {}
        self.issued_count = 0

    def reset(self) -> None:
        with self._ctx.lock:
            self._tokens.clear()
            self.issued_count = 0

    def issue(self, *, grantless: bool, scope: str | None = None) -> str:
        token = "Atza|" + secrets.token_urlsafe(96)
        with self._ctx.lock:
            now = self._ctx.now()
            for key in [k for k, v in self._tokens.items() if v.expires_at <= now]:
                del self._tokens[key]
            self._tokens[token] = AccessToken(now + ACCESS_TOKEN_LIFETIME, grantless, scope)
            self.issued_count += 1
        return token

    def all(self) -> list[str]:
        with self._ctx.lock:
            return list(self._tokens)

    def expire_all(self) -> None:
        with self._ctx.lock:
            past = self._ctx.now() - timedelta(seconds=1)
            for token in self._tokens.values():
                token.expires_at = past

    def check(self, request: EmulatorRequest, access: Access) -> None:
        """Raise 403 Unauthorized unless the x-amz-access-token fits the route's access rule."""
        if access is Access.NONE:
            return
        value = request.headers.get("x-amz-access-token", "")
        with self._ctx.lock:
            record = self._tokens.get(value) if value else None
            now = self._ctx.now()
        if record is None:
            raise unauthorized()
        # Why this matters: a seller token on a grantless operation (or the reverse) is refused by Amazon,
        # so provisioning code must ask LWA for the right kind.
        if access is Access.SELLER and record.grantless:
            raise unauthorized("This operation requires the seller's authorization, not a grantless token.")
        if access is Access.GRANTLESS and (not record.grantless or record.scope != NOTIFICATIONS_SCOPE):
            raise unauthorized(
                f"This operation is grantless: use a client_credentials token with scope {NOTIFICATIONS_SCOPE}."
            )
        if record.expires_at <= now:
            raise unauthorized("The access token you provided has expired.")


class LoginWithAmazon:
    def __init__(
        self,
        ctx: EmulatorContext,
        tokens: TokenStore,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
    ) -> None:
        self._ctx = ctx
        self._tokens = tokens
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token

    def routes(self) -> list[Route]:
        return [Route(LWA_TOKEN, "POST", LWA_PATH, Access.NONE, self.token, None)]

    def token(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        form = _form_fields(request)
        if form is None:
            return oauth_error(400, "invalid_request", "The request body could not be parsed.")
        grant_type = form.get("grant_type")
        if not grant_type:
            return _missing("grant_type")
        if grant_type not in ("refresh_token", "client_credentials"):
            return oauth_error(
                400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        for name in ("client_id", "client_secret"):
            if not form.get(name):
                return _missing(name)
        if not (
            secrets.compare_digest(form["client_id"], self.client_id)
            and secrets.compare_digest(form["client_secret"], self.client_secret)
        ):
            return oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type == "client_credentials":
            scope = form.get("scope")
            if not scope:
                return _missing("scope")
            if scope not in GRANTLESS_SCOPES:
                return oauth_error(400, "invalid_scope", "An unknown scope was requested")
            token = self._tokens.issue(grantless=True, scope=scope)
            return lwa_json(
                200, {"access_token": token, "scope": scope, "token_type": "bearer", "expires_in": 3600}
            )
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return _missing("refresh_token")
        if not secrets.compare_digest(refresh_token, self.refresh_token):
            return oauth_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = self._tokens.issue(grantless=False)
        return lwa_json(
            200,
            {
                "access_token": token,
                "refresh_token": refresh_token,
                "token_type": "bearer",
                "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            },
        )


def lwa_json(status: int, payload: Mapping[str, Any]) -> EmulatorResponse:
    response = EmulatorResponse.json(status, payload)
    response.headers["Content-Type"] = "application/json;charset=UTF-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def oauth_error(status: int, error: str, description: str) -> EmulatorResponse:
    return lwa_json(status, {"error_description": description, "error": error})


def _missing(name: str) -> EmulatorResponse:
    return oauth_error(400, "invalid_request", f"The request is missing a required parameter : {name}")


def _form_fields(request: EmulatorRequest) -> dict[str, str] | None:
    """LWA takes a form body (what python-amazon-sp-api sends) or JSON."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in request.headers.get("content-type", "").lower():
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): str(v) for k, v in data.items() if v is not None}
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items() if values}
