"""Reading the V2 settlement flat file: the marketplace's number format, its dates, and rows that cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox.settlement_report import COLUMNS, synthetic_settlement_lines
from shared.amazon.number_formats import COMMA_DECIMAL, DOT_DECIMAL, number_format_for, parse_report_datetime
from shared.amazon.settlement_report import SettlementReportInvalid, read_settlement
from shared.model.money import AmountCategory
from shared.model.settlement import SettledKind

START = datetime(2025, 3, 3, tzinfo=UTC)
HEADER = "\t".join(COLUMNS) + "\n"


def line(**values: str) -> str:
    return "\t".join(values.get(column.replace("-", "_"), "") for column in COLUMNS) + "\n"


def summary(total: str = "100.00", currency: str = "USD", **dates: str) -> str:
    return line(
        settlement_id="12345678901",
        settlement_start_date=dates.get("start", "2025-03-03 00:00:00 UTC"),
        settlement_end_date=dates.get("end", "2025-03-17 00:00:00 UTC"),
        deposit_date=dates.get("deposit", "2025-03-19 00:00:00 UTC"),
        total_amount=total,
        currency=currency,
    )


def amount_row(amount: str, *, marketplace: str = "Amazon.com", **values: str) -> str:
    defaults = {
        "settlement_id": "12345678901",
        "transaction_type": "Order",
        "order_id": "111-0000001-0000001",
        "shipment_id": "DShip1",
        "marketplace_name": marketplace,
        "amount_type": "ItemPrice",
        "amount_description": "Principal",
        "posted_date_time": "2025-03-05 10:00:00 UTC",
        "order_item_code": "10000000000001",
        "sku": "SKU-1",
        "quantity_purchased": "1",
    }
    return line(**{**defaults, **values, "amount": amount})


@pytest.mark.parametrize(
    ("locale", "marketplace", "currency", "written", "meant"),
    [
        ("de_DE", "Amazon.de", "EUR", "1.234,56", Decimal("1234.56")),
        ("de_DE", "Amazon.de", "EUR", "-95,00", Decimal("-95.00")),
        ("fr_FR", "Amazon.fr", "EUR", "1\u202f234,56", Decimal("1234.56")),
        ("fr_FR", "Amazon.fr", "EUR", "1234,56", Decimal("1234.56")),
        ("en_US", "Amazon.com", "USD", "1,234.56", Decimal("1234.56")),
        ("en_US", "Amazon.com", "USD", "-3.22", Decimal("-3.22")),
        ("ja_JP", "Amazon.co.jp", "JPY", "1,235", Decimal("1235")),
        ("ja_JP", "Amazon.co.jp", "JPY", "-480", Decimal("-480")),
    ],
)
def test_amounts_are_read_in_the_marketplace_format(
    locale: str, marketplace: str, currency: str, written: str, meant: Decimal
) -> None:
    """An amount written the way the report's marketplace writes numbers is read as the amount it means."""
    document = read_settlement(
        [HEADER, summary(total=written, currency=currency), amount_row(written, marketplace=marketplace)]
    )
    [row] = list(document.rows())
    assert (document.summary.total, row.amount) == (meant, meant), locale
    assert document.problems == []


def test_an_amount_in_the_other_convention_is_refused_not_misread() -> None:
    """12.34 in a German report is no amount at all: the row is reported, not booked as 1,234."""
    document = read_settlement(
        [HEADER, summary(total="1.000,00", currency="EUR"), amount_row("12.34", marketplace="Amazon.de")]
    )
    assert list(document.rows()) == []
    assert [(problem.line, problem.reason) for problem in document.problems] == [
        (3, "amount: not an amount in the 1.234,56 format")
    ]


def test_a_bad_amount_is_reported_with_its_line_number_and_the_other_rows_land() -> None:
    """One unreadable row among good ones: the others are read, the bad one named by its line."""
    rows = [amount_row(text, order_item_code=str(n)) for n, text in enumerate(["10.00", "ten", "5.50"])]
    document = read_settlement([HEADER, summary(), *rows])
    read = list(document.rows())
    assert [row.amount for row in read] == [Decimal("10.00"), Decimal("5.50")]
    assert [problem.line for problem in document.problems] == [4]


def test_a_cut_off_last_line_is_reported_and_the_rows_before_it_land() -> None:
    """A report that ends in the middle of a row: that row is a problem (too few columns), the rest counts."""
    cut = amount_row("7.00")[:40]
    document = read_settlement([HEADER, summary(), amount_row("10.00"), cut])
    assert [row.amount for row in document.rows()] == [Decimal("10.00")]
    assert document.problems[0].line == 4
    assert "columns" in document.problems[0].reason


@pytest.mark.parametrize(
    "written",
    [
        "2025-03-05 10:00:00 UTC",
        "05.03.2025 10:00:00 UTC",
        "2025/03/05 10:00:00 UTC",
        "2025-03-05T11:00:00+01:00",
    ],
)
def test_dates_are_read_as_the_report_writes_them(written: str) -> None:
    """US, European, Japanese and ISO date-times all mean the same UTC moment."""
    assert parse_report_datetime(written) == datetime(2025, 3, 5, 10, tzinfo=UTC)


def test_a_header_without_the_settlement_columns_is_not_a_settlement_report() -> None:
    """An all-orders report (or any other file) is refused whole, naming what it lacks."""
    with pytest.raises(SettlementReportInvalid, match="amount-type"):
        read_settlement(["order-id\tsku\tquantity\n", "1\t2\t3\n"])


def test_an_unreadable_summary_makes_the_report_unusable() -> None:
    """Without its settlement id, period and total the report cannot become a settlement."""
    with pytest.raises(SettlementReportInvalid, match="line 2"):
        read_settlement([HEADER, summary(total="lots"), amount_row("1.00")])


def test_rows_carry_kind_group_and_category() -> None:
    """An Order row is a sale grouped by its shipment, a Refund by its adjustment; fees are fees."""
    document = read_settlement(
        [
            HEADER,
            summary(),
            amount_row("-1.50", amount_type="ItemFees", amount_description="Commission"),
            amount_row("-10.00", transaction_type="Refund", adjustment_id="77", shipment_id=""),
        ]
    )
    fee, refund = document.rows()
    assert (fee.kind, fee.group_id, fee.category) == (SettledKind.SALE, "DShip1", AmountCategory.FEES)
    assert (refund.kind, refund.group_id, refund.category) == (
        SettledKind.REFUND,
        "77",
        AmountCategory.PRINCIPAL,
    )


def test_the_format_comes_from_the_marketplace_named_in_the_rows() -> None:
    """The summary names no marketplace; the first row that does decides, the currency otherwise."""
    assert number_format_for("Amazon.de", "EUR") is COMMA_DECIMAL
    assert number_format_for("Amazon.ie", "EUR") is DOT_DECIMAL
    assert number_format_for(None, "SEK") is COMMA_DECIMAL
    assert number_format_for(None, "JPY") is DOT_DECIMAL


@pytest.mark.parametrize(
    "marketplace_id", ["A1PA6795UKMFR9", "A13V1IB3VIYZZH", "ATVPDKIKX0DER", "A1VC38T7YXB528"]
)
def test_generated_reports_add_up_to_their_summary_in_every_locale(marketplace_id: str) -> None:
    """The sandbox's generator (grouped thousands, marketplace dates) reads back to rows summing to the total."""
    document = read_settlement(synthetic_settlement_lines(400, marketplace_id=marketplace_id, start=START))
    rows = list(document.rows())
    assert len(rows) == 400
    assert document.problems == []
    assert sum(row.amount for row in rows) == document.summary.total
