"""Settings from Key Vault over real sockets: the unmodified azure-keyvault-secrets SDK against the HTTPS stand-in."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from sandbox.keyvault_standin import VAULT_SCOPE, KeyVaultStandIn, StaticTokenCredential
from shared.config import load_settings
from shared.errors import ConfigurationError
from shared.secrets import KeyVaultSettingsSource, read_key_vault_secrets
from tests.builders import settings_env

pytestmark = pytest.mark.sockets

VAULT_SECRETS = {
    "spapi-refresh-token": "Atzr|vault-refresh-token-7f3a",
    "spapi-lwa-client-secret": "vault-lwa-secret-91c2",
    "dataverse-client-secret": "vault-dataverse-secret-55e0",
    "aws-access-key-id": "AKIAVAULTKEY0000TEST",
    "aws-secret-access-key": "vault-aws-secret-d41d8cd98f00b204",
    "dataverse-events-sas-key": "vault-events-sas-3b9e",
}
SETTING_PREFIXES = (
    "SPAPI_",
    "DATAVERSE_",
    "STATE_",
    "KEY_VAULT",
    "AZUREWEBJOBS",
    "SERVICEBUS",
    "MAPPING_",
    "AWS_",
    "SQS_",
    "BRIDGE_",
    "REQUESTS_CA_BUNDLE",
)


@pytest.fixture
def vault() -> Iterator[KeyVaultStandIn]:
    """A running stand-in holding the app's secrets; the SDK's process-wide challenge cache starts empty."""
    http_challenge_cache.clear()  # a reused ephemeral port must not inherit an earlier test's challenge
    with KeyVaultStandIn() as running:
        for name, value in VAULT_SECRETS.items():
            running.set_secret(name, value)
        yield running
    http_challenge_cache.clear()


def route_reader(
    monkeypatch: pytest.MonkeyPatch, vault: KeyVaultStandIn, credential: StaticTokenCredential | None = None
) -> StaticTokenCredential:
    """Point the settings source at the real reader, with a static credential and the stand-in's CA."""
    credential = credential or vault.credential()
    reader = functools.partial(
        read_key_vault_secrets,
        credential=credential,
        connection_verify=vault.ca_file,
        verify_challenge_resource=False,  # the challenge names vault.azure.net; the stand-in is 127.0.0.1
        retry_total=2,
        retry_backoff_factor=0.01,
    )
    monkeypatch.setattr(KeyVaultSettingsSource, "reader", staticmethod(reader))
    return credential


def use_environment(monkeypatch: pytest.MonkeyPatch, **overrides: str | None) -> None:
    """Replace the app's settings in the environment with settings_env(**overrides)."""
    for name in list(os.environ):
        if name.upper().startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    for name, value in settings_env(**overrides).items():
        monkeypatch.setenv(name, value)


def test_secrets_are_read_from_the_vault(vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """With KEY_VAULT_URL set, every secret the vault holds wins over the environment."""
    route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url, AWS_ACCESS_KEY_ID="AKIAENVIRONMENT00000")

    settings = load_settings()

    assert (
        settings.required("spapi_refresh_token", needed_by="test")[0] == VAULT_SECRETS["spapi-refresh-token"]
    )
    assert (
        settings.required("spapi_lwa_client_secret", needed_by="test")[0]
        == VAULT_SECRETS["spapi-lwa-client-secret"]
    )
    assert settings.dataverse_client_secret is not None
    assert settings.dataverse_client_secret.get_secret_value() == VAULT_SECRETS["dataverse-client-secret"]
    assert settings.aws_access_key_id is not None
    assert settings.aws_access_key_id.get_secret_value() == VAULT_SECRETS["aws-access-key-id"]
    assert settings.aws_secret_access_key is not None
    assert settings.aws_secret_access_key.get_secret_value() == VAULT_SECRETS["aws-secret-access-key"]
    assert settings.dataverse_events_sas_key is not None
    assert settings.dataverse_events_sas_key.get_secret_value() == VAULT_SECRETS["dataverse-events-sas-key"]
    assert vault.counts()["served"] == len(VAULT_SECRETS)


def test_a_secret_missing_from_the_vault_comes_from_the_environment(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vault answers 404 SecretNotFound for a secret it lacks, and the environment's value is used."""
    vault.delete_secret("spapi-refresh-token")
    route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url, SPAPI_REFRESH_TOKEN="Atzr|from-environment")

    settings = load_settings()

    assert settings.required("spapi_refresh_token", needed_by="test")[0] == "Atzr|from-environment"
    assert settings.spapi_lwa_client_id == "amzn1.application-oa2-client.test"  # never in the vault
    assert (
        settings.required("spapi_lwa_client_secret", needed_by="test")[0]
        == VAULT_SECRETS["spapi-lwa-client-secret"]
    )
    assert vault.counts()["not_found"] == 2  # spapi-refresh-token and spapi-lwa-client-id


