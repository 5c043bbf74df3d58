"""Finances API 2024-06-19 listTransactions in the SP-API emulator, and the finance ledger behind it."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID, OrderFactory, iso
from sandbox.finance_ledger import FinanceLedger, build_ledger
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, error_of, shipped_orders

pytestmark = pytest.mark.sockets

TRANSACTIONS = "/finances/2024-06-19/transactions"
MONTH_AGO = iso(NOW - timedelta(days=30))
US = "ATVPDKIKX0DER"


# Shipped orders plus a few unshipped ones, which have no money side yet.
ORDERS = shipped_orders(24) + [
    o.to_api() for o in OrderFactory(seed=8, start=NOW - timedelta(days=20)).orders(4, status="UNSHIPPED")
]


@pytest.fixture
def orders() -> list[dict[str, Any]]:
    return copy.deepcopy(ORDERS)


def store_orders(running: Running) -> None:
    running.emulator.put_orders(ORDERS)


emu_server, emu = emulator_fixtures(store_orders)


def ledger_for(orders: list[dict[str, Any]], **options: Any) -> FinanceLedger:
    return build_ledger(orders, seller_id=DEFAULT_SELLER_ID, seed=3, **options)


def money(transaction: dict[str, Any]) -> Decimal:
    return Decimal(str(transaction["totalAmount"]["currencyAmount"]))


# --- the ledger -------------------------------------------------------------------------------------------


def test_each_shipped_order_has_one_shipment_transaction_adding_up_to_its_proceeds_minus_fees(
    orders: list[dict[str, Any]],
) -> None:
    """One Shipment per shipped order; its total is the order's grand total minus referral and FBA fees (US tax withheld)."""
    ledger = ledger_for(orders, refunds=0, service_fees=False)
    shipped = {o["orderId"]: o for o in orders if o["fulfillment"]["fulfillmentStatus"] == "SHIPPED"}

    shipments = [t for t in ledger.transactions if t.transaction_type == "Shipment"]

    assert sorted(t.order_id or "" for t in shipments) == sorted(shipped)
    for transaction in shipments:
        order = shipped[transaction.order_id or ""]
        grand_total = Decimal(order["proceeds"]["grandTotal"]["amount"])
        fees = sum((c.amount for c in transaction.charges if c.amount_type == "ItemFees"), Decimal("0"))
        withheld = sum(
            (c.amount for c in transaction.charges if c.amount_type == "ItemWithheldTax"), Decimal("0")
        )
        assert transaction.total == grand_total + fees + withheld
        assert transaction.currency == order["proceeds"]["grandTotal"]["currencyCode"]


def test_amazon_fulfilled_orders_pay_the_fba_fee_per_unit(orders: list[dict[str, Any]]) -> None:
    """AFN shipments carry FBAPerUnitFulfillmentFee per unit; MFN shipments do not."""
    ledger = ledger_for(orders, refunds=0)

    for transaction in (t for t in ledger.transactions if t.transaction_type == "Shipment"):
        fba = [c for c in transaction.charges if c.description == "FBAPerUnitFulfillmentFee"]
        assert bool(fba) == (transaction.fulfillment_network == "AFN")


def test_deferred_transactions_belong_to_no_settlement_until_released(orders: list[dict[str, Any]]) -> None:
    """DEFERRED ones have no settlement id; release() makes them DEFERRED_RELEASED inside a settlement."""
    ledger = ledger_for(orders, deferred_share=0.5)
    deferred = [t for t in ledger.transactions if t.status == "DEFERRED"]
    assert deferred
    assert all(t.settlement_id is None and t.deferral_reason in ("B2B", "DD7") for t in deferred)

    released = ledger.release(deferred[0].transaction_id, NOW)

    assert released.status == "DEFERRED_RELEASED"
    assert released.settlement_id is not None
    [settlement] = [s for s in ledger.settlements() if s.settlement_id == released.settlement_id]
    assert released.transaction_id in {t.transaction_id for t in settlement.transactions}
    with pytest.raises(ValueError, match="not DEFERRED"):
        ledger.release(released.transaction_id, NOW)


