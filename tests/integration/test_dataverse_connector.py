"""The Dataverse client over real sockets, against the Dataverse Web API emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_seed import CURRENCY_IDS, PRODUCT_IDS, SPECIAL_SKUS
from sandbox.http_emulator import Fault, FaultPlan
from shared.dataverse import odata
from shared.dataverse.batch import ChangeSet, ChangeSetResponse, Operation
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.client import Answer, DataverseClient
from shared.dataverse.errors import (
    DataverseError,
    DataverseNotFound,
    DataversePreconditionFailed,
    DataverseTransientError,
)
from shared.resilience import RetryPolicy
from tests.fakes import RecordingSleep

pytestmark = pytest.mark.sockets


@pytest.fixture
def emulator() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as running:
        running.load_seed()
        yield running


@pytest.fixture
def client(emulator: DataverseEmulator) -> Iterator[DataverseClient]:
    dataverse = DataverseClient(
        emulator.base_url, retry=RetryPolicy(max_attempts=4, base_delay=0.01), sleep=RecordingSleep()
    )
    yield dataverse
    dataverse.close()


def upsert(
    client: DataverseClient, entity_set: str, key: dict[str, str], body: dict[str, object], **headers: str
) -> Answer:
    path = odata.entity_path(entity_set, key)
    return client.request("PATCH", path, body=body, headers=headers, idempotent=True, what="upsert")


def test_upsert_creates_then_updates_by_alternate_key(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """The same PATCH twice: one account, created then updated (201 then 200 with return=representation)."""
    key = {"new_amazonmarketplaceid": "ATVPDKIKX0DER"}
    first = upsert(client, "accounts", key, {"name": "A"}, Prefer="return=representation")
    second = upsert(client, "accounts", key, {"name": "B"}, Prefer="return=representation")
    assert (first.status, second.status) == (201, 200)
    [account] = emulator.records("accounts")
    assert account["name"] == "B"
    assert first.body["accountid"] == account["accountid"]


def test_conditional_upserts(client: DataverseClient) -> None:
    """If-None-Match: * refuses to overwrite (412); If-Match: * refuses to create (404)."""
    key = {"new_amazonbuyerid": "amzn-1"}
    create_only = {"If-None-Match": "*"}
    upsert(client, "contacts", key, {"lastname": "X"}, **create_only)
    with pytest.raises(DataversePreconditionFailed):
        upsert(client, "contacts", key, {"lastname": "Y"}, **create_only)
    with pytest.raises(DataverseNotFound):
        upsert(client, "contacts", {"new_amazonbuyerid": "amzn-2"}, {"lastname": "Z"}, **{"If-Match": "*"})


@pytest.mark.parametrize("value", ["O'Brien #1", "CAFÉ-Ü-ß", "A'B''C", "space and ,comma"])
def test_key_values_round_trip_through_the_url(
    client: DataverseClient, emulator: DataverseEmulator, value: str
) -> None:
    """Quotes doubled, then percent-encoded: the record is stored under exactly that key and found again."""
    upsert(client, "contacts", {"new_amazonbuyerid": value}, {"lastname": "X"})
    assert emulator.get_by_key("contacts", new_amazonbuyerid=value) is not None
    assert client.get("contacts", {"new_amazonbuyerid": value}, select=("lastname",)) is not None


@pytest.mark.parametrize("sku", SPECIAL_SKUS)
def test_filters_find_products_whatever_their_sku(client: DataverseClient, sku: str) -> None:
    """Every seeded SKU with ' # & + / ? % or non-ASCII is found by $filter."""
    [row] = client.query("products", filter=odata.eq("productnumber", sku), select=("productid",))
    assert row["productid"] == PRODUCT_IDS[sku]


