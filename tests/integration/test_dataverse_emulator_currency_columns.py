"""The emulator gives custom tables what Dataverse gives them with a currency column (transactioncurrencyid,
exchangerate, `_base` values), and shows the organization's base currency, over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_emulator.webapi_client import WebApiClient, label
from sandbox.dataverse_seed import CURRENCY_IDS

pytestmark = pytest.mark.sockets

CRM = "Microsoft.Dynamics.CRM."
TABLE = {
    "@odata.type": CRM + "EntityMetadata",
    "SchemaName": "new_Payout",
    "DisplayName": label("Payout"),
    "DisplayCollectionName": label("Payouts"),
    "OwnershipType": "UserOwned",
    "Attributes": [
        {
            "@odata.type": CRM + "StringAttributeMetadata",
            "SchemaName": "new_Name",
            "DisplayName": label("Name"),
            "MaxLength": 100,
            "IsPrimaryName": True,
        }
    ],
}
AMOUNT = {
    "@odata.type": CRM + "MoneyAttributeMetadata",
    "SchemaName": "new_Amount",
    "DisplayName": label("Amount"),
}


@pytest.fixture
def api() -> Iterator[WebApiClient]:
    with DataverseEmulator(prefix="new_") as emulator:
        emulator.load_seed()
        yield WebApiClient(emulator.service_root)


def test_the_first_currency_column_brings_the_currency_lookup_the_rate_and_a_base_column(
    api: WebApiClient,
) -> None:
    """A custom table without money has no currency; after adding one, transactioncurrencyid, exchangerate and
    new_amount_base are there."""
    assert api.post("EntityDefinitions", TABLE).status_code == 204
    before = {
        a["LogicalName"]
        for a in api.get("EntityDefinitions(LogicalName='new_payout')/Attributes").json()["value"]
    }
    assert api.post("EntityDefinitions(LogicalName='new_payout')/Attributes", AMOUNT).status_code == 204
    after = {
        a["LogicalName"]
        for a in api.get("EntityDefinitions(LogicalName='new_payout')/Attributes").json()["value"]
    }
    assert after - before == {"new_amount", "new_amount_base", "transactioncurrencyid", "exchangerate"}


def test_a_row_in_a_currency_gets_its_rate_and_base_value(api: WebApiClient) -> None:
    """100.00 EUR at the seeded 0.92 is 108.70 in the base currency (USD); the rate is copied onto the row."""
    api.post("EntityDefinitions", TABLE)
    api.post("EntityDefinitions(LogicalName='new_payout')/Attributes", AMOUNT)
    body = {
        "new_name": "p",
        "new_amount": 100,
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['EUR']})",
    }
    created = api.post("new_payouts", body, headers={"Prefer": "return=representation"}).json()
    assert (Decimal(str(created["exchangerate"])), Decimal(str(created["new_amount_base"]))) == (
        Decimal("0.92"),
        Decimal("108.70"),
    )


def test_a_row_without_a_currency_is_in_the_base_currency(api: WebApiClient) -> None:
    """No transactioncurrencyid given: the organization's base currency, rate 1."""
    api.post("EntityDefinitions", TABLE)
    api.post("EntityDefinitions(LogicalName='new_payout')/Attributes", AMOUNT)
    created = api.post(
        "new_payouts", {"new_name": "p", "new_amount": 5}, headers={"Prefer": "return=representation"}
    )
    assert created.json()["_transactioncurrencyid_value"] == CURRENCY_IDS["USD"]
    assert created.json()["new_amount_base"] == 5


def test_the_organization_names_its_base_currency_and_is_read_only(api: WebApiClient) -> None:
    """organizations holds one row whose basecurrencyid is the first currency created; it cannot be written."""
    [organization] = api.get("organizations", {"$select": "_basecurrencyid_value"}).json()["value"]
    assert organization["_basecurrencyid_value"] == CURRENCY_IDS["USD"]
    assert api.post("organizations", {"name": "Another"}).status_code >= 400
