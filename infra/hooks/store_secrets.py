"""Post-provision hook: put the app's secrets into its Key Vault.

    python -m infra.hooks.store_secrets [--dry-run]

azd runs it after provisioning (azure.yaml) with the environment's values in os.environ: KEY_VAULT_URL and
KEY_VAULT_NAME from the Bicep outputs, and the secrets the operator gave with `azd env set NAME value`, under
their app-setting names (SPAPI_REFRESH_TOKEN, ...). The secrets are the Settings fields that name a Key Vault
secret (shared/config.py), so a secret added there is picked up here without a change.

For each secret: a value in the environment is written to the vault; a secret the vault already holds is
kept; a missing one the deployment needs is asked for (when run in a terminal), otherwise reported with the
`az keyvault secret set` line to run. Values never appear in the output. Exit code 0: every needed secret is
in the vault (or would be, with --dry-run); 1: some are missing or the vault refused; 2: bad arguments.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO, TypeVar
from urllib.parse import urlsplit

from shared.config import Settings, setting_name
from shared.secrets import key_vault_secret_of

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient

# Secrets a deployment cannot run without, whatever shared/config.py declares optional: the SP-API
# application and the seller's authorization, and the AWS key of the SQS queue (Azure has no AWS role to
# fall back on). Settings without a default are needed too.
DEPLOYMENT_NEEDS = frozenset(
    {
        "SPAPI_REFRESH_TOKEN",
        "SPAPI_LWA_CLIENT_ID",
        "SPAPI_LWA_CLIENT_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
)

# A role assignment made by the same `azd provision` can take a few minutes to reach Key Vault.
RBAC_PROPAGATION_SECONDS = 300.0
RBAC_RETRY_SECONDS = 15.0

T = TypeVar("T")


@dataclass(frozen=True)
class SecretSetting:
    setting: str  # the app-setting name, also the azd environment variable
    secret: str  # the Key Vault secret name
    description: str
    needed: bool


def secret_settings() -> list[SecretSetting]:
    """Every setting the app reads from Key Vault, in declaration order."""
    found = []
    for field_name, field in Settings.model_fields.items():
        secret = key_vault_secret_of(field)
        if secret:
            setting = setting_name(field_name)
            needed = field.is_required() or setting in DEPLOYMENT_NEEDS
            found.append(SecretSetting(setting, secret, field.description or "", needed))
    return found


class Vault(Protocol):
    def secret_names(self) -> set[str]: ...

    def set_secret(self, name: str, value: str) -> None: ...


@dataclass
class Outcome:
    stored: list[str]
    kept: list[str]
    missing: list[SecretSetting]


def store_secrets(
    vault: Vault,
    environ: Mapping[str, str],
    *,
    ask: Callable[[SecretSetting], str] | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Write the secrets found in `environ` (or given to `ask`) that the vault should hold; report the rest."""
    outcome = Outcome(stored=[], kept=[], missing=[])
    present = vault.secret_names()
    for item in secret_settings():
        value = environ.get(item.setting, "").strip()
        if not value and item.secret in present:
            outcome.kept.append(item.secret)
            continue
        if not value and item.needed and ask is not None and not dry_run:
            value = ask(item).strip()
        if value:
            if not dry_run:
                vault.set_secret(item.secret, value)
            outcome.stored.append(item.secret)
        elif item.needed:
            outcome.missing.append(item)
    return outcome


class KeyVault:
    """The vault through azure-keyvault-secrets, waiting out a role assignment that has not propagated yet."""

    def __init__(self, client: SecretClient, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @classmethod
    def connect(cls, vault_url: str, credential: TokenCredential) -> KeyVault:
        from azure.keyvault.secrets import SecretClient

        return cls(SecretClient(vault_url=vault_url, credential=credential))

    def secret_names(self) -> set[str]:
        return self._retrying(
            lambda: {item.name for item in self._client.list_properties_of_secrets() if item.name}
        )

    def set_secret(self, name: str, value: str) -> None:
        self._retrying(lambda: self._client.set_secret(name, value))

    def _retrying(self, call: Callable[[], T]) -> T:
        from azure.core.exceptions import HttpResponseError

        waited = 0.0
        while True:
            try:
                return call()
            except HttpResponseError as exc:
                forbidden_by_role = exc.status_code == 403 and "ForbiddenByRbac" in str(exc)
                if not forbidden_by_role or waited >= RBAC_PROPAGATION_SECONDS:
                    raise
                self._sleep(RBAC_RETRY_SECONDS)
                waited += RBAC_RETRY_SECONDS


def az_commands(vault_name: str, missing: Iterable[SecretSetting]) -> list[str]:
    """What to run later; the value comes from the variable of the same name, never from this output."""
    return [
        f'az keyvault secret set --vault-name {vault_name} --name {item.secret} --value "${item.setting}"'
        for item in missing
    ]


def _ask_in_terminal(item: SecretSetting) -> str:
    return getpass.getpass(f"{item.setting} ({item.description}) [Enter to skip]: ")


def _vault_name(environ: Mapping[str, str], vault_url: str) -> str:
    return environ.get("KEY_VAULT_NAME") or (urlsplit(vault_url).hostname or "").split(".")[0]


def main(
    argv: list[str],
    *,
    environ: Mapping[str, str] = os.environ,
    vault: Vault | None = None,
    out: TextIO = sys.stdout,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.hooks.store_secrets", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be stored; write nothing")
    args = parser.parse_args(argv)

    vault_url = environ.get("KEY_VAULT_URL", "")
    if not vault_url:
        print("KEY_VAULT_URL is not set: run this after `azd provision` (azd passes its outputs).", file=out)
        return 2
    vault_name = _vault_name(environ, vault_url)
    ask = _ask_in_terminal if sys.stdin.isatty() else None
    try:
        if vault is None:
            from azure.identity import AzureDeveloperCliCredential

            vault = KeyVault.connect(vault_url, AzureDeveloperCliCredential())
        outcome = store_secrets(vault, environ, ask=ask, dry_run=args.dry_run)
    except Exception as exc:  # noqa: BLE001 - any SDK or network failure gets the same advice
        print(f"Key Vault {vault_name} refused or could not be reached ({type(exc).__name__}).", file=out)
        print(
            "With private networking, run these from inside the VNet (or allow your IP on the vault for a moment):",
            file=out,
        )
        for line in az_commands(vault_name, [item for item in secret_settings() if item.needed]):
            print(f"  {line}", file=out)
        return 1

    verb = "would store" if args.dry_run else "stored"
    print(f"Key Vault {vault_name}: {verb} {', '.join(outcome.stored) or 'nothing'}", file=out)
    if outcome.kept:
        print(f"  already there, kept: {', '.join(outcome.kept)}", file=out)
    if outcome.missing:
        print(
            "  MISSING (the app cannot start without them); set and re-run `azd provision`, or run:", file=out
        )
        for line in az_commands(vault_name, outcome.missing):
            print(f"  {line}", file=out)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
