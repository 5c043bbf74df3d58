"""Every setting the app needs is given by the deployment, identity-based: an app setting from Bicep, or a
Key Vault secret the post-provision hook stores; nothing the code does not know is set."""

from __future__ import annotations

import pytest
from pydantic.fields import FieldInfo

from infra.hooks.store_secrets import secret_settings
from shared.config import Settings, setting_name
from shared.secrets import key_vault_secret_of
from tests.infra import bicep, functions

# What a deployment must set even where shared/config.py has a default or makes it optional (settings may be
# validated only when first needed): the Amazon and Dataverse connections, the managed identity for Dataverse,
# the bridge's SQS queue, and the identity-based endpoints.
DEPLOYMENT_MUST_SET = {
    "DATAVERSE_URL",
    "DATAVERSE_AUTH",
    "DATAVERSE_CLIENT_ID",
    "SPAPI_REFRESH_TOKEN",
    "SPAPI_LWA_CLIENT_ID",
    "SPAPI_LWA_CLIENT_SECRET",
    "SPAPI_SELLER_ID",
    "SPAPI_MARKETPLACE_IDS",
    "SPAPI_REGION",
    "SQS_QUEUE_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "KEY_VAULT_URL",
    "STATE_STORAGE_TABLE_ENDPOINT",
    "STATE_TABLE",
    "ServiceBusConnection__fullyQualifiedNamespace",
    "AMAZON_NOTIFICATIONS_QUEUE",
}

# Settings of the Functions host and the Azure SDKs rather than of shared/config.py.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "ServiceBusConnection__credential",
    "ServiceBusConnection__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
}

IDENTITY_CLIENT_ID = "identity.outputs.clientId"


def _fields() -> dict[str, FieldInfo]:
    return {setting_name(name): field for name, field in Settings.model_fields.items()}


def needed_settings() -> set[str]:
    required = {setting_name(name) for name, field in Settings.model_fields.items() if field.is_required()}
    return required | DEPLOYMENT_MUST_SET


def test_the_explicit_list_names_real_settings() -> None:
    assert set(_fields()) >= DEPLOYMENT_MUST_SET, sorted(DEPLOYMENT_MUST_SET - set(_fields()))


@pytest.mark.parametrize("name", sorted(needed_settings()))
def test_each_needed_setting_is_an_app_setting_or_a_key_vault_secret_never_both(name: str) -> None:
    secret = key_vault_secret_of(Settings.model_fields[_field_name(name)])
    settings = bicep.app_settings()
    if secret:
        stored = {item.secret: item for item in secret_settings()}
        assert secret in stored, f"the hook does not store Key Vault secret {secret}"
        assert stored[secret].needed, f"the hook does not insist on Key Vault secret {secret}"
        assert name not in settings, f"{name} is a secret: it belongs in Key Vault, not in an app setting"
    else:
        assert name in settings, f"{name} is needed but no app setting gives it"


def test_every_app_setting_is_known_to_the_code_or_the_host() -> None:
    known = set(_fields()) | HOST_SETTINGS
    for trigger in functions.triggers():
        known |= trigger.binding_expressions
    unknown = set(bicep.app_settings()) - known
    assert unknown == set(), f"app settings nothing reads (a typo?): {sorted(unknown)}"


def test_no_secret_or_connection_string_is_an_app_setting() -> None:
    fields = _fields()
    for name, setting in bicep.app_settings().items():
        field = fields.get(name)
        if field is not None:
            assert "SecretStr" not in repr(field.annotation), f"{name} holds a secret or a connection string"
        if (
            name != "APPLICATIONINSIGHTS_CONNECTION_STRING"
        ):  # no key in it, and local auth is off (test_no_keys)
            assert "connection" not in name.lower() or "__" in name, name
        assert "AccountKey" not in setting.value
        assert "SharedAccess" not in setting.value


def test_connections_use_the_user_assigned_identity() -> None:
    settings = {name: setting.value for name, setting in bicep.app_settings().items()}
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["ServiceBusConnection__credential"] == "managedidentity"
    assert settings["DATAVERSE_AUTH"] == "managed_identity"
    for name in (
        "AzureWebJobsStorage__clientId",
        "ServiceBusConnection__clientId",
        "AZURE_CLIENT_ID",
        "DATAVERSE_CLIENT_ID",
    ):
        assert settings[name] == IDENTITY_CLIENT_ID, name
    assert (
        settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == f"Authorization=AAD;ClientId=${{{IDENTITY_CLIENT_ID}}}"
    )
    assert settings["AzureWebJobsStorage__accountName"] == "storage.outputs.name"
    assert settings["STATE_STORAGE_TABLE_ENDPOINT"] == "storage.outputs.tableEndpoint"
    assert settings["KEY_VAULT_URL"] == "keyVault.outputs.uri"


def test_each_binding_connection_has_identity_based_settings() -> None:
    settings = bicep.app_settings()
    for trigger in functions.triggers():
        connection = trigger.arguments.get("connection")
        if connection:
            assert f"{connection}__fullyQualifiedNamespace" in settings, trigger.function
            assert settings[f"{connection}__credential"].value == "managedidentity", trigger.function
            assert connection not in settings, f"{connection} would be a connection string"


def test_every_settings_group_of_main_reaches_the_function_app() -> None:
    groups = {name for name in bicep.main()["variables"] if name.endswith("Settings")}
    passed = bicep.body(bicep.main()["modules"]["functionApp"])["params"]["appSettings"]["function"]
    assert passed["type"] == "concat"
    assert set(passed["parameters"].values()) == groups
    (app,) = bicep.resources_of_type("Microsoft.Web/sites")
    site_settings = app.body["properties"]["siteConfig"]["appSettings"]["function"]["parameters"]
    assert set(site_settings.values()) == {"hostSettings", "appSettings"}


def _field_name(setting: str) -> str:
    return next(name for name in Settings.model_fields if setting_name(name) == setting)
