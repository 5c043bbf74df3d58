"""Names of the Dataverse tables and columns that hold Amazon's money side, for a publisher prefix.

The mapping writes these names, the Dataverse connector queries them, and the provisioning declaration
(shared/provision/schema/finance.py) creates them: one place spells them. Custom tables follow Dataverse's naming:
the primary id is `<table>id` and a lookup is named after the primary id of the table it points at
(`{prefix}salesorderid` -> salesorder, `{prefix}settlementid` -> the settlement table), while Amazon's own
identifiers keep an `amazon` prefix (`{prefix}amazonsettlementid` is Amazon's settlement id, as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol


class RateColumns(Protocol):
    """The columns a row keeps the exchange rate of its base value in (transactions and settlements)."""

    @property
    def exchange_rate(self) -> str: ...
    @property
    def rate_date(self) -> str: ...
    @property
    def rate_source(self) -> str: ...
    @property
    def base_currency_code(self) -> str: ...
    @property
    def base_total(self) -> str: ...


@dataclass(frozen=True)
class TransactionColumns:
    name: str
    transaction_id: str  # alternate key: Amazon's transactionId
    transaction_type: str
    status: str
    description: str
    posted: str
    marketplace_id: str
    currency_code: str
    total: str
    principal: str
    tax: str
    shipping: str
    promotions: str
    fees: str
    withheld_tax: str
    other: str
    order_id: str  # Amazon's order id, kept while the order is not in the CRM
    salesorder: str  # lookup to salesorder
    settlement_id: str  # Amazon's settlement id
    settlement: str  # lookup to the settlement table
    event_group_id: str
    shipment_id: str
    refund_id: str
    deferral_reason: str
    maturity: str
    exchange_rate: str  # the rate of the posting date used for the base value
    rate_date: str
    rate_source: str
    base_currency_code: str
    base_total: str
    breakdowns: str  # every leaf of Amazon's breakdown tree, as JSON
    content_hash: str  # of what was written: an unchanged transaction is not written again


@dataclass(frozen=True)
class SettlementColumns:
    name: str
    settlement_id: str  # alternate key: Amazon's settlement id
    start: str
    end: str
    deposit: str
    total: str
    currency_code: str
    report_id: str
    order_count: str
    row_count: str
    mismatch_count: str
    exchange_rate: str  # the rate of the deposit date
    rate_date: str
    rate_source: str
    base_currency_code: str
    base_total: str


@dataclass(frozen=True)
class ReconciliationColumns:
    name: str
    result_key: str  # alternate key: settlement, order and reason in one value
    settlement_id: str
    order_id: str
    reason: str
    category: str
    expected: str
    settled: str
    difference: str
    currency_code: str
    detail: str
    settlement: str  # lookup to the settlement table
    salesorder: str  # lookup to salesorder


@dataclass(frozen=True)
class InvoiceColumns:
    settlement_id: str  # with order_id: the invoice's alternate key
    order_id: str
    settlement: str  # lookup to the settlement table


@dataclass(frozen=True)
class InvoiceLineColumns:
    settlement_id: str  # with order_id and line_ref: the line's alternate key
    order_id: str
    line_ref: str  # which settled amounts the line stands for ("sale-<shipment>-<item>", "refund-...")


@dataclass(frozen=True)
class FinanceTables:
    prefix: str

    # --- tables (logical names) and their entity sets ---------------------------------------------------
    @property
    def transaction_table(self) -> str:
        return f"{self.prefix}financetransaction"

    @property
    def settlement_table(self) -> str:
        return f"{self.prefix}settlement"

    @property
    def reconciliation_table(self) -> str:
        return f"{self.prefix}reconciliation"

    @property
    def transactions(self) -> str:
        return f"{self.transaction_table}s"

    @property
    def settlements(self) -> str:
        return f"{self.settlement_table}s"

    @property
    def reconciliations(self) -> str:
        return f"{self.reconciliation_table}s"

    def primary_id(self, table: str) -> str:
        return f"{table}id"

    # --- columns -----------------------------------------------------------------------------------------
    @cached_property
    def transaction(self) -> TransactionColumns:
        p = self.prefix
        return TransactionColumns(
            name=f"{p}name",
            transaction_id=f"{p}amazontransactionid",
            transaction_type=f"{p}transactiontype",
            status=f"{p}transactionstatus",
            description=f"{p}description",
            posted=f"{p}posteddate",
            marketplace_id=f"{p}amazonmarketplaceid",
            currency_code=f"{p}currencycode",
            total=f"{p}totalamount",
            principal=f"{p}principalamount",
            tax=f"{p}taxamount",
            shipping=f"{p}shippingamount",
            promotions=f"{p}promotionamount",
            fees=f"{p}feeamount",
            withheld_tax=f"{p}withheldtaxamount",
            other=f"{p}otheramount",
            order_id=f"{p}amazonorderid",
            salesorder=f"{p}salesorderid",
            settlement_id=f"{p}amazonsettlementid",
            settlement=f"{p}settlementid",
            event_group_id=f"{p}eventgroupid",
            shipment_id=f"{p}shipmentid",
            refund_id=f"{p}refundid",
            deferral_reason=f"{p}deferralreason",
            maturity=f"{p}maturitydate",
            exchange_rate=f"{p}exchangerate",
            rate_date=f"{p}ratedate",
            rate_source=f"{p}ratesource",
            base_currency_code=f"{p}basecurrencycode",
            base_total=f"{p}basetotalamount",
            breakdowns=f"{p}breakdowns",
            content_hash=f"{p}contenthash",
        )

    @cached_property
    def settlement(self) -> SettlementColumns:
        p = self.prefix
        return SettlementColumns(
            name=f"{p}name",
            settlement_id=f"{p}amazonsettlementid",
            start=f"{p}startdate",
            end=f"{p}enddate",
            deposit=f"{p}depositdate",
            total=f"{p}totalamount",
            currency_code=f"{p}currencycode",
            report_id=f"{p}reportid",
            order_count=f"{p}ordercount",
            row_count=f"{p}rowcount",
            mismatch_count=f"{p}mismatchcount",
            exchange_rate=f"{p}exchangerate",
            rate_date=f"{p}ratedate",
            rate_source=f"{p}ratesource",
            base_currency_code=f"{p}basecurrencycode",
            base_total=f"{p}basetotalamount",
        )

    @cached_property
    def reconciliation(self) -> ReconciliationColumns:
        p = self.prefix
        return ReconciliationColumns(
            name=f"{p}name",
            result_key=f"{p}resultkey",
            settlement_id=f"{p}amazonsettlementid",
            order_id=f"{p}amazonorderid",
            reason=f"{p}reason",
            category=f"{p}category",
            expected=f"{p}expectedamount",
            settled=f"{p}settledamount",
            difference=f"{p}differenceamount",
            currency_code=f"{p}currencycode",
            detail=f"{p}detail",
            settlement=f"{p}settlementid",
            salesorder=f"{p}salesorderid",
        )

    @cached_property
    def invoice(self) -> InvoiceColumns:
        p = self.prefix
        return InvoiceColumns(
            settlement_id=f"{p}amazonsettlementid",
            order_id=f"{p}amazonorderid",
            settlement=f"{p}settlementid",
        )

    @cached_property
    def invoice_line(self) -> InvoiceLineColumns:
        p = self.prefix
        return InvoiceLineColumns(
            settlement_id=f"{p}amazonsettlementid", order_id=f"{p}amazonorderid", line_ref=f"{p}amazonlineref"
        )
