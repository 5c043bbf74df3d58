"""The post-provision hook stores the secrets given in the azd environment, keeps those already in the vault,
asks for missing needed ones, and never prints a value."""

from __future__ import annotations

import io

from infra.hooks import store_secrets
from infra.hooks.store_secrets import SecretSetting, main, secret_settings

VAULT_ENV = {"KEY_VAULT_URL": "https://kv-test.vault.azure.net/", "KEY_VAULT_NAME": "kv-test"}
ALL_NEEDED = {
    "SPAPI_REFRESH_TOKEN": "Atzr|refresh-value",
    "SPAPI_LWA_CLIENT_ID": "amzn1.application-oa2-client.value",
    "SPAPI_LWA_CLIENT_SECRET": "lwa-secret-value",
    "AWS_ACCESS_KEY_ID": "AKIAVALUE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
}


class FakeVault:
    def __init__(self, names: set[str] | None = None) -> None:
        self.secrets: dict[str, str] = dict.fromkeys(names or set(), "old")

    def secret_names(self) -> set[str]:
        return set(self.secrets)

    def set_secret(self, name: str, value: str) -> None:
        self.secrets[name] = value


def run(vault: FakeVault, environ: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), environ={**VAULT_ENV, **environ}, vault=vault, out=out)
    return code, out.getvalue()


def test_the_secrets_are_the_settings_that_name_a_key_vault_secret() -> None:
    by_setting = {item.setting: item for item in secret_settings()}
    assert by_setting["SPAPI_REFRESH_TOKEN"].secret == "spapi-refresh-token"
    assert by_setting["AWS_SECRET_ACCESS_KEY"].secret == "aws-secret-access-key"
    assert {name for name, item in by_setting.items() if item.needed} == set(ALL_NEEDED)
    assert not by_setting["DATAVERSE_CLIENT_SECRET"].needed, "a deployment uses the managed identity"


def test_values_from_the_environment_are_stored_under_their_secret_names_and_never_printed() -> None:
    vault = FakeVault()
    code, output = run(vault, ALL_NEEDED)
    assert code == 0
    assert vault.secrets["spapi-refresh-token"] == "Atzr|refresh-value"
    assert vault.secrets["aws-access-key-id"] == "AKIAVALUE"
    assert "dataverse-client-secret" not in vault.secrets
    for value in ALL_NEEDED.values():
        assert value not in output


def test_a_secret_already_in_the_vault_is_kept_when_the_environment_has_none() -> None:
    vault = FakeVault({"spapi-refresh-token"})
    code, output = run(vault, {k: v for k, v in ALL_NEEDED.items() if k != "SPAPI_REFRESH_TOKEN"})
    assert code == 0
    assert vault.secrets["spapi-refresh-token"] == "old"
    assert "kept: spapi-refresh-token" in output


def test_missing_needed_secrets_fail_with_the_az_line_that_reads_the_value_from_a_variable() -> None:
    vault = FakeVault()
    code, output = run(vault, {"SPAPI_REFRESH_TOKEN": "Atzr|refresh-value"})
    assert code == 1
    assert vault.secrets == {"spapi-refresh-token": "Atzr|refresh-value"}
    expected = 'az keyvault secret set --vault-name kv-test --name aws-secret-access-key --value "$AWS_SECRET_ACCESS_KEY"'
    assert expected in output


def test_dry_run_writes_nothing_and_says_what_it_would_store() -> None:
    vault = FakeVault()
    code, output = run(vault, ALL_NEEDED, "--dry-run")
    assert code == 0
    assert vault.secrets == {}
    assert "would store spapi-refresh-token" in output


def test_in_a_terminal_a_missing_needed_secret_is_asked_for_and_optional_ones_are_not() -> None:
    asked: list[str] = []

    def ask(item: SecretSetting) -> str:
        asked.append(item.setting)
        return "typed-value"

    vault = FakeVault()
    outcome = store_secrets.store_secrets(vault, {}, ask=ask)
    assert sorted(asked) == sorted(ALL_NEEDED)
    assert outcome.missing == []
    assert vault.secrets["spapi-lwa-client-secret"] == "typed-value"


def test_an_unreachable_vault_prints_the_commands_to_run_from_inside_the_network() -> None:
    class UnreachableVault(FakeVault):
        def secret_names(self) -> set[str]:
            raise ConnectionError("private endpoint only")

    code, output = run(UnreachableVault(), ALL_NEEDED)
    assert code == 1
    assert '--name spapi-lwa-client-id --value "$SPAPI_LWA_CLIENT_ID"' in output
    assert "amzn1.application-oa2-client.value" not in output


def test_without_the_vault_url_the_hook_refuses_to_guess() -> None:
    out = io.StringIO()
    assert main([], environ={}, vault=FakeVault(), out=out) == 2
    assert "KEY_VAULT_URL" in out.getvalue()


def test_a_role_assignment_still_propagating_is_waited_out() -> None:
    from azure.core.exceptions import HttpResponseError

    attempts: list[int] = []

    def call() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            error = HttpResponseError(message="(Forbidden) ForbiddenByRbac: caller is not authorized")
            error.status_code = 403
            raise error

    class Client:
        def list_properties_of_secrets(self) -> list[object]:
            call()
            return []

    slept: list[float] = []
    vault = store_secrets.KeyVault(Client(), sleep=slept.append)  # type: ignore[arg-type]
    assert vault.secret_names() == set()
    assert slept == [store_secrets.RBAC_RETRY_SECONDS] * 2