def test_settlements_add_up_their_transactions_per_marketplace(orders: list[dict[str, Any]]) -> None:
    """Every released transaction is in exactly one settlement of its marketplace; the total is their sum."""
    ledger = ledger_for(orders)
    settlements = ledger.settlements()
    members = Counter(t.transaction_id for s in settlements for t in s.transactions)

    released = [t for t in ledger.transactions if t.status != "DEFERRED"]
    assert set(members) == {t.transaction_id for t in released}
    assert set(members.values()) == {1}
    for settlement in settlements:
        assert {t.marketplace_id for t in settlement.transactions} == {settlement.marketplace_id}
        assert settlement.total == sum((t.total for t in settlement.transactions), Decimal("0"))
        assert settlement.end - settlement.start == timedelta(days=14)


def test_refunds_give_back_the_sale_and_keep_an_administration_fee(orders: list[dict[str, Any]]) -> None:
    """A Refund reverses principal and tax and refunds the referral fee minus 20 % (at most 5.00)."""
    ledger = ledger_for(orders, refunds=2)
    refunds = [t for t in ledger.transactions if t.transaction_type == "Refund"]

    assert len(refunds) == 2
    for refund in refunds:
        [shipment] = [t for t in ledger.for_order(refund.order_id or "") if t.transaction_type == "Shipment"]
        sale = sum((c.amount for c in shipment.charges if c.amount_type == "ItemPrice"), Decimal("0"))
        given_back = sum((c.amount for c in refund.charges if c.amount_type == "ItemPrice"), Decimal("0"))
        commission = sum((c.amount for c in shipment.charges if c.description == "Commission"), Decimal("0"))
        admin = sum((c.amount for c in refund.charges if c.description == "RefundCommission"), Decimal("0"))
        assert given_back == -sale
        assert admin == -min((-commission * Decimal("0.2")).quantize(Decimal("0.01")), Decimal("5.00"))
        assert refund.adjustment_id


def test_discrepancies_are_exactly_the_three_deliberate_mistakes(orders: list[dict[str, Any]]) -> None:
    """With discrepancies: one fee differs between report and transactions, one order is paid twice, one is unknown."""
    ledger = ledger_for(orders, discrepancies=True)
    mistakes = ledger.discrepancies
    known = {o["orderId"] for o in orders}
    shipments = Counter(t.order_id for t in ledger.transactions if t.transaction_type == "Shipment")

    assert {order_id for order_id, count in shipments.items() if count > 1} == set(mistakes.settled_twice)
    assert {order_id for order_id in shipments if order_id not in known} == set(mistakes.unknown_orders)
    [(order_id, difference)] = mistakes.fee_differs.items()
    reported = [
        c.amount
        for s in ledger.settlements()
        for t in s.transactions
        if t.order_id == order_id
        for c in t.charges
        if c.description == "Commission"
    ]
    assert sum(reported, Decimal("0")) == difference.settlement_amount
    assert difference.settlement_amount != difference.transaction_amount
    assert len(mistakes.order_ids) == 3


def test_the_ledger_is_deterministic_for_a_seed(orders: list[dict[str, Any]]) -> None:
    """The same orders and seed give the same transaction ids, amounts and settlements."""
    first, second = ledger_for(orders, discrepancies=True), ledger_for(orders, discrepancies=True)

    assert first.transactions == second.transactions
    assert first.settlements() == second.settlements()


# --- listTransactions --------------------------------------------------------------------------------------


def test_list_transactions_returns_the_ledger_in_the_models_shape(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """Transactions come with type, status, related identifiers, nested breakdowns summing to the total, items."""
    ledger = ledger_for(orders)
    emu.emulator.finances.put_ledger(ledger)

    response = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO})

    assert response.status_code == 200
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"
    transactions = response.json()["payload"]["transactions"]
    assert len(transactions) == len(ledger.transactions)
    shipment = next(
        t for t in transactions if t["transactionType"] == "Shipment" and t["transactionStatus"] == "RELEASED"
    )
    names = {i["relatedIdentifierName"] for i in shipment["relatedIdentifiers"]}
    assert {"ORDER_ID", "SETTLEMENT_ID", "FINANCIAL_EVENT_GROUP_ID", "SHIPMENT_ID"} <= names
    top = sum(
        (Decimal(str(b["breakdownAmount"]["currencyAmount"])) for b in shipment["breakdowns"]), Decimal("0")
    )
    assert top == money(shipment)
    assert shipment["items"][0]["contexts"][0]["contextType"] == "ProductContext"


