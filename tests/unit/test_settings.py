"""Settings: one object, validated at start-up, errors that name the setting and never its value."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.amazon.client import SpApiConfig
from shared.config import Settings, load_settings
from shared.errors import ConfigurationError
from shared.runtime import Runtime
from shared.secrets import KeyVaultSettingsSource
from shared.settings_docs import describe_settings, example_settings_file, settings_table
from tests.builders import settings_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):
    """Replace the process environment with exactly the given settings."""

    def apply(env: dict[str, str]) -> None:
        for name in list(__import__("os").environ):
            if name.upper().startswith(
                ("SPAPI_", "DATAVERSE_", "STATE_", "KEY_VAULT", "AZUREWEBJOBS", "SERVICEBUS", "MAPPING_")
            ):
                monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def test_defaults_apply_when_only_required_settings_are_given(environment) -> None:
    """A minimal environment yields the documented defaults."""
    environment(settings_env())
    settings = load_settings()
    assert settings.amazon_notifications_queue == "amazon-notifications"
    assert settings.spapi_region == "na"
    assert settings.spapi_marketplace_ids == ["ATVPDKIKX0DER"]
    assert settings.spapi_base_url == "https://sellingpartnerapi-na.amazon.com"
    assert settings.spapi_lwa_token_url == "https://api.amazon.com/auth/o2/token"
    assert settings.dataverse_api_version == "9.2"
    assert settings.dataverse_prefix == "new_"
    assert (
        settings.state_connection_string == "UseDevelopmentStorage=true"
    )  # falls back to AzureWebJobsStorage


def test_comma_separated_lists_are_split_and_upper_cased(environment) -> None:
    """SPAPI_MARKETPLACE_IDS and SPAPI_INCLUDED_DATA are comma-separated in app settings."""
    environment(
        settings_env(
            SPAPI_MARKETPLACE_IDS="ATVPDKIKX0DER, A2EUQ1WTGCTBG2", SPAPI_INCLUDED_DATA="buyer,fulfillment"
        )
    )
    settings = load_settings()
    assert settings.spapi_marketplace_ids == ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]
    assert settings.spapi_included_data == ["BUYER", "FULFILLMENT"]


def test_settings_one_function_needs_are_checked_when_it_needs_them(environment) -> None:
    """Without SP-API and Dataverse settings the app still starts (the bridge needs neither); a connector
    that needs them names every missing one by its app-setting name."""
    environment(settings_env(SPAPI_REFRESH_TOKEN=None, SPAPI_LWA_CLIENT_SECRET=None, DATAVERSE_URL=None))
    settings = load_settings()
    with pytest.raises(ConfigurationError) as error:
        SpApiConfig.from_settings(settings)
    assert str(error.value) == "Amazon SP-API needs SPAPI_REFRESH_TOKEN, SPAPI_LWA_CLIENT_SECRET (not set)"
    with pytest.raises(ConfigurationError, match="Dataverse needs DATAVERSE_URL"):
        _ = Runtime(settings).dataverse


def test_invalid_values_are_named_without_echoing_them(environment) -> None:
    """An invalid value fails with the setting's name and the rule, not the value itself."""
    environment(
        settings_env(
            SPAPI_REGION="moon", DATAVERSE_PREFIX="Bad Prefix!", SPAPI_LWA_CLIENT_SECRET="s3cr3t-value"
        )
    )
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    assert "SPAPI_REGION is invalid" in message
    assert "DATAVERSE_PREFIX is invalid" in message
    assert "moon" not in message
    assert "Bad Prefix!" not in message
    assert "s3cr3t-value" not in message


def test_included_data_must_contain_fulfillment(environment) -> None:
    """Without FULFILLMENT Amazon returns no status, so the setting is refused at start-up."""
    environment(settings_env(SPAPI_INCLUDED_DATA="BUYER,RECIPIENT"))
    with pytest.raises(ConfigurationError, match="SPAPI_INCLUDED_DATA is invalid: FULFILLMENT is required"):
        load_settings()


def test_unknown_included_data_is_refused(environment) -> None:
    """Datasets outside Amazon's enum are refused."""
    environment(settings_env(SPAPI_INCLUDED_DATA="FULFILLMENT,EVERYTHING"))
    with pytest.raises(ConfigurationError, match="unknown datasets"):
        load_settings()


