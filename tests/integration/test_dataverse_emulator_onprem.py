"""The on-premises flavour: the v9.1 Web API and bearer tokens from the emulated AD FS, over sockets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.adfs_emulator import AdfsEmulator
from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_emulator.webapi_client import WebApiClient, error_of
from tests.adfs_support import CLIENT_ID, RESOURCE, SECRET, Clock

pytestmark = pytest.mark.sockets


@pytest.fixture
def onprem(adfs: AdfsEmulator) -> Iterator[DataverseEmulator]:
    with DataverseEmulator.on_premises(adfs, RESOURCE) as emulator:
        emulator.load_seed()
        yield emulator


def token_request(adfs: AdfsEmulator, **form: str) -> requests.Response:
    fields = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "resource": RESOURCE,
    }
    return requests.post(adfs.token_url, data={**fields, **form}, timeout=10)


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


# --- v9.1 --------------------------------------------------------------------------------------------------
def test_the_on_premises_web_api_answers_at_v9_1_only() -> None:
    """An emulator for v9.1 serves /api/data/v9.1/ (rows, definitions, batches) and not v9.2."""
    with DataverseEmulator(api_version="v9.1") as dv:
        dv.load_seed()
        api = WebApiClient(dv.service_root)
        assert dv.service_root.endswith("/api/data/v9.1")
        created = api.post("accounts", {"name": "On premises"})
        assert "/api/data/v9.1/accounts(" in created.headers["OData-EntityId"]
        assert api.get("EntityDefinitions(LogicalName='account')").json()["EntitySetName"] == "accounts"
        newer = requests.get(f"{dv.base_url}/api/data/v9.2/accounts", timeout=10)
        assert error_of(newer)[:2] == (404, "0x8006088a")


# --- AD FS ---------------------------------------------------------------------------------------------------
def test_adfs_issues_tokens_to_registered_clients(adfs: AdfsEmulator, adfs_clock: Clock) -> None:
    """client_credentials with the client's id, secret and resource gives an hour-long bearer token for that resource."""
    response = token_request(adfs)
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)
    issued = claims(body["access_token"])
    assert (issued["aud"], issued["appid"], issued["iss"]) == (RESOURCE, CLIENT_ID, adfs.issuer)
    assert issued["exp"] - issued["iat"] == 3600
    assert issued["iat"] == adfs_clock.now


def test_client_credentials_may_come_as_basic_authentication(adfs: AdfsEmulator) -> None:
    """The client may authenticate with an HTTP Basic header instead of form fields."""
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    response = requests.post(
        adfs.token_url,
        data={"grant_type": "client_credentials", "resource": RESOURCE},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"resource": ""}, 400, "invalid_request"),
        ({"resource": "https://other.contoso.local/"}, 400, "invalid_resource"),
    ],
)
def test_adfs_refuses_what_it_cannot_grant(
    adfs: AdfsEmulator, form: dict[str, str], status: int, error: str
) -> None:
    """Wrong secrets, unknown clients, other grants, missing or foreign resources get OAuth errors."""
    response = token_request(adfs, **form)
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_adfs_publishes_its_token_endpoint(adfs: AdfsEmulator) -> None:
    """The OpenID configuration names the token endpoint and the issuer."""
    document = requests.get(f"{adfs.base_url}/adfs/.well-known/openid-configuration", timeout=10).json()
    assert (document["token_endpoint"], document["issuer"]) == (adfs.token_url, adfs.issuer)


def test_the_org_accepts_adfs_tokens_as_the_application_user(
    adfs: AdfsEmulator, onprem: DataverseEmulator
) -> None:
    """A token whose appid has an application user acts as that user: WhoAmI and createdby name it."""
    app_user = onprem.add_application_user(CLIENT_ID, "Amazon sync")
    api = WebApiClient(onprem.service_root, token=token_request(adfs).json()["access_token"])
    assert api.get("WhoAmI").json()["UserId"] == app_user
    row = api.post("accounts", {"name": "Via AD FS"}, headers={"Prefer": "return=representation"}).json()
    assert row["_createdby_value"] == app_user


def test_missing_expired_or_foreign_tokens_are_challenged(
    adfs: AdfsEmulator, onprem: DataverseEmulator, adfs_clock: Clock
) -> None:
    """Without a valid token for the org the answer is 401 with a Bearer challenge pointing at AD FS."""
    onprem.add_application_user(CLIENT_ID, "Amazon sync")
    token = token_request(adfs).json()["access_token"]
    anonymous = requests.get(f"{onprem.service_root}/WhoAmI", timeout=10)
    assert anonymous.status_code == 401
    assert f"authorization_uri={adfs.base_url}/adfs/oauth2/authorize" in anonymous.headers["WWW-Authenticate"]
    assert WebApiClient(onprem.service_root, token=token + "x").get("WhoAmI").status_code == 401
    adfs_clock.now += 3601
    assert WebApiClient(onprem.service_root, token=token).get("WhoAmI").status_code == 401


def test_a_token_for_an_app_without_an_application_user_is_forbidden(
    adfs: AdfsEmulator, onprem: DataverseEmulator
) -> None:
    """A valid token of an application the org does not know is 403: not a member of the organization."""
    api = WebApiClient(onprem.service_root, token=token_request(adfs).json()["access_token"])
    assert error_of(api.get("WhoAmI"))[:2] == (403, "0x80072560")
