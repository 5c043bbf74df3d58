"""What the finance and settlement flows read from Dataverse: a few $filter queries per batch of records.

Ids go into one `In` filter per QUERY_CHUNK values (the URL stays short), and every query selects only the
columns the flow uses. Money comes back as JSON numbers and is read through its text into Decimal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.dataverse import odata
from shared.dataverse.client import LOOKUP_TABLE_ANNOTATION, DataverseClient
from shared.model.crm import Reference
from shared.model.finance import TransactionStatus
from shared.model.finance_tables import FinanceTables
from shared.model.money import AmountCategory, CategoryAmounts
from shared.model.settlement import CrmOrderRef, EarlierSettlement, SettledKind
from shared.timeutil import as_utc

QUERY_CHUNK = 50  # ids per In filter
_CUSTOMER_SETS = {"account": "accounts", "contact": "contacts"}


@dataclass(frozen=True)
class UnlinkedTransaction:
    transaction_id: str
    order_id: str


class CrmFinance:
    def __init__(self, client: DataverseClient, tables: FinanceTables, *, order_id_column: str) -> None:
        self._client = client
        self._tables = tables
        self._order_id_column = order_id_column  # salesorder's Amazon order id column (the mapping's)

    # --- transactions -------------------------------------------------------------------------------------
    def transaction_hashes(self, transaction_ids: Iterable[str]) -> dict[str, str]:
        """Content hash of the rows these Amazon transactions already have, by transaction id."""
        columns = self._tables.transaction
        return {
            str(row[columns.transaction_id]): str(row.get(columns.content_hash) or "")
            for row in self._by_values(
                self._tables.transactions,
                columns.transaction_id,
                transaction_ids,
                select=(columns.transaction_id, columns.content_hash),
            )
        }

    def unlinked_transactions(self) -> list[UnlinkedTransaction]:
        """Rows that name an Amazon order the CRM did not have when they were written."""
        columns = self._tables.transaction
        rows = self._client.query(
            self._tables.transactions,
            filter=f"{columns.order_id} ne null and _{columns.salesorder}_value eq null",
            select=(columns.transaction_id, columns.order_id),
        )
        return [
            UnlinkedTransaction(str(row[columns.transaction_id]), str(row[columns.order_id])) for row in rows
        ]

    def oldest_due_deferral(self, due_by: datetime) -> datetime | None:
        """Posted date of the oldest row still DEFERRED whose maturity date has come (or is unknown)."""
        columns = self._tables.transaction
        rows = self._client.query(
            self._tables.transactions,
            filter=(
                f"{odata.eq(columns.status, TransactionStatus.DEFERRED.value)} and "
                f"({columns.maturity} eq null or {columns.maturity} le {odata.literal(due_by)})"
            ),
            select=(columns.posted,),
            orderby=f"{columns.posted} asc",
            top=1,
        )
        row = next(iter(rows), None)
        return _datetime(row.get(columns.posted)) if row else None

    def transaction_amounts(self, settlement_id: str, order_ids: Iterable[str]) -> dict[str, CategoryAmounts]:
        """By order: the category amounts of the transaction rows that say they belong to this settlement."""
        columns = self._tables.transaction
        by_category = {
            AmountCategory.PRINCIPAL: columns.principal,
            AmountCategory.TAX: columns.tax,
            AmountCategory.SHIPPING: columns.shipping,
            AmountCategory.PROMOTIONS: columns.promotions,
            AmountCategory.FEES: columns.fees,
            AmountCategory.WITHHELD_TAX: columns.withheld_tax,
            AmountCategory.OTHER: columns.other,
        }
        found: dict[str, CategoryAmounts] = {}
        for row in self._by_values(
            self._tables.transactions,
            columns.order_id,
            order_ids,
            also=odata.eq(columns.settlement_id, settlement_id),
            select=(columns.order_id, *by_category.values()),
        ):
            amounts = CategoryAmounts.of(
                (category, _decimal(row.get(column))) for category, column in by_category.items()
            )
            order_id = str(row[columns.order_id])
            found[order_id] = found[order_id] + amounts if order_id in found else amounts
        return found

    # --- orders --------------------------------------------------------------------------------------------
    def orders(self, order_ids: Iterable[str]) -> dict[str, CrmOrderRef]:
        """The CRM sales orders of these Amazon order ids (those that exist)."""
        column = self._order_id_column
        found: dict[str, CrmOrderRef] = {}
        for row in self._by_values(
            "salesorders",
            column,
            order_ids,
            select=(
                "salesorderid",
                column,
                "statecode",
                "totalamount",
                "_transactioncurrencyid_value",
                "_customerid_value",
                "_pricelevelid_value",
            ),
            annotations=True,
        ):
            order_id = str(row[column])
            customer_table = row.get(f"_customerid_value@{LOOKUP_TABLE_ANNOTATION}")
            customer = (
                Reference(_CUSTOMER_SETS[customer_table], str(row["_customerid_value"]))
                if row.get("_customerid_value") and customer_table in _CUSTOMER_SETS
                else None
            )
            found[order_id] = CrmOrderRef(
                order_id=order_id,
                salesorder_id=str(row["salesorderid"]),
                statecode=int(row["statecode"]),
                total=_decimal(row["totalamount"]) if row.get("totalamount") is not None else None,
                currency_id=_text(row.get("_transactioncurrencyid_value")),
                customer=customer,
                price_list_id=_text(row.get("_pricelevelid_value")),
            )
        return found

    # --- invoices and reconciliation results -------------------------------------------------------------------
    def invoice_states(self, settlement_id: str, order_ids: Iterable[str]) -> dict[str, int]:
        """statecode of this settlement's invoices, by order."""
        columns = self._tables.invoice
        return {
            str(row[columns.order_id]): int(row["statecode"])
            for row in self._by_values(
                "invoices",
                columns.order_id,
                order_ids,
                also=odata.eq(columns.settlement_id, settlement_id),
                select=(columns.order_id, "statecode"),
            )
        }

    def earlier_settlements(
        self, settlement_id: str, order_ids: Iterable[str]
    ) -> dict[str, list[EarlierSettlement]]:
        """By order: what other settlements' invoice lines say they paid, per sale group (shipment)."""
        columns = self._tables.invoice_line
        sales: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
        for row in self._by_values(
            "invoicedetails",
            columns.order_id,
            order_ids,
            also=f"{columns.settlement_id} ne {odata.literal(settlement_id)}",
            select=(columns.order_id, columns.settlement_id, columns.line_ref, "extendedamount"),
        ):
            group = sale_group_of(str(row.get(columns.line_ref) or ""))
            if group is None:
                continue
            by_group = sales[str(row[columns.order_id])][str(row[columns.settlement_id])]
            by_group[group] = by_group.get(group, Decimal("0")) + _decimal(row.get("extendedamount"))
        return {
            order_id: [
                EarlierSettlement(other, frozenset(groups), dict(groups))
                for other, groups in settlements.items()
            ]
            for order_id, settlements in sales.items()
        }

    def reconciliation_keys(self, settlement_id: str) -> set[str]:
        columns = self._tables.reconciliation
        rows = self._client.query(
            self._tables.reconciliations,
            filter=odata.eq(columns.settlement_id, settlement_id),
            select=(columns.result_key,),
        )
        return {str(row[columns.result_key]) for row in rows}

    # --- helpers -------------------------------------------------------------------------------------------
    def _by_values(
        self,
        entity_set: str,
        column: str,
        values: Iterable[str],
        *,
        select: Sequence[str],
        also: str | None = None,
        annotations: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Rows whose `column` is one of `values`, QUERY_CHUNK values per query."""
        ids = sorted(set(values))
        for start in range(0, len(ids), QUERY_CHUNK):
            condition = odata.any_of(column, ids[start : start + QUERY_CHUNK])
            yield from self._client.query(
                entity_set,
                filter=f"{also} and {condition}" if also else condition,
                select=select,
                annotations=annotations,
            )


def sale_group_of(line_ref: str) -> str | None:
    """The shipment a sale invoice line stands for ("sale-<group>-<item>", "saleshipping-<group>-<item>")."""
    kind, _, rest = line_ref.partition("-")
    if kind not in (SettledKind.SALE.value, f"{SettledKind.SALE.value}shipping"):
        return None
    group, _, _ = rest.rpartition("-")
    return group or None


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