def test_a_secret_in_neither_place_is_reported_missing(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret absent from both the vault and the environment fails by its setting name when needed."""
    vault.delete_secret("spapi-refresh-token")
    route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url, SPAPI_REFRESH_TOKEN=None)

    with pytest.raises(ConfigurationError, match="needs SPAPI_REFRESH_TOKEN"):
        load_settings().required("spapi_refresh_token", needed_by="Amazon SP-API")


def test_the_sdk_answers_the_bearer_challenge_before_sending_its_token(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request goes without a token, gets the 401 challenge, and every later one carries a bearer token for the challenge's tenant and scope."""
    credential = route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url)

    load_settings()

    seen = vault.seen
    assert (seen[0].authorization, seen[0].status) == ("none", 401)
    assert {request.authorization for request in seen[1:]} == {"accepted"}
    assert vault.counts()["challenged"] == 1
    assert seen[1].path == seen[0].path  # the challenged request is the one repeated with the token
    assert all(request.api_version for request in seen)
    assert set(credential.scopes) == {VAULT_SCOPE}
    assert set(credential.tenants) == {vault.tenant_id}


def test_a_specific_version_of_a_secret_can_be_read(vault: KeyVaultStandIn) -> None:
    """GET /secrets/{name}/{version} returns that version while the plain name returns the latest."""
    from azure.keyvault.secrets import SecretClient

    first = vault.set_secret("rotating", "old-value")
    latest = vault.set_secret("rotating", "new-value")
    with SecretClient(
        vault.vault_url,
        vault.credential(),
        connection_verify=vault.ca_file,
        verify_challenge_resource=False,
    ) as client:
        assert client.get_secret("rotating").value == "new-value"
        old = client.get_secret("rotating", first)
    assert old.value == "old-value"
    assert old.id == f"{vault.vault_url}/secrets/rotating/{first}"
    assert latest != first


@pytest.mark.parametrize(
    ("fault", "status"),
    [("server_error", 500), ("unavailable", 503), ("forbidden", 403), ("refused_token", 401)],
)
def test_a_failing_vault_is_a_configuration_error_without_secret_values(
    vault: KeyVaultStandIn,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    status: int,
) -> None:
    """A vault that errors or refuses the token stops start-up with a message naming KEY_VAULT_URL and the role, never a secret."""
    if fault == "refused_token":
        vault.refuse_tokens()
    else:
        vault.fail_requests(status, times=None)
    route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url)

    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigurationError) as error:
        load_settings()

    message = str(error.value)
    assert message.startswith("KEY_VAULT_URL: could not read secrets")
    assert f"HTTP {status}" in message
    assert "Key Vault Secrets User" in message
    for value in [*VAULT_SECRETS.values(), *settings_env().values(), vault.token]:
        assert value not in message
        assert value not in caplog.text
    if status in (500, 503):
        assert vault.counts()["faulted"] == 3  # the SDK's own retries (retry_total=2) before giving up


def test_an_untrusted_certificate_is_a_configuration_error(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the stand-in's CA the TLS handshake fails and start-up names KEY_VAULT_URL."""
    reader = functools.partial(
        read_key_vault_secrets,
        credential=vault.credential(),
        verify_challenge_resource=False,
        retry_total=0,
    )
    monkeypatch.setattr(KeyVaultSettingsSource, "reader", staticmethod(reader))
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url)

    with pytest.raises(ConfigurationError, match="KEY_VAULT_URL: could not read secrets"):
        load_settings()
    assert vault.seen == []


def test_the_challenge_resource_check_is_kept_by_default(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the SDK's default resource check, a vault whose challenge does not match its host is refused before any token is sent."""
    reader = functools.partial(
        read_key_vault_secrets, credential=vault.credential(), connection_verify=vault.ca_file
    )
    monkeypatch.setattr(KeyVaultSettingsSource, "reader", staticmethod(reader))
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url)

    with pytest.raises(ConfigurationError, match="KEY_VAULT_URL"):
        load_settings()
    assert [request.authorization for request in vault.seen] == ["none"]


def test_secret_values_never_reach_the_logs(
    vault: KeyVaultStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, with the SDK's HTTP logging on, neither a secret value nor the bearer token is logged."""
    vault.delete_secret("dataverse-client-secret")  # the fallback path logs too
    route_reader(monkeypatch, vault)
    use_environment(monkeypatch, KEY_VAULT_URL=vault.vault_url)

    # The app keeps the SDK's HTTP logger at WARNING (shared/logging_policy.py); open it up here, whatever
    # an earlier test left, to prove that even its DEBUG output carries no secret.
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="azure.core.pipeline.policies.http_logging_policy"),
    ):
        settings = load_settings()

    assert (
        settings.required("spapi_refresh_token", needed_by="test")[0] == VAULT_SECRETS["spapi-refresh-token"]
    )
    assert "azure.core.pipeline.policies.http_logging_policy" in {record.name for record in caplog.records}
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    for value in [*VAULT_SECRETS.values(), vault.token]:
        assert value not in logged
    assert "Key Vault has no secret dataverse-client-secret" in caplog.text