def test_unaddressable_keys_are_refused_before_sending(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """A '/' in an alternate key is refused locally: nothing broken goes over the wire."""
    emulator.requests.reset()
    with pytest.raises(odata.UnaddressableKey):
        upsert(client, "contacts", {"new_amazonbuyerid": "a/b"}, {"lastname": "X"})
    assert emulator.requests.total() == 0


def test_queries_follow_paging(client: DataverseClient, emulator: DataverseEmulator) -> None:
    """Prefer: odata.maxpagesize=5 pages through every product."""
    rows = list(client.query("products", select=("productnumber",), page_size=5))
    assert len(rows) == len(emulator.records("products"))
    assert emulator.requests.total(["query:products"]) == -(-len(rows) // 5)


def test_batch_change_sets_reference_earlier_operations(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """A change set creates an order by POST and binds a line to it with $1."""
    changeset = ChangeSet()
    order = changeset.add(
        Operation(
            "POST",
            "salesorders",
            {
                "name": "Batch order",
                "new_amazonorderid": "113/BATCH",
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['USD']})",
            },
        )
    )
    changeset.add(
        Operation(
            "POST",
            "salesorderdetails",
            {
                "salesorderid@odata.bind": order,
                "isproductoverridden": True,
                "productdescription": "x",
                "quantity": 1,
                "new_amazonorderid": "113/BATCH",
                "new_amazonorderitemid": "1",
            },
        )
    )
    [response] = client.batch([changeset], idempotent=False, continue_on_error=True)
    assert isinstance(response, ChangeSetResponse)
    assert response.ok
    [line] = emulator.records("salesorderdetails")
    [stored] = emulator.records("salesorders")
    assert line["salesorderid"] == stored["salesorderid"]


def test_a_failing_change_set_rolls_back_and_others_continue(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """With continue-on-error, a bad change set rolls back whole while the next one commits."""
    bad = ChangeSet()
    bad.add(Operation("PATCH", "accounts(new_amazonmarketplaceid='BAD')", {"name": "rolled back"}))
    bad.add(Operation("PATCH", "accounts(new_amazonmarketplaceid='BAD2')", {"nosuchcolumn": 1}))
    good = ChangeSet()
    good.add(Operation("PATCH", "accounts(new_amazonmarketplaceid='GOOD')", {"name": "kept"}))
    first, second = client.batch([bad, good], idempotent=True, continue_on_error=True)
    assert not first.ok
    assert second.ok
    assert [row["new_amazonmarketplaceid"] for row in emulator.records("accounts")] == ["GOOD"]


def test_throttling_is_retried_after_retry_after(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """A 429 with Retry-After: 1 is retried after about a second, then succeeds."""
    emulator.faults = FaultPlan(retry_after_seconds=1)
    emulator.faults.script(Fault.THROTTLE)
    upsert(client, "accounts", {"new_amazonmarketplaceid": "X"}, {"name": "x"})
    sleep = client._sleep
    assert isinstance(sleep, RecordingSleep)
    assert 1.0 <= sleep.waits[0] <= 1.1
    assert len(emulator.records("accounts")) == 1


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.DROP, Fault.SERVER_ERROR])
def test_transient_failures_of_idempotent_requests_are_retried(
    client: DataverseClient, emulator: DataverseEmulator, fault: Fault
) -> None:
    """503, a dropped connection and a 500 on an upsert are retried to success."""
    emulator.faults.script(fault)
    upsert(client, "accounts", {"new_amazonmarketplaceid": "X"}, {"name": "x"})
    assert len(emulator.records("accounts")) == 1


def test_a_dependency_that_stays_down_surfaces_a_transient_error(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """Bounded retries: four 503s are a DataverseTransientError."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,))
    with pytest.raises(DataverseTransientError):
        client.get("accounts", {"new_amazonmarketplaceid": "X"})
    assert emulator.requests.total() == 4


def test_unknown_columns_are_a_permanent_error_with_dataverse_code(client: DataverseClient) -> None:
    """Dataverse refuses an unknown property; the client maps it to DataverseError with the hex code."""
    with pytest.raises(DataverseError) as error:
        upsert(client, "accounts", {"new_amazonmarketplaceid": "X"}, {"nosuchcolumn": 1})
    assert error.value.code is not None
    assert error.value.code.startswith("0x")
    assert not error.value.transient


def test_the_catalog_costs_one_query_per_kind_and_caches(
    client: DataverseClient, emulator: DataverseEmulator
) -> None:
    """Currencies, price lists and products are read once; a second lookup is free."""
    catalog = CrmCatalog(client)
    emulator.requests.reset()
    first = catalog.lookups(
        currencies={"USD"}, price_lists={"Amazon"}, skus=set(SPECIAL_SKUS) | {"NO-SUCH-SKU"}
    )
    second = catalog.lookups(
        currencies={"USD"}, price_lists={"Amazon"}, skus=set(SPECIAL_SKUS) | {"NO-SUCH-SKU"}
    )
    assert first == second
    assert set(first.products) == set(SPECIAL_SKUS)
    assert first.currency_ids["USD"] == CURRENCY_IDS["USD"]
    assert emulator.requests.snapshot() == {
        "query:transactioncurrencies": 1,
        "query:pricelevels": 1,
        "query:products": 1,
    }


def test_actions_close_orders(client: DataverseClient, emulator: DataverseEmulator) -> None:
    """CancelSalesOrder moves an order to Canceled; cancelling again is refused (not idempotent)."""
    upsert(client, "salesorders", {"new_amazonorderid": "113-CANCEL"}, {"name": "To cancel"})
    close = {
        "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
        "subject": "x",
        "salesorderid@odata.bind": "/salesorders(new_amazonorderid='113-CANCEL')",
    }

    def cancel() -> Answer:
        body = {"OrderClose": close, "Status": 4}
        return client.request("POST", "CancelSalesOrder", body=body, idempotent=False, what="cancel")

    cancel()
    stored = emulator.get_by_key("salesorders", new_amazonorderid="113-CANCEL")
    assert stored is not None
    assert (stored["statecode"], stored["statuscode"]) == (2, 4)
    with pytest.raises(DataverseError):
        cancel()