def test_anonymous_dataverse_is_refused_for_a_real_environment(environment) -> None:
    """DATAVERSE_AUTH=none only works against a loopback address (the sandbox)."""
    environment(settings_env(DATAVERSE_URL="https://contoso.crm.dynamics.com", DATAVERSE_AUTH="none"))
    with pytest.raises(ConfigurationError, match="DATAVERSE_AUTH=none is refused"):
        load_settings()


def test_plain_http_is_refused_for_non_loopback_urls(environment) -> None:
    """Tokens must not travel over plain http to a remote host."""
    environment(settings_env(DATAVERSE_URL="http://contoso.crm.dynamics.com", DATAVERSE_AUTH="default"))
    with pytest.raises(ConfigurationError, match="DATAVERSE_URL is invalid: plain http"):
        load_settings()


def test_client_secret_auth_names_what_it_needs(environment) -> None:
    """DATAVERSE_AUTH=client_secret without its three settings names all three."""
    environment(
        settings_env(DATAVERSE_URL="https://contoso.crm.dynamics.com", DATAVERSE_AUTH="client_secret")
    )
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    for name in ("DATAVERSE_TENANT_ID", "DATAVERSE_CLIENT_ID", "DATAVERSE_CLIENT_SECRET"):
        assert name in str(error.value)


def test_state_storage_is_required_in_some_form(environment) -> None:
    """Without any state storage setting the app refuses to start."""
    environment(settings_env(AzureWebJobsStorage=None))
    with pytest.raises(ConfigurationError, match="no state storage"):
        load_settings()


def test_identity_based_state_storage_does_not_fall_back_to_host_storage(environment) -> None:
    """STATE_STORAGE_TABLE_ENDPOINT wins over AzureWebJobsStorage: identity, no shared key."""
    environment(settings_env(STATE_STORAGE_TABLE_ENDPOINT="https://acct.table.core.windows.net"))
    settings = load_settings()
    assert settings.state_connection_string is None
    assert settings.state_storage_table_endpoint == "https://acct.table.core.windows.net"


def test_key_vault_secrets_override_the_environment(environment, monkeypatch: pytest.MonkeyPatch) -> None:
    """With KEY_VAULT_URL set, secrets come from the vault by their secret names."""
    asked: list[str] = []

    def reader(vault_url: str, names):
        asked.extend(names)
        assert vault_url == "https://kv.vault.azure.net"
        return {"spapi-refresh-token": "from-vault", "spapi-lwa-client-secret": "vault-secret"}

    monkeypatch.setattr(KeyVaultSettingsSource, "reader", staticmethod(reader))
    environment(settings_env(KEY_VAULT_URL="https://kv.vault.azure.net"))
    settings = load_settings()
    assert settings.required("spapi_refresh_token", needed_by="test")[0] == "from-vault"
    assert settings.required("spapi_lwa_client_secret", needed_by="test")[0] == "vault-secret"
    assert (
        settings.spapi_lwa_client_id == "amzn1.application-oa2-client.test"
    )  # not in the vault: environment
    assert set(asked) == {
        "spapi-refresh-token",
        "spapi-lwa-client-id",
        "spapi-lwa-client-secret",
        "dataverse-client-secret",
        "dataverse-events-sas-key",
        "aws-access-key-id",
        "aws-secret-access-key",
    }


def test_key_vault_is_not_asked_without_a_vault_url(environment, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without KEY_VAULT_URL no vault call is made."""

    def reader(vault_url: str, names):
        raise AssertionError("the vault must not be read")

    monkeypatch.setattr(KeyVaultSettingsSource, "reader", staticmethod(reader))
    environment(settings_env())
    assert load_settings().required("spapi_refresh_token", needed_by="test")[0] == "Atzr|test-refresh-token"


def test_secrets_do_not_appear_in_repr(environment) -> None:
    """Printing the settings object shows no secret."""
    environment(settings_env())
    text = repr(load_settings())
    assert "Atzr|test-refresh-token" not in text
    assert "test-client-secret" not in text


def test_example_settings_file_is_generated_from_the_settings() -> None:
    """local.settings.json.example is exactly what `python -m shared.settings_docs --example` prints."""
    assert (REPO / "local.settings.json.example").read_text("utf-8") == example_settings_file()


def test_example_settings_file_lists_every_setting_with_a_comment() -> None:
    """Every setting appears in the example, each under a // comment describing it."""
    text = (REPO / "local.settings.json.example").read_text("utf-8")
    values = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))["Values"]
    names = {name for name, *_ in describe_settings()}
    assert names <= set(values), f"missing in the example: {sorted(names - set(values))}"
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith('"') and line.strip().split('"')[1] in names:
            assert lines[index - 1].strip().startswith("//"), line


