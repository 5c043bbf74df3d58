"""Bearer tokens for the Dataverse Web API from an azure-identity TokenCredential.

The token's audience is the environment itself (`https://<org>.crm.dynamics.com/.default`). Tokens are
cached until five minutes before they expire, so a busy function asks Entra ID about once an hour.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

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


def _credential(settings: Settings) -> TokenCredential:
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
