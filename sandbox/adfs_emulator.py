"""An AD FS token endpoint for on-premises Dynamics 365 (Customer Engagement 9.1) on 127.0.0.1.

On-premises orgs authenticate Web API callers with OAuth through AD FS (2016 and later): a confidential
client asks `POST /adfs/oauth2/token` with `grant_type=client_credentials`, `client_id`, `client_secret` and
`resource` (the org URL, as registered with the relying party trust) and sends the access token as a bearer
token. This stand-in issues such tokens (JWTs with AD FS's claims: aud, iss, appid, apptype, iat, nbf, exp)
for the clients registered on it, and the Dataverse emulator validates them in-process
(`DataverseEmulator(authenticator=AdfsTokens(adfs, resource, ...))`). Tokens are signed with HS256 and a
key that never leaves the process: real AD FS signs RS256 with its token-signing certificate, which a client
never checks anyway (only the resource server does).

Errors follow OAuth 2.0 (RFC 6749 section 5.2): 400 `unsupported_grant_type` / `invalid_request` /
`invalid_resource` and 401 `invalid_client`, with a human `error_description` (AD FS prefixes its own with MSIS codes, which clients do not parse).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse, HttpEmulator

TOKEN_PATH = "/adfs/oauth2/token"
DISCOVERY_PATH = "/adfs/.well-known/openid-configuration"
TOKEN_LIFETIME_SECONDS = 3600  # AD FS's default access token lifetime is one hour


@dataclass
class AdfsClient:
    client_id: str
    secret: str
    resources: frozenset[str] = field(default_factory=frozenset)  # empty: any relying party


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdfsEmulator(HttpEmulator):
    server_name: ClassVar[str] = "adfs-emulator"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._clients: dict[str, AdfsClient] = {}
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self.issued = 0

    # --- set-up ---------------------------------------------------------------------------------------
    def register_client(self, client_id: str, secret: str, *resources: str) -> None:
        """A server application (client credentials) allowed to ask tokens for `resources` (any if none)."""
        with self._lock:
            self._clients[client_id] = AdfsClient(
                client_id, secret, frozenset(r.rstrip("/") for r in resources)
            )

    @property
    def issuer(self) -> str:
        # AD FS's issuer is the federation service's trust URL, http even when the service runs on https.
        return f"{self.base_url}/adfs/services/trust"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    # --- tokens ---------------------------------------------------------------------------------------
    def issue(self, client_id: str, resource: str) -> str:
        now = int(self.clock())
        claims = {
            "aud": resource,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "appid": client_id,
            "apptype": "Confidential",
            "authmethod": "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
            "ver": "1.0",
            "jti": str(uuid.uuid4()),
        }
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        self.issued += 1
        return f"{header}.{payload}.{_b64(signature)}"

    def validate(self, token: str, resource: str) -> Mapping[str, object] | None:
        """The claims of a token this service issued for `resource` that has not expired, else None."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims: dict[str, Any] = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        now = self.clock()
        if (
            str(claims.get("aud", "")).rstrip("/") != resource.rstrip("/")
            or not claims["nbf"] <= now < claims["exp"]
        ):
            return None
        return claims

    # --- HttpEmulator hooks ---------------------------------------------------------------------------
    def operation_of(self, request: EmulatorRequest) -> str:
        if request.path == TOKEN_PATH and request.method == "POST":
            return "token"
        if request.path == DISCOVERY_PATH and request.method == "GET":
            return "discovery"
        return "unknown"

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        operation = self.operation_of(request)
        if operation == "discovery":
            return EmulatorResponse.json(
                200,
                {
                    "issuer": self.issuer,
                    "token_endpoint": self.token_url,
                    "authorization_endpoint": f"{self.base_url}/adfs/oauth2/authorize",
                    "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                },
            )
        if operation != "token":
            return EmulatorResponse.json(404, {"error": "not_found"})
        return self._token(request)

    def _token(self, request: EmulatorRequest) -> EmulatorResponse:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "The token request must be form-encoded.")
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "The 'grant_type' parameter is not supported here."
            )
        resource = form.get("resource")
        if not resource:
            return _oauth_error(400, "invalid_request", "The 'resource' parameter is missing.")
        with self._lock:
            client = self._clients.get(client_id or "")
        if client is None or not hmac.compare_digest(client.secret, secret or ""):
            return _oauth_error(401, "invalid_client", "The client could not be authenticated.")
        if client.resources and resource.rstrip("/") not in client.resources:
            return _oauth_error(
                400, "invalid_resource", "The client is not allowed to access the requested resource."
            )
        token = self.issue(client.client_id, resource)
        return EmulatorResponse.json(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "resource": resource,
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        return _oauth_error(429, "temporarily_unavailable", "Too many requests.")

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        return _oauth_error(status, "server_error", "The federation service could not answer.")


def _oauth_error(status: int, error: str, description: str) -> EmulatorResponse:
    return EmulatorResponse.json(status, {"error": error, "error_description": description})
