"""Finances API 2024-06-19 transactions -> canonical transactions, and the categories both of Amazon's
vocabularies (breakdown tree, settlement amount-types) land in."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID, OrderFactory
from sandbox.finance_ledger import build_ledger
from sandbox.spapi_emulator.finances import BREAKDOWN_PATH, render_transaction
from shared.amazon.amount_categories import category_of
from shared.amazon.transaction_translation import AmazonTransactionInvalid, to_canonical
from shared.model.finance import TransactionStatus
from shared.model.money import AmountCategory

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ORDERS = [
    o.to_api() for o in OrderFactory(seed=11, start=NOW - timedelta(days=30)).orders(30, status="SHIPPED")
]
LEDGER = build_ledger(ORDERS, seller_id=DEFAULT_SELLER_ID, seed=4, refunds=2, deferred_share=0.3)


def rendered(transaction_type: str = "Shipment") -> dict[str, Any]:
    found = next(t for t in LEDGER.transactions if t.transaction_type == transaction_type)
    return render_transaction(found, DEFAULT_SELLER_ID)


@pytest.mark.parametrize("transaction", LEDGER.transactions, ids=lambda t: f"{t.transaction_type}-{t.status}")
def test_every_ledger_transaction_translates_with_categories_adding_up_to_its_total(transaction: Any) -> None:
    """Shipments, refunds, fees and deferred transactions: the categories add up to Amazon's total."""
    canonical = to_canonical(render_transaction(transaction, DEFAULT_SELLER_ID))
    assert canonical.amounts.total == canonical.total == transaction.total
    assert canonical.amounts[AmountCategory.OTHER] == 0
    assert canonical.order_id == transaction.order_id
    assert canonical.settlement_id == transaction.settlement_id
    assert canonical.status == TransactionStatus(transaction.status)


def test_a_deferred_transaction_keeps_its_reason_and_maturity() -> None:
    """DeferredContext: why the money is held back and when it is due."""
    deferred = next(t for t in LEDGER.transactions if t.status == "DEFERRED")
    canonical = to_canonical(render_transaction(deferred, DEFAULT_SELLER_ID))
    assert (canonical.deferral_reason, canonical.maturity) == (deferred.deferral_reason, deferred.maturity)
    assert canonical.settlement_id is None


def test_amounts_keep_the_decimals_amazon_wrote() -> None:
    """A JSON number such as 24.99 stays 24.99, not the binary float next to it."""
    raw = rendered()
    raw["totalAmount"]["currencyAmount"] = 24.99
    raw["breakdowns"] = []
    assert to_canonical(raw).total == Decimal("24.99")


def test_leaves_that_miss_part_of_the_total_leave_the_rest_in_other() -> None:
    """An empty or partial tree still adds up: the difference is OTHER."""
    raw = rendered()
    raw["breakdowns"] = raw["breakdowns"][:1]
    canonical = to_canonical(raw)
    assert canonical.amounts.total == canonical.total
    assert canonical.amounts[AmountCategory.OTHER] != 0


def test_an_unreadable_transaction_names_the_field_and_keeps_its_id() -> None:
    """A missing totalAmount is an error saying so, with the transaction id but no values."""
    raw = copy.deepcopy(rendered())
    del raw["totalAmount"]
    with pytest.raises(AmazonTransactionInvalid, match="totalAmount") as raised:
        to_canonical(raw)
    assert raised.value.transaction_id == raw["transactionId"]


def test_an_unknown_status_is_refused() -> None:
    """A status outside DEFERRED / RELEASED / DEFERRED_RELEASED is not guessed at."""
    raw = {**rendered(), "transactionStatus": "PENDING"}
    with pytest.raises(AmazonTransactionInvalid, match="transactionStatus"):
        to_canonical(raw)


@pytest.mark.parametrize(("report_path", "tree_path"), list(BREAKDOWN_PATH.items()))
def test_a_settlement_row_and_its_transaction_breakdown_land_in_the_same_category(
    report_path: tuple[str, str], tree_path: tuple[str, str, str]
) -> None:
    """ItemFees/Commission and Expenses/AmazonFees/Commission are both fees, and so on for every amount."""
    assert category_of(report_path) == category_of(tree_path)


@pytest.mark.parametrize(
    ("path", "category"),
    [
        (("Product Charges", "Principle"), AmountCategory.PRINCIPAL),
        (("Expenses", "FBA fees"), AmountCategory.FEES),
        (("ItemPrice", "ShippingTax"), AmountCategory.TAX),
        (("ItemFees", "ShippingChargeback"), AmountCategory.FEES),
        (("ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal"), AmountCategory.WITHHELD_TAX),
        (("ItemPrice", "GiftWrap"), AmountCategory.OTHER),
    ],
)
def test_amazon_names_beyond_the_emulator_fall_into_sensible_categories(
    path: tuple[str, str], category: AmountCategory
) -> None:
    """Names from Amazon's own model examples and real reports: withheld tax before tax, fees before shipping."""
    assert category_of(path) is category
