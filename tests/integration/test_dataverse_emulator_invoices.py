"""Invoices, ConvertSalesOrderToInvoice and currency exchange rates in the emulator, over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_emulator.webapi_client import WebApiClient, error_of, order_close
from sandbox.dataverse_seed import CURRENCY_IDS, PRICE_LIST_ID, PRODUCT_IDS, UNIT_ID

pytestmark = pytest.mark.sockets

RETURN = {"Prefer": "return=representation"}
ACCOUNT_ID = "00000000-0000-0000-0000-00000000a001"


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as emulator:
        emulator.load_seed()
        emulator.seed("accounts", {"accountid": ACCOUNT_ID, "name": "Amazon.com"})
        yield emulator


@pytest.fixture
def api(dv: DataverseEmulator) -> WebApiClient:
    return WebApiClient(dv.service_root)


def header(currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "name": "Amazon document",
        "customerid_account@odata.bind": f"/accounts({ACCOUNT_ID})",
        "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})",
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS[currency]})",
        **extra,
    }


def product_line(parent: str, reference: str, sku: str = "MUG-CER-350-WHT", **extra: Any) -> dict[str, Any]:
    return {
        f"{parent}@odata.bind": reference,
        "productid@odata.bind": f"/products({PRODUCT_IDS[sku]})",
        "uomid@odata.bind": f"/uoms({UNIT_ID})",
        "quantity": 2,
        "priceperunit": 12.5,
        **extra,
    }


def write_in_line(parent: str, reference: str, **extra: Any) -> dict[str, Any]:
    return {
        f"{parent}@odata.bind": reference,
        "isproductoverridden": True,
        "productdescription": "Gift wrap",
        "quantity": 1,
        "priceperunit": 3,
        **extra,
    }


def created(api: WebApiClient, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(entity_set, body, headers=RETURN)
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


def an_order(api: WebApiClient) -> dict[str, Any]:
    order = created(api, "salesorders", header(freightamount=4.99))
    reference = f"/salesorders({order['salesorderid']})"
    created(api, "salesorderdetails", product_line("salesorderid", reference, tax=2, manualdiscountamount=1))
    created(api, "salesorderdetails", write_in_line("salesorderid", reference))
    row: dict[str, Any] = api.get(f"salesorders({order['salesorderid']})").json()
    return row


def convert(api: WebApiClient, order_id: str, column_set: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"SalesOrderId": order_id}
    if column_set is not None:
        body["ColumnSet"] = column_set
    return api.post("ConvertSalesOrderToInvoice", body)


# --- invoices ------------------------------------------------------------------------------------------------
def test_an_invoice_is_numbered_and_totalled_from_its_lines(api: WebApiClient) -> None:
    """A new invoice is Active/New with an INV- number; its lines price, discount and tax add up as Dataverse adds."""
    invoice = created(api, "invoices", header(freightamount=5, discountpercentage=10))
    assert (invoice["statecode"], invoice["statuscode"]) == (0, 1)
    assert invoice["invoicenumber"].startswith("INV-")
    reference = f"/invoices({invoice['invoiceid']})"
    line = created(api, "invoicedetails", product_line("invoiceid", reference, tax=2, manualdiscountamount=1))
    assert (line["baseamount"], line["extendedamount"]) == (25, 26)
    assert line["_transactioncurrencyid_value"] == CURRENCY_IDS["USD"]
    created(api, "invoicedetails", write_in_line("invoiceid", reference))
    totals = api.get(f"invoices({invoice['invoiceid']})").json()
    # line items 24 + 3 = 27; 10 % discount 2.70; tax 2; freight 5
    assert totals["totallineitemamount"] == 27
    assert totals["totaldiscountamount"] == 2.7
    assert totals["totaltax"] == 2
    assert totals["totalamount"] == 31.3


def test_paid_invoices_and_their_lines_are_read_only(api: WebApiClient) -> None:
    """An invoice set to Paid by Update is closed: neither it nor its lines change any more."""
    invoice = created(api, "invoices", header())
    line = created(api, "invoicedetails", write_in_line("invoiceid", f"/invoices({invoice['invoiceid']})"))
    assert api.patch(f"invoices({invoice['invoiceid']})", {"statecode": 2}).status_code == 204
    paid = api.get(f"invoices({invoice['invoiceid']})").json()
    assert (paid["statecode"], paid["statuscode"]) == (2, 100001)
    assert error_of(api.patch(f"invoices({invoice['invoiceid']})", {"name": "x"}))[:2] == (400, "0x8004022e")
    assert error_of(api.patch(f"invoicedetails({line['invoicedetailid']})", {"quantity": 5}))[:2] == (
        400,
        "0x80043b09",
    )


def test_invoice_status_reasons_must_belong_to_the_state(api: WebApiClient) -> None:
    """An invoice's statuscode must be one of its statecode's status reasons."""
    invoice = created(api, "invoices", header())
    response = api.patch(f"invoices({invoice['invoiceid']})", {"statecode": 0, "statuscode": 100001})
    assert error_of(response)[:2] == (400, "0x80048408")


# --- ConvertSalesOrderToInvoice ------------------------------------------------------------------------------------
def test_converting_an_order_copies_it_into_an_invoice_and_marks_it_invoiced(api: WebApiClient) -> None:
    """The invoice repeats the order's customer, prices and lines, links back to it, and the order is Invoiced."""
    order = an_order(api)
    response = convert(api, order["salesorderid"], {"AllColumns": True})
    assert response.status_code == 200
    invoice = response.json()
    assert invoice["@odata.context"].endswith("$metadata#invoices/$entity")
    assert invoice["_salesorderid_value"] == order["salesorderid"]
    assert invoice["_customerid_value"] == ACCOUNT_ID
    assert invoice["_transactioncurrencyid_value"] == order["_transactioncurrencyid_value"]
    assert invoice["totalamount"] == order["totalamount"]
    lines = api.get("invoicedetails", {"$filter": f"_invoiceid_value eq {invoice['invoiceid']}"}).json()[
        "value"
    ]
    order_lines = api.get(
        "salesorderdetails", {"$filter": f"_salesorderid_value eq {order['salesorderid']}"}
    ).json()["value"]
    assert {line["_salesorderdetailid_value"] for line in lines} == {
        line["salesorderdetailid"] for line in order_lines
    }
    assert sorted(line["extendedamount"] for line in lines) == sorted(
        line["extendedamount"] for line in order_lines
    )
    invoiced = api.get(f"salesorders({order['salesorderid']})").json()
    assert (invoiced["statecode"], invoiced["statuscode"]) == (4, 100003)
    assert error_of(api.patch(f"salesorders({order['salesorderid']})", {"name": "late"}))[:2] == (
        400,
        "0x8004022e",
    )


