"""Secrets for both platforms: Key Vault first (managed identity), the environment second.

With KEY_VAULT_URL set, every Settings field that names a Key Vault secret is read from the vault with
DefaultAzureCredential (the function app's managed identity in Azure, your `az login` locally). A secret
the vault does not hold falls back to the environment, so a deployment can move secrets one at a time.
Secrets are read once per process; rotate by restarting the app (or use Key Vault references in app
settings, which the platform refreshes for you).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from shared.errors import ConfigurationError
from shared.urls import service_url

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)

SecretReader = Callable[[str, Iterable[str]], dict[str, str]]
_MARKER = "key_vault_secret"


def key_vault_secret(vault_name: str) -> dict[str, Any]:
    """`json_schema_extra` of a Settings field whose value lives in Key Vault under `vault_name`."""
    return {_MARKER: vault_name}


def key_vault_secret_of(field: FieldInfo) -> str | None:
    """The Key Vault secret name of a Settings field, or None when it is not a secret."""
    extra = field.json_schema_extra
    if isinstance(extra, Mapping):
        name = extra.get(_MARKER)
        return name if isinstance(name, str) else None
    return None


def read_key_vault_secrets(
    vault_url: str,
    names: Iterable[str],
    *,
    credential: TokenCredential | None = None,
    **client_options: Any,
) -> dict[str, str]:
    """Fetch the named secrets that exist in the vault; missing ones are simply absent from the result.

    Without `credential` the app's identity is used (DefaultAzureCredential, closed afterwards); a given
    credential stays the caller's. `client_options` go to SecretClient unchanged, e.g. `connection_verify`
    (a CA bundle) and `verify_challenge_resource=False` for the loopback stand-in in tests.
    """
    if credential is None:
        from azure.identity import DefaultAzureCredential

        with DefaultAzureCredential(exclude_interactive_browser_credential=True) as app_identity:
            return read_key_vault_secrets(vault_url, names, credential=app_identity, **client_options)

    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.keyvault.secrets import SecretClient

    # Fail start-up within seconds when the vault is unreachable, not after the SDK's ten retries with
    # backoff up to two minutes: the message is retried by Service Bus anyway.
    client_options.setdefault("retry_total", 3)
    client_options.setdefault("retry_backoff_max", 10)
    client = SecretClient(vault_url=vault_url, credential=credential, **client_options)
    found: dict[str, str] = {}
    try:
        for name in names:
            try:
                value = client.get_secret(name).value
            except ResourceNotFoundError:
                log.info("Key Vault has no secret %s; using the environment for it", name)
                continue
            if value is not None:
                found[name] = value
    except (AzureError, ValueError) as exc:  # ValueError: the SDK refused the vault's challenge
        status = getattr(exc, "status_code", None)
        reason = f"{type(exc).__name__}, HTTP {status}" if status else type(exc).__name__
        raise ConfigurationError(
            f"KEY_VAULT_URL: could not read secrets ({reason}); check the vault URL and that the "
            "app's identity has the 'Key Vault Secrets User' role"
        ) from None
    finally:
        client.close()
    return found


class KeyVaultSettingsSource(PydanticBaseSettingsSource):
    """A pydantic-settings source that fills secret fields from Key Vault when KEY_VAULT_URL is set."""

    reader: SecretReader = staticmethod(read_key_vault_secrets)  # replaced by tests and the sandbox

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads all secrets in one go

    def __call__(self) -> dict[str, Any]:
        vault_url = _environment_value("KEY_VAULT_URL")
        if not vault_url:
            return {}
        try:  # checked before the first request: the vault gets the app's token
            vault_url = service_url(vault_url)
            if not vault_url.startswith("https://"):
                raise ValueError("must be https: the Key Vault SDK sends its token only over TLS")
        except ValueError as exc:
            raise ConfigurationError(f"KEY_VAULT_URL is invalid: {exc}") from None
        secret_to_setting: dict[str, str] = {}
        for field in self.settings_cls.model_fields.values():
            secret_name = key_vault_secret_of(field)
            if secret_name and isinstance(field.validation_alias, str):
                secret_to_setting[secret_name] = field.validation_alias
        found = type(self).reader(vault_url, list(secret_to_setting))
        return {secret_to_setting[name]: value for name, value in found.items()}


def _environment_value(name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in os.environ.items() if key.lower() == wanted and value), None)