def test_posted_before_must_be_two_minutes_old_and_after_posted_after(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """postedBefore within the last two minutes, before postedAfter, or a postedAfter that recent: 400."""
    emu.emulator.finances.put_ledger(ledger_for(orders))
    recent = iso(NOW - timedelta(minutes=1))

    too_recent = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO, "postedBefore": recent})
    reversed_range = emu.seller.get(
        TRANSACTIONS, params={"postedAfter": MONTH_AGO, "postedBefore": iso(NOW - timedelta(days=40))}
    )
    after_too_recent = emu.seller.get(TRANSACTIONS, params={"postedAfter": recent})
    just_old_enough = emu.seller.get(
        TRANSACTIONS, params={"postedAfter": MONTH_AGO, "postedBefore": iso(NOW - timedelta(minutes=2))}
    )

    assert [too_recent.status_code, reversed_range.status_code, after_too_recent.status_code] == [
        400,
        400,
        400,
    ]
    assert just_old_enough.status_code == 200


def test_posted_after_is_required_unless_a_related_identifier_is_given(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """Without postedAfter: 400, unless ORDER_ID / FINANCIAL_EVENT_GROUP_ID filter; other identifier names cannot filter."""
    ledger = ledger_for(orders)
    emu.emulator.finances.put_ledger(ledger)
    order_id = next(t.order_id for t in ledger.transactions if t.order_id)

    missing = emu.seller.get(TRANSACTIONS)
    by_order = emu.seller.get(
        TRANSACTIONS, params={"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id}
    )
    by_shipment = emu.seller.get(
        TRANSACTIONS, params={"relatedIdentifierName": "SHIPMENT_ID", "relatedIdentifierValue": "x"}
    )

    assert missing.status_code == 400
    assert by_shipment.status_code == 400
    found = by_order.json()["payload"]["transactions"]
    assert found
    assert all(
        {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id} in t["relatedIdentifiers"]
        for t in found
    )


def test_ranges_over_180_days_return_nothing(emu: Running, orders: list[dict[str, Any]]) -> None:
    """More than 180 days between postedAfter and postedBefore is an empty answer, as the model says, not an error."""
    emu.emulator.finances.put_ledger(ledger_for(orders))

    response = emu.seller.get(TRANSACTIONS, params={"postedAfter": iso(NOW - timedelta(days=181))})

    assert response.status_code == 200
    assert response.json() == {"payload": {"transactions": []}}


def test_status_and_marketplace_filters(emu: Running, orders: list[dict[str, Any]]) -> None:
    """transactionStatus and marketplaceId narrow the list; an unknown status is 400."""
    emu.emulator.finances.put_ledger(ledger_for(orders, deferred_share=0.5))

    deferred = emu.seller.get(
        TRANSACTIONS, params={"postedAfter": MONTH_AGO, "transactionStatus": "DEFERRED"}
    ).json()
    us_only = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO, "marketplaceId": US}).json()
    bad = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO, "transactionStatus": "Released"})

    assert {t["transactionStatus"] for t in deferred["payload"]["transactions"]} == {"DEFERRED"}
    assert {t["marketplaceDetails"]["marketplaceId"] for t in us_only["payload"]["transactions"]} == {US}
    assert bad.status_code == 400