def test_empty_values_count_as_unset(environment) -> None:
    """An empty app setting (as in the example file) falls back to the default."""
    environment(settings_env(SPAPI_REGION="", STATE_STORAGE_CONNECTION=""))
    settings = load_settings()
    assert settings.spapi_region == "na"
    assert settings.state_connection_string == "UseDevelopmentStorage=true"


def test_readme_settings_table_is_generated_from_the_settings() -> None:
    """The README's settings table is exactly `python -m shared.settings_docs --markdown`."""
    readme = (REPO / "README.md").read_text("utf-8")
    block = readme.split("<!-- settings:start -->\n")[1].split("<!-- settings:end -->")[0]
    assert block == settings_table()


def test_every_setting_is_documented_in_the_readme() -> None:
    """The README's settings table names every setting."""
    readme = (REPO / "README.md").read_text("utf-8")
    missing = [name for name, *_ in describe_settings() if f"`{name}`" not in readme]
    assert not missing, f"not in README: {missing}"


def test_every_field_has_a_description_and_an_app_setting_name() -> None:
    """A setting without documentation or a fixed name is a defect."""
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert isinstance(field.validation_alias, str), name


def test_the_bridge_timer_runs_without_amazon_or_dataverse_settings(environment) -> None:
    """sqs_bridge uses neither SP-API nor Dataverse: without their settings it runs (here idle: no queue)."""
    import function_app
    from sandbox.functions_host import registered_functions
    from shared.runtime import reset_runtime

    environment(
        settings_env(
            SPAPI_REFRESH_TOKEN=None,
            SPAPI_LWA_CLIENT_ID=None,
            SPAPI_LWA_CLIENT_SECRET=None,
            DATAVERSE_URL=None,
            SQS_QUEUE_URL=None,
        )
    )
    reset_runtime()
    try:

        class Timer:
            past_due = False

        registered_functions(function_app.app)["sqs_bridge"](Timer())
    finally:
        reset_runtime()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (
            "DATAVERSE_URL",
            "http://192.0.2.2:8080\\@127.0.0.1:8080",
        ),  # urlsplit: loopback; the client: 192.0.2.2
        ("DATAVERSE_URL", "https://user:pass@org.crm.dynamics.com"),
        ("DATAVERSE_URL", "https://org.crm.dynamics.com#fragment"),
        ("SPAPI_ENDPOINT", "http://sellingpartnerapi-na.amazon.com"),  # plain http off loopback
        ("SPAPI_LWA_TOKEN_URL", "https://api.amazon.com/auth/o2/token\n"),
        ("STATE_STORAGE_TABLE_ENDPOINT", "https://acct.table.core.windows.net\\@evil"),
        ("KEY_VAULT_URL", "http://127.0.0.1:8443"),  # Key Vault only over TLS, even on loopback
    ],
)
def test_service_urls_that_parsers_could_read_two_ways_are_refused(
    environment, name: str, value: str
) -> None:
    """A service URL that could misdirect a token is refused at start-up, by name, without its value."""
    environment(settings_env(**{name: value}))
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert f"{name} is invalid" in str(error.value)
    assert "192.0.2.2" not in str(error.value)
    assert "pass" not in str(error.value)


def test_order_sync_refuses_to_start_without_the_seller_id(environment) -> None:
    """Without SPAPI_SELLER_ID another seller's notifications would be written: order sync names it."""
    environment(settings_env(SPAPI_SELLER_ID=None))
    with pytest.raises(ConfigurationError, match="order sync needs SPAPI_SELLER_ID"):
        _ = Runtime(load_settings()).order_sync
