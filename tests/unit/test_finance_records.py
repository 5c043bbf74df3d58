"""Transaction rows (what is written, and when it is not written again) and the finance feature's declaration."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.mapping.config import load_mapping
from shared.mapping.finance_records import relink_record, transaction_row
from shared.model.exchange_rates import ExchangeRate
from shared.model.finance import FinanceTransaction, TransactionStatus
from shared.model.finance_tables import FinanceTables
from shared.model.money import AmountCategory, CategoryAmounts
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.finance import declare

TABLES = FinanceTables("new_")
TRANSACTION = FinanceTransaction(
    transaction_id="tx-1",
    transaction_type="Shipment",
    status=TransactionStatus.DEFERRED,
    description="Order Payment",
    posted=datetime(2025, 3, 5, 10, tzinfo=UTC),
    marketplace_id="A1PA6795UKMFR9",
    currency="EUR",
    total=Decimal("17.00"),
    amounts=CategoryAmounts.of(
        [(AmountCategory.PRINCIPAL, Decimal("20.00")), (AmountCategory.FEES, Decimal("-3.00"))]
    ),
    order_id="302-1",
    settlement_id="S1",
)
RATE = ExchangeRate("EUR", "USD", Decimal("0.9200000000"), date(2025, 3, 5), "ecb")


def row_of(transaction: FinanceTransaction = TRANSACTION, salesorder_id: str | None = "so-guid"):
    return transaction_row(transaction, TABLES, currency_id="eur-id", salesorder_id=salesorder_id, rate=RATE)


def test_a_transaction_row_holds_its_categories_link_and_the_rate_it_was_valued_at() -> None:
    """Categories as columns, the order linked, the settlement bound by key, the posting date's rate kept."""
    written = row_of()
    fields = written.record.fields
    assert (fields["new_principalamount"], fields["new_feeamount"], fields["new_totalamount"]) == (
        20.0,
        -3.0,
        17.0,
    )
    assert (fields["new_exchangerate"], fields["new_ratedate"], fields["new_basetotalamount"]) == (
        0.92,
        "2025-03-05",
        18.48,
    )
    assert written.record.binds["new_salesorderid"].key == "so-guid"
    assert written.record.binds["new_settlementid"].key == {"new_amazonsettlementid": "S1"}
    assert written.settlement is not None
    assert fields["new_contenthash"] == written.content_hash


def test_the_same_transaction_gives_the_same_hash_and_any_change_another() -> None:
    """Unchanged: equal hashes (nothing to write). Released, or linked to its order: a new hash."""
    assert row_of().content_hash == row_of().content_hash
    released = replace(TRANSACTION, status=TransactionStatus.DEFERRED_RELEASED)
    assert row_of(released).content_hash != row_of().content_hash
    assert row_of(salesorder_id=None).content_hash != row_of().content_hash


def test_a_transaction_without_its_order_keeps_the_order_id_and_no_link() -> None:
    """The order is not in the CRM yet: the Amazon order id stays, the lookup stays empty."""
    fields, binds = row_of(salesorder_id=None).record.fields, row_of(salesorder_id=None).record.binds
    assert fields["new_amazonorderid"] == "302-1"
    assert "new_salesorderid" not in binds


def test_relinking_sets_only_the_order_lookup() -> None:
    """A late link writes the lookup and nothing else of the row."""
    record = relink_record(TABLES, "tx-1", "so-guid")
    assert (record.key, record.fields, record.binds["new_salesorderid"].key) == (
        {"new_amazontransactionid": "tx-1"},
        {},
        "so-guid",
    )


def test_every_column_the_mapping_names_is_declared() -> None:
    """The finance feature declares every column, lookup and table the mapping writes (names from one place)."""
    feature = declare(
        SchemaContext(prefix="new_", mapping=load_mapping(None, prefix="new_"), marketplace_ids=())
    )
    declared: dict[str, set[str]] = {}
    for column in feature.columns:
        declared.setdefault(column.table, set()).add(column.name)
    for lookup in feature.lookups:
        declared.setdefault(lookup.table, set()).add(lookup.name)
    for custom in feature.tables:
        declared.setdefault(custom.name, set()).add(custom.primary_name)
    for table, columns in (
        (TABLES.transaction_table, TABLES.transaction),
        (TABLES.settlement_table, TABLES.settlement),
        (TABLES.reconciliation_table, TABLES.reconciliation),
        ("invoice", TABLES.invoice),
        ("invoicedetail", TABLES.invoice_line),
    ):
        assert set(vars(columns).values()) <= declared[table], table
    for key in feature.keys:
        assert set(key.columns) <= declared[key.table], key.name