def test_the_column_set_chooses_what_the_action_returns(api: WebApiClient) -> None:
    """ColumnSet.Columns names the invoice columns in the answer; the id always comes along."""
    order = an_order(api)
    invoice = convert(api, order["salesorderid"], {"Columns": ["name", "totalamount"]}).json()
    assert set(invoice) == {"@odata.context", "@odata.etag", "name", "totalamount", "invoiceid"}


def test_orders_that_are_closed_for_good_cannot_be_converted(api: WebApiClient) -> None:
    """A canceled or already invoiced order cannot become an invoice; a fulfilled one can."""
    order = an_order(api)
    assert convert(api, order["salesorderid"]).status_code == 200
    assert error_of(convert(api, order["salesorderid"]))[:2] == (400, "0x8004022e")
    fulfilled = an_order(api)
    assert api.post("FulfillSalesOrder", order_close(fulfilled["salesorderid"])).status_code == 204
    assert convert(api, fulfilled["salesorderid"]).status_code == 200


def test_the_action_checks_its_parameters(api: WebApiClient) -> None:
    """SalesOrderId must be a GUID of an existing order."""
    assert error_of(api.post("ConvertSalesOrderToInvoice", {"SalesOrderId": "nope"}))[:2] == (
        400,
        "0x80040203",
    )
    missing = convert(api, "00000000-0000-0000-0000-0000000000ff")
    assert error_of(missing)[:2] == (404, "0x80040217")


# --- currencies ------------------------------------------------------------------------------------------------
def test_exchange_rates_are_read_and_updated_and_used_by_new_documents(api: WebApiClient) -> None:
    """A currency's exchangerate can be read and changed; documents saved afterwards take the new rate."""
    eur = f"transactioncurrencies({CURRENCY_IDS['EUR']})"
    assert api.get(eur, {"$select": "exchangerate"}).json()["exchangerate"] == 0.92
    assert api.patch(eur, {"exchangerate": 0.95}).status_code == 204
    order = created(api, "salesorders", header("EUR"))
    assert order["exchangerate"] == 0.95


def test_the_base_currency_keeps_rate_one_and_rates_stay_positive(api: WebApiClient) -> None:
    """The organization's base currency (the first one) stays at 1, and no rate may be zero or negative."""
    usd = f"transactioncurrencies({CURRENCY_IDS['USD']})"
    assert error_of(api.patch(usd, {"exchangerate": 1.1}))[:2] == (400, "0x80040203")
    assert api.patch(usd, {"exchangerate": 1}).status_code == 204
    negative = api.patch(f"transactioncurrencies({CURRENCY_IDS['GBP']})", {"exchangerate": -1})
    assert error_of(negative)[:2] == (400, "0x80044331")
