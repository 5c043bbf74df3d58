"""The V2 settlement flat file (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``), rendered line by line.

Format, as Amazon documents it and as downloaded files look: tab-separated, a header row, then one summary
row (settlement id, period, deposit date, total, currency and nothing else), then one row per amount with
``amount-type`` / ``amount-description`` / ``amount`` (e.g. ItemPrice / Principal / 24,99) and the order,
item and posting columns. Amounts and dates use the marketplace's style (see ``marketplace_formats``).
Amazon's report-type page lists the columns up to ``quantity-purchased``; downloaded files also carry
``promotion-id`` as the last column.

``settlement_lines`` renders a ``Settlement`` of the finance ledger (so the report and listTransactions agree,
deliberate differences included). ``synthetic_settlement_lines`` yields any number of plausible rows without
keeping them: it walks a seeded generator twice, once to add up the total that the summary row needs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from sandbox.amazon_samples import CATALOG, MARKETPLACES
from sandbox.finance_ledger import REFERRAL_FEE_RATE, Charge, LedgerTransaction, Settlement
from sandbox.marketplace_formats import ReportLocale, report_locale

COLUMNS: Final = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)
_CENT: Final = Decimal("0.01")
TRANSACTION_TYPES: Final = {"Shipment": "Order", "Refund": "Refund", "ServiceFee": "other-transaction"}


def settlement_lines(settlement: Settlement, *, grouping: bool = True) -> Iterator[str]:
    """The report of one ledger settlement, line by line (each ends with a newline)."""
    locale = report_locale(settlement.marketplace_id)
    yield _line(COLUMNS)
    yield _summary_line(
        locale,
        settlement.settlement_id,
        settlement.start,
        settlement.end,
        settlement.deposit_date,
        settlement.total,
        grouping,
    )
    for transaction in settlement.transactions:
        for charge in transaction.charges:
            yield _charge_line(locale, settlement.settlement_id, transaction, charge, grouping)


def synthetic_settlement_lines(
    rows: int, *, marketplace_id: str = "ATVPDKIKX0DER", seed: int = 0, start: datetime, grouping: bool = True
) -> Iterator[str]:
    """A settlement report with exactly `rows` amount rows, generated on the fly (constant memory)."""
    locale = report_locale(marketplace_id)
    settlement_id = str(random.Random(f"settlement:{seed}").randint(10**10, 10**11 - 1))
    end = start + timedelta(days=14)
    # The total of the amounts as written: in a currency without decimals each row is rounded on its own.
    total = sum(
        (
            locale.rounded(amount)
            for order in _synthetic_orders(rows, marketplace_id, seed, start)
            for _, _, amount in order.amounts
        ),
        Decimal("0"),
    )
    yield _line(COLUMNS)
    yield _summary_line(locale, settlement_id, start, end, end + timedelta(days=2), total, grouping)
    lead = f"{settlement_id}\t\t\t\t\t\tOrder\t"
    for order in _synthetic_orders(rows, marketplace_id, seed, start):
        order_part = f"{order.order_id}\t\t\t{order.shipment_id}\t{locale.marketplace_name}\t"
        tail = (
            f"\tAFN\t{locale.date(order.posted)}\t{locale.date_time(order.posted)}\t{order.item_code}"
            f"\t\t\t{order.sku}\t{order.quantity}\t\n"
        )
        for amount_type, description, amount in order.amounts:
            yield f"{lead}{order_part}{amount_type}\t{description}\t{locale.amount(amount, grouping=grouping)}{tail}"


@dataclass(frozen=True)
class _SyntheticOrder:
    order_id: str
    shipment_id: str
    item_code: str
    sku: str
    quantity: int
    posted: datetime
    amounts: Sequence[tuple[str, str, Decimal]]


def _synthetic_orders(
    rows: int, marketplace_id: str, seed: int, start: datetime
) -> Iterator[_SyntheticOrder]:
    """Made-up AFN orders of four amounts each, cut so that exactly `rows` amounts come out."""
    rng = random.Random(f"synthetic-settlement:{seed}")
    marketplace = MARKETPLACES.get(marketplace_id)
    prefixes = marketplace.order_id_prefixes if marketplace is not None else ("111",)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    left = rows
    while left > 0:
        product = rng.choice(CATALOG)
        quantity = rng.choice((1, 1, 1, 2, 3))
        unit = product.price_in(marketplace) if marketplace is not None else product.usd_price
        principal = unit * quantity
        amounts = [
            ("ItemPrice", "Principal", principal),
            ("ItemPrice", "Tax", (principal * Decimal("0.08")).quantize(_CENT)),
            ("ItemFees", "Commission", -(principal * REFERRAL_FEE_RATE).quantize(_CENT)),
            ("ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-3.22") * quantity),
        ][:left]
        left -= len(amounts)
        yield _SyntheticOrder(
            order_id=f"{rng.choice(prefixes)}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9_999_999):07d}",
            shipment_id="D" + "".join(rng.choices(alphabet, k=8)),
            item_code=str(rng.randint(10**13, 10**14 - 1)),
            sku=product.seller_sku,
            quantity=quantity,
            posted=start + timedelta(seconds=rng.randint(0, 14 * 86400 - 1)),
            amounts=amounts,
        )


def _summary_line(
    locale: ReportLocale,
    settlement_id: str,
    start: datetime,
    end: datetime,
    deposit: datetime,
    total: Decimal,
    grouping: bool,
) -> str:
    values = [settlement_id, locale.date_time(start), locale.date_time(end), locale.date_time(deposit)]
    values += [locale.amount(total, grouping=grouping), locale.currency]
    return _line((*values, *[""] * (len(COLUMNS) - len(values))))


def _charge_line(
    locale: ReportLocale, settlement_id: str, transaction: LedgerTransaction, charge: Charge, grouping: bool
) -> str:
    is_order = transaction.transaction_type != "ServiceFee"
    adjustment_item = (
        f"{charge.order_item_id}-R"
        if transaction.transaction_type == "Refund" and charge.order_item_id
        else ""
    )
    values = (
        settlement_id,
        "",
        "",
        "",
        "",
        "",
        TRANSACTION_TYPES[transaction.transaction_type],
        transaction.order_id or "",
        transaction.merchant_order_id or "",
        transaction.adjustment_id or "",
        transaction.shipment_id or "",
        locale.marketplace_name if is_order else "",
        charge.amount_type,
        charge.description,
        locale.amount(charge.amount, grouping=grouping),
        transaction.fulfillment_network or "",
        locale.date(transaction.posted),
        locale.date_time(transaction.posted),
        charge.order_item_id or "",
        "",
        adjustment_item,
        charge.sku or "",
        str(charge.quantity) if charge.quantity is not None else "",
        charge.promotion_id or "",
    )
    return _line(values)


def _line(values: Sequence[str]) -> str:
    return "\t".join(values) + "\n"
