"""Bearer tokens for the Dataverse Web API from an azure-identity TokenCredential, or from AD FS.

Dataverse online: the token's audience is the environment itself (`https://<org>.crm.dynamics.com/.default`).
Dynamics 365 on-premises (v9.1, `DATAVERSE_AUTH=adfs`): a server application registered in AD FS gets its
token with the OAuth client-credentials grant for the org's relying party (`resource`), and the org maps the
token's client id to an application user. Either way tokens are cached until five minutes before they expire,
so a busy function asks the token service about once an hour.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from shared.dataverse.errors import DataverseAuthError, DataverseTransientError
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

    from shared.config import Settings

REFRESH_MARGIN_SECONDS = 300


class BearerTokenProvider:
    def __init__(self, credential: TokenCredential, scope: str, *, clock: Any = time.time) -> None:
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() > self._expires_on - REFRESH_MARGIN_SECONDS:
                access = self._credential.get_token(self._scope)
                self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (after a 401, the token may have been revoked early)."""
        with self._lock:
            self._token = None


def build_token_provider(settings: Settings) -> BearerTokenProvider | None:
    """The token provider DATAVERSE_AUTH asks for; None for the sandbox's anonymous loopback emulator."""
    if settings.dataverse_auth == "none":
        return None
    (environment_url,) = settings.required("dataverse_url", needed_by="Dataverse")
    scope = environment_url.rstrip("/") + "/.default"
    return BearerTokenProvider(_credential(settings), scope)


class AdfsClientCredential:
    """An azure-core TokenCredential for AD FS (2016 and later): POST the token endpoint with
    grant_type=client_credentials, the client's id and secret, and the relying party as `resource`.
    The scope BearerTokenProvider asks for is ignored: AD FS names the audience by `resource`."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        resource: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        clock: Any = time.time,
    ) -> None:
        self._token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "resource": resource,
        }
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        try:
            response = self._session.post(self._token_url, data=self._form, timeout=self._timeout)
        except requests.RequestException as exc:
            raise DataverseTransientError(f"AD FS unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DataverseTransientError(
                f"AD FS answered {response.status_code}", status=response.status_code
            )
        try:
            body = response.json()
        except ValueError:
            raise DataverseTransientError("AD FS answered with a non-JSON body") from None
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            # OAuth's error code only: the description may echo the request.
            error = body.get("error") or response.status_code
            raise DataverseAuthError(
                f"AD FS refused the client credentials: {error} (check DATAVERSE_CLIENT_ID, "
                "DATAVERSE_CLIENT_SECRET, DATAVERSE_ADFS_RESOURCE)",
                status=response.status_code,
                code=str(error),
            )
        lifetime = float(body.get("expires_in") or 3600)
        return AccessToken(body["access_token"], int(self._clock() + lifetime))


def _credential(settings: Settings) -> TokenCredential:
    if settings.dataverse_auth == "adfs":
        token_url, client_id, client_secret, environment_url = settings.required(
            "dataverse_adfs_token_url",
            "dataverse_client_id",
            "dataverse_client_secret",
            "dataverse_url",
            needed_by="DATAVERSE_AUTH=adfs",
        )
        resource = settings.dataverse_adfs_resource or environment_url
        return AdfsClientCredential(
            token_url, client_id, client_secret, resource, timeout=settings.dataverse_timeout_seconds
        )
    if settings.dataverse_auth == "client_secret":
        from azure.identity import ClientSecretCredential

        secret = settings.dataverse_client_secret
        if not (settings.dataverse_tenant_id and settings.dataverse_client_id and secret):
            raise ConfigurationError(
                "DATAVERSE_AUTH=client_secret needs tenant id, client id and client secret"
            )
        return ClientSecretCredential(
            settings.dataverse_tenant_id, settings.dataverse_client_id, secret.get_secret_value()
        )
    if settings.dataverse_auth == "managed_identity":
        from azure.identity import ManagedIdentityCredential

        # DATAVERSE_CLIENT_ID selects a user-assigned identity; unset means the system-assigned one.
        if settings.dataverse_client_id:
            return ManagedIdentityCredential(client_id=settings.dataverse_client_id)
        return ManagedIdentityCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)
