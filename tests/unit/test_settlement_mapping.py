"""Settled orders: rows folded per order, invoices of what was settled, and the reconciliation rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from shared.mapping.invoices import plan_invoice
from shared.mapping.reconciliation import reconcile_order, reconcile_totals
from shared.mapping.settlement_fold import SettlementFold
from shared.model.crm import ProductRef, Reference
from shared.model.finance_tables import FinanceTables
from shared.model.money import AmountCategory, CategoryAmounts
from shared.model.settlement import (
    CrmOrderRef,
    EarlierSettlement,
    ReconciliationReason,
    SettledKind,
    SettlementRow,
    SettlementSummary,
)

TABLES = FinanceTables("new_")
POSTED = datetime(2025, 3, 5, 10, tzinfo=UTC)
SUMMARY = SettlementSummary("S1", POSTED, POSTED, POSTED, Decimal("0"), "USD")
P, T, S, PR, F = (
    AmountCategory.PRINCIPAL,
    AmountCategory.TAX,
    AmountCategory.SHIPPING,
    AmountCategory.PROMOTIONS,
    AmountCategory.FEES,
)


def row(
    amount: str,
    category: AmountCategory,
    *,
    order: str | None = "111-1",
    kind: SettledKind = SettledKind.SALE,
    group: str = "D1",
    item: str = "I1",
    quantity: int | None = 2,
    line: int = 3,
    posted: datetime = POSTED,
) -> SettlementRow:
    return SettlementRow(
        line,
        kind,
        kind.value,
        order,
        group,
        posted,
        "t",
        "d",
        Decimal(amount),
        category,
        item,
        "SKU-1",
        quantity,
    )


def sale(order: str = "111-1", posted: datetime = POSTED) -> list[SettlementRow]:
    """A sale of 2 x 10.00 with 1.60 tax, 4.99 shipping, a 2.00 promotion and a 3.00 fee: buyer paid 24.59."""
    amounts = (("20.00", P), ("1.60", T), ("4.99", S), ("-2.00", PR), ("-3.00", F))
    return [row(amount, category, order=order, posted=posted) for amount, category in amounts]


def folded(*rows: SettlementRow) -> SettlementFold:
    fold = SettlementFold()
    for one in rows:
        fold.add(one)
    return fold


def crm_order(total: str = "24.59", statecode: int = 3) -> CrmOrderRef:
    return CrmOrderRef(
        "111-1", "so-guid", statecode, Decimal(total), "usd", Reference("contacts", "c-guid"), None
    )


# --- fold ---------------------------------------------------------------------------------------------------
def test_an_orders_rows_are_gathered_wherever_they_stand_in_the_report() -> None:
    """A refund many lines after the sale, another order in between: one settled order each, in report order."""
    fold = folded(
        *sale(), *sale(order="222-2"), row("-20.00", P, kind=SettledKind.REFUND, group="R1", line=90)
    )
    first, second = fold.settled_orders()
    assert (first.order_id, second.order_id) == ("111-1", "222-2")
    assert first.amounts[P] == Decimal("0.00")
    assert first.sale_amounts.sales == Decimal("24.59")
    assert first.sale_groups == frozenset({"D1"})
    assert fold.rows == 11


def test_rows_without_an_order_count_toward_the_settlement_only() -> None:
    """A subscription fee belongs to no order but to the settlement's total."""
    fold = folded(*sale(), row("-39.99", F, order=None))
    assert fold.order_count == 1
    assert fold.total == Decimal("24.59") - Decimal("3.00") - Decimal("39.99")


def test_one_shipment_posted_twice_in_a_report_is_a_repeated_group() -> None:
    """The same shipment id under two posting times: two transactions paying one shipment."""
    later = POSTED.replace(day=9)
    [order] = folded(*sale(), *sale(posted=later)).settled_orders()
    assert order.repeated_groups == frozenset({"D1"})


# --- invoices -----------------------------------------------------------------------------------------------
def test_an_invoice_adds_up_to_what_the_buyer_paid_for_the_settled_shipment() -> None:
    """Item line (2 x 10.00, 2.00 discount, 1.60 tax) and a shipping line (4.99): 24.59; fees are not on it."""
    [order] = folded(*sale()).settled_orders()
    plan = plan_invoice(order, crm_order(), SUMMARY, TABLES, products={}, currency_id="usd")
    item, shipping = (line.fields for line in plan.lines)
    assert (item["quantity"], item["priceperunit"], item["manualdiscountamount"], item["tax"]) == (
        2,
        10.0,
        2.0,
        1.6,
    )
    assert (shipping["quantity"], shipping["priceperunit"]) == (1, 4.99)
    total = sum(
        Decimal(str(f["quantity"] * f["priceperunit"] - (f["manualdiscountamount"] or 0) + f["tax"]))
        for f in (item, shipping)
    )
    assert total == Decimal("24.59")
    assert plan.invoice.key == {"new_amazonsettlementid": "S1", "new_amazonorderid": "111-1"}
    assert plan.invoice.binds["salesorderid"] == Reference("salesorders", "so-guid")
    assert plan.invoice.binds["customerid_contact"] == Reference("contacts", "c-guid")