def test_release_hook_moves_a_transaction_to_deferred_released(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """finances.release() is visible in the next listTransactions with the settlement it joined."""
    ledger = ledger_for(orders, deferred_share=0.5)
    emu.emulator.finances.put_ledger(ledger)
    deferred = next(t for t in ledger.transactions if t.status == "DEFERRED")

    emu.emulator.finances.release(deferred.transaction_id)
    listed = emu.seller.get(
        TRANSACTIONS,
        params={"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": deferred.order_id or ""},
    ).json()["payload"]["transactions"]

    [found] = [t for t in listed if t["transactionId"] == deferred.transaction_id]
    assert found["transactionStatus"] == "DEFERRED_RELEASED"
    assert any(i["relatedIdentifierName"] == "SETTLEMENT_ID" for i in found["relatedIdentifiers"])


def test_a_late_transaction_appears_now_with_a_past_posted_date(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """A transaction posted 47 h ago but visible only now is missed by a sweep from the last watermark."""
    emu.emulator.finances.put_ledger(ledger_for(orders))
    order = OrderFactory(seed=40).order(status="SHIPPED", created_time=NOW - timedelta(days=3))
    emu.clock.advance(minutes=10)
    watermark = iso(NOW - timedelta(hours=1))
    window = {"postedAfter": iso(NOW - timedelta(hours=48)), "postedBefore": iso(NOW)}

    before = emu.seller.get(TRANSACTIONS, params=window).json()["payload"]["transactions"]
    late = emu.emulator.finances.add_late_transaction(order.to_api())
    emu.clock.advance(minutes=3)
    after = emu.seller.get(TRANSACTIONS, params=window).json()["payload"]["transactions"]
    since_watermark = emu.seller.get(TRANSACTIONS, params={"postedAfter": watermark}).json()["payload"][
        "transactions"
    ]

    assert late.transaction_id not in {t["transactionId"] for t in before}
    assert late.transaction_id in {t["transactionId"] for t in after}
    assert late.transaction_id not in {t["transactionId"] for t in since_watermark}
    assert late.posted == NOW + timedelta(minutes=10) - timedelta(hours=47)


def test_pages_need_the_same_arguments_and_the_token_expires(emu: Running) -> None:
    """150 transactions: pages of 100; the next page needs the first call's arguments; the token expires."""
    emu.emulator.put_orders(shipped_orders(150, seed=9))
    ledger = build_ledger(emu.emulator.orders, seller_id=DEFAULT_SELLER_ID, refunds=0, service_fees=False)
    emu.emulator.finances.put_ledger(ledger)
    arguments = {"postedAfter": iso(NOW - timedelta(days=60))}

    first = emu.seller.get(TRANSACTIONS, params=arguments).json()["payload"]
    token = first["nextToken"]
    other_arguments = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO, "nextToken": token})
    second = emu.seller.get(TRANSACTIONS, params={**arguments, "nextToken": token}).json()["payload"]
    emu.clock.advance(minutes=6)
    expired = emu.seller.get(TRANSACTIONS, params={**arguments, "nextToken": token})

    assert len(first["transactions"]) == 100
    assert "nextToken" not in second
    assert len(first["transactions"]) + len(second["transactions"]) == len(ledger.transactions)
    assert other_arguments.status_code == 400
    assert expired.status_code == 400
    assert "expired" in error_of(expired)["message"]


def test_without_a_ledger_there_are_no_transactions(emu: Running) -> None:
    """Before put_ledger (or after reset) listTransactions answers an empty list."""
    response = emu.seller.get(TRANSACTIONS, params={"postedAfter": MONTH_AGO})

    assert response.json() == {"payload": {"transactions": []}}


def test_the_ledger_can_be_built_from_the_emulators_own_orders(
    emu: Running, orders: list[dict[str, Any]]
) -> None:
    """finances.ledger_from_orders() uses the stored orders and the emulator's seller, and serves the result."""
    ledger = emu.emulator.finances.ledger_from_orders(discrepancies=True)

    shipped = {o["orderId"] for o in orders if o["fulfillment"]["fulfillmentStatus"] == "SHIPPED"}
    assert shipped <= {t.order_id for t in ledger.transactions}
    assert emu.emulator.finances.ledger is ledger
    assert ledger.seller_id == emu.emulator.seller_id
