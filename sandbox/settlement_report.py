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
    total = sum((amount for _, amount in _synthetic_rows(rows, marketplace_id, seed, start)), Decimal("0"))
    yield _line(COLUMNS)
    yield _summary_line(locale, settlement_id, start, end, end + timedelta(days=2), total, grouping)
    for fields, amount in _synthetic_rows(rows, marketplace_id, seed, start):
        yield _line(
            (
                settlement_id,
                "",
                "",
                "",
                "",
                "",
                *fields[:8],
                locale.amount(amount, grouping=grouping),
                *fields[8:],
            )
        )


def _synthetic_rows(
    rows: int, marketplace_id: str, seed: int, start: datetime
) -> Iterator[tuple[Sequence[str], Decimal]]:
    """(columns after currency without the amount, amount) for `rows` rows of made-up merchant orders."""
    rng = random.Random(f"synthetic-settlement:{seed}")
    locale = report_locale(marketplace_id)
    marketplace = MARKETPLACES.get(marketplace_id)
    prefixes = marketplace.order_id_prefixes if marketplace is not None else ("111",)
    produced = 0
    while produced < rows:
        product = rng.choice(CATALOG)
        quantity = rng.choice((1, 1, 1, 2, 3))
        principal = (
            product.price_in(marketplace) if marketplace is not None else product.usd_price
        ) * quantity
        posted = start + timedelta(seconds=rng.randint(0, 14 * 86400 - 1))
        order_id = f"{rng.choice(prefixes)}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9_999_999):07d}"
        item_code = str(rng.randint(10**13, 10**14 - 1))
        shipment_id = "D" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
        amounts = [
            ("ItemPrice", "Principal", principal),
            ("ItemPrice", "Tax", (principal * Decimal("0.08")).quantize(Decimal("0.01"))),
            ("ItemFees", "Commission", -(principal * REFERRAL_FEE_RATE).quantize(Decimal("0.01"))),
            ("ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-3.22") * quantity),
        ]
        for amount_type, description, amount in amounts:
            if produced == rows:
                return
            fields = ("Order", order_id, "", "", shipment_id, locale.marketplace_name, amount_type, description,
                      "AFN", locale.date(posted), locale.date_time(posted), item_code, "", "", product.seller_sku,
                      str(quantity), "")  # fmt: skip
            yield fields, amount
            produced += 1


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