def test_a_refund_is_a_credit_line() -> None:
    """Refunded principal and tax: a negative quantity at a positive price, negative tax."""
    rows = [
        row("-20.00", P, kind=SettledKind.REFUND, group="R1"),
        row("-1.60", T, kind=SettledKind.REFUND, group="R1"),
    ]
    [order] = folded(*rows).settled_orders()
    [credit] = plan_invoice(order, crm_order(), SUMMARY, TABLES, products={}, currency_id=None).lines
    assert (credit.fields["quantity"], credit.fields["priceperunit"], credit.fields["tax"]) == (
        -2.0,
        10.0,
        -1.6,
    )
    assert credit.key["new_amazonlineref"] == "refund-R1-I1"


def test_a_price_that_does_not_divide_into_units_is_one_unit_at_the_total() -> None:
    """25.00 for 3 units cannot be 3 x 8.33: the line says 1 x 25.00, so the invoice stays exact."""
    [order] = folded(row("25.00", P, quantity=3)).settled_orders()
    [line] = plan_invoice(order, crm_order(), SUMMARY, TABLES, products={}, currency_id=None).lines
    assert (line.fields["quantity"], line.fields["priceperunit"]) == (1, 25.0)


def test_a_known_sku_is_a_product_line_and_an_unknown_one_a_write_in() -> None:
    """The CRM's product and unit when the SKU is a product; a write-in description otherwise."""
    [order] = folded(row("20.00", P)).settled_orders()
    with_product = plan_invoice(
        order,
        crm_order(),
        SUMMARY,
        TABLES,
        products={"SKU-1": ProductRef("p-guid", "u-guid")},
        currency_id=None,
    ).lines[0]
    write_in = plan_invoice(order, crm_order(), SUMMARY, TABLES, products={}, currency_id=None).lines[0]
    assert with_product.binds["productid"] == Reference("products", "p-guid")
    assert write_in.fields["isproductoverridden"] is True
    assert "SKU-1" in write_in.fields["productdescription"]


# --- reconciliation ------------------------------------------------------------------------------------------
def transactions_for(order_rows: list[SettlementRow]) -> CategoryAmounts:
    return CategoryAmounts.of((one.category, one.amount) for one in order_rows)


def test_an_order_that_agrees_everywhere_is_no_finding() -> None:
    """CRM total, settled sales and Amazon's transactions all agree: nothing to report."""
    rows = sale()
    [order] = folded(*rows).settled_orders()
    assert reconcile_order(SUMMARY, order, crm_order(), earlier=[], transactions=transactions_for(rows)) == []


def test_each_disagreement_is_one_finding_with_its_amounts() -> None:
    """A different CRM total and a fee that differs from the transactions: two findings, amounts on both."""
    rows = sale()
    [order] = folded(*rows).settled_orders()
    transactions = transactions_for(rows) + CategoryAmounts.of([(F, Decimal("0.50"))])
    findings = reconcile_order(
        SUMMARY, order, crm_order(total="30.00"), earlier=[], transactions=transactions
    )
    assert [(f.reason, f.category, f.expected, f.settled) for f in findings] == [
        (ReconciliationReason.ORDER_TOTAL, "sales", Decimal("30.00"), Decimal("24.59")),
        (ReconciliationReason.TRANSACTIONS, "fees", Decimal("-2.50"), Decimal("-3.00")),
    ]
    assert findings[1].key == "S1-111-1-transactions_differ-fees"


def test_an_order_the_crm_lacks_is_missing_and_gets_no_other_check() -> None:
    """No CRM order: one finding, with what was settled for it."""
    [order] = folded(*sale()).settled_orders()
    [finding] = reconcile_order(SUMMARY, order, None, earlier=[], transactions=None)
    assert (finding.reason, finding.settled) == (ReconciliationReason.MISSING_IN_CRM, Decimal("21.59"))


def test_a_shipment_another_settlement_paid_is_settled_twice_but_its_total_still_agrees() -> None:
    """The same shipment in an earlier settlement: settled twice, and no order-total finding on top."""
    [order] = folded(*sale()).settled_orders()
    earlier = [EarlierSettlement("S0", frozenset({"D1"}), {"D1": Decimal("24.59")})]
    findings = reconcile_order(SUMMARY, order, crm_order(), earlier=earlier, transactions=None)
    assert [f.reason for f in findings] == [ReconciliationReason.SETTLED_TWICE]
    assert "S0" in findings[0].detail


def test_shipments_settled_in_different_settlements_add_up_to_the_order() -> None:
    """Partial shipments: the earlier settlement paid D0, this one D1; together they are the CRM total."""
    [order] = folded(*sale()).settled_orders()
    earlier = [EarlierSettlement("S0", frozenset({"D0"}), {"D0": Decimal("10.00")})]
    assert reconcile_order(SUMMARY, order, crm_order(total="34.59"), earlier=earlier, transactions=None) == []


def test_a_partly_shipped_order_is_not_compared_with_its_total() -> None:
    """An order still In Progress in the CRM is settled shipment by shipment: no total finding yet."""
    [order] = folded(*sale()).settled_orders()
    assert (
        reconcile_order(SUMMARY, order, crm_order(total="99", statecode=1), earlier=[], transactions=None)
        == []
    )


def test_a_summary_total_that_is_not_the_sum_of_the_rows_is_a_settlement_finding() -> None:
    """The report's own arithmetic: summary total against the rows read."""
    summary = replace(SUMMARY, total=Decimal("100.00"))
    [finding] = reconcile_totals(summary, Decimal("99.50"))
    assert (finding.reason, finding.order_id, finding.difference) == (
        ReconciliationReason.SETTLEMENT_TOTAL,
        None,
        Decimal("-0.50"),
    )
    assert reconcile_totals(summary, Decimal("100.00")) == []
