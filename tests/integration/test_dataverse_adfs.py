"""DATAVERSE_AUTH=adfs: the Dataverse connector gets its tokens from AD FS (client credentials) and talks to an
on-premises v9.1 org, over sockets with the AD FS and Dataverse emulators."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.adfs_emulator import AdfsEmulator
from sandbox.dataverse_emulator import DataverseEmulator
from shared.config import Settings, load_settings
from shared.dataverse.auth import REFRESH_MARGIN_SECONDS, build_token_provider
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import DataverseAuthError
from shared.errors import ConfigurationError
from tests.adfs_support import CLIENT_ID, RESOURCE, SECRET, Clock

pytestmark = pytest.mark.sockets


@pytest.fixture
def org(adfs: AdfsEmulator) -> Iterator[DataverseEmulator]:
    with DataverseEmulator.on_premises(adfs, RESOURCE) as emulator:
        emulator.add_application_user(CLIENT_ID, "Amazon Seller Central sync")
        yield emulator


@pytest.fixture
def settings(adfs: AdfsEmulator, org: DataverseEmulator, monkeypatch: pytest.MonkeyPatch):
    def load(**overrides: str) -> Settings:
        for name in list(os.environ):
            if name.upper().startswith(("DATAVERSE_", "KEY_VAULT")):
                monkeypatch.delenv(name, raising=False)
        env = {
            "DATAVERSE_URL": org.base_url,
            "DATAVERSE_API_VERSION": "9.1",
            "DATAVERSE_AUTH": "adfs",
            "DATAVERSE_ADFS_TOKEN_URL": adfs.token_url,
            "DATAVERSE_ADFS_RESOURCE": RESOURCE,
            "DATAVERSE_CLIENT_ID": CLIENT_ID,
            "DATAVERSE_CLIENT_SECRET": SECRET,
            "STATE_STORAGE_CONNECTION": "UseDevelopmentStorage=true",
            **overrides,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return load


def client_for(settings: Settings, clock: Clock | None = None) -> DataverseClient:
    provider = build_token_provider(settings)
    if clock is not None and provider is not None:
        provider._clock = clock  # the provider decides expiry on the same clock the AD FS emulator issues on
        provider._credential._clock = clock  # type: ignore[attr-defined]
    return DataverseClient(
        str(settings.dataverse_url), api_version=settings.dataverse_api_version, token_provider=provider
    )


def test_the_connector_calls_the_v9_1_api_as_the_application_user(settings, org: DataverseEmulator) -> None:
    """An AD FS client-credentials token for the org's resource makes WhoAmI answer with the application user."""
    client = client_for(settings())

    answer = client.request("GET", "WhoAmI", idempotent=True, what="whoami")

    assert client.api_root.endswith("/api/data/v9.1/")
    assert answer.body["UserId"] == org.application_user(CLIENT_ID)


def test_tokens_are_cached_until_shortly_before_they_expire(
    settings, adfs: AdfsEmulator, adfs_clock: Clock
) -> None:
    """Many requests share one token; five minutes before its hour is up a new one is fetched."""
    client = client_for(settings(), adfs_clock)
    for _ in range(5):
        client.request("GET", "WhoAmI", idempotent=True, what="whoami")
    assert adfs.issued == 1

    adfs_clock.now += 3600 - REFRESH_MARGIN_SECONDS - 1
    client.request("GET", "WhoAmI", idempotent=True, what="whoami")
    assert adfs.issued == 1
    adfs_clock.now += 2
    client.request("GET", "WhoAmI", idempotent=True, what="whoami")
    assert adfs.issued == 2


def test_a_wrong_secret_is_refused_without_retries_or_the_secret_in_the_message(settings, adfs) -> None:
    """AD FS's invalid_client becomes a DataverseAuthError naming the settings to check, never their values."""
    client = client_for(settings(DATAVERSE_CLIENT_SECRET="not-the-secret"))

    with pytest.raises(DataverseAuthError) as refused:
        client.request("GET", "WhoAmI", idempotent=True, what="whoami")

    assert refused.value.code == "invalid_client"
    assert "DATAVERSE_CLIENT_SECRET" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)
    assert adfs.requests.snapshot() == {"token": 1}


def test_the_resource_defaults_to_the_org_url(settings, adfs: AdfsEmulator, org: DataverseEmulator) -> None:
    """Without DATAVERSE_ADFS_RESOURCE the token is asked for DATAVERSE_URL (the usual relying party id)."""
    adfs.register_client(CLIENT_ID, SECRET)  # a client AD FS lets ask for any relying party
    provider = build_token_provider(settings(DATAVERSE_ADFS_RESOURCE=""))
    assert provider is not None

    token = provider()

    assert adfs.validate(token, org.base_url) is not None
    assert adfs.validate(token, RESOURCE) is None


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("DATAVERSE_ADFS_TOKEN_URL", "DATAVERSE_ADFS_TOKEN_URL"),
        ("DATAVERSE_CLIENT_SECRET", "DATAVERSE_CLIENT_SECRET"),
    ],
)
def test_adfs_settings_are_checked_at_start_up(settings, missing: str, named: str) -> None:
    """DATAVERSE_AUTH=adfs without its token URL or secret fails when the settings load, naming the setting."""
    with pytest.raises(ConfigurationError, match=named):
        settings(**{missing: ""})
