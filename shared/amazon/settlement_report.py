"""The V2 settlement flat file (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2), read line by line.

Amazon's format: tab-separated, a header row naming the columns, then one summary row (settlement id, start
and end, deposit date, total and currency, nothing else), then one row per amount: transaction-type (Order,
Refund, other-transaction, ...), order-id, shipment-id or adjustment-id, amount-type / amount-description /
amount (e.g. ItemPrice / Principal / 24,99), posted date, order-item-code, sku, quantity. Columns are found by
their header name (Amazon's own documentation lists fewer columns than real files carry).

Streamed: rows are produced one at a time and never kept, so a 100,000-row report needs the memory of one row.
A row that cannot be read (a bad amount, a cut-off last line) is reported with its line number and skipped;
the rest of the report still counts. A report without a readable header or summary cannot be used at all.

The number format (`1.234,56` or `1,234.56`) is the marketplace's: read from the first row naming one (the
summary row names none, so a few rows are looked ahead), else from the settlement's currency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from shared.amazon.amount_categories import category_of
from shared.amazon.number_formats import NumberFormat, number_format_for, parse_report_datetime
from shared.errors import PermanentError
from shared.model.settlement import RowProblem, SettledKind, SettlementRow, SettlementSummary

SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
LOOKAHEAD_ROWS = 200  # rows read ahead for a marketplace name before the summary is parsed
MAX_LINE_LENGTH = 64 * 1024  # Amazon's rows are a few hundred characters
REQUIRED_COLUMNS = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "amount-type",
    "amount-description",
    "amount",
)
_KINDS = {"order": SettledKind.SALE, "refund": SettledKind.REFUND}
# A group id becomes part of an invoice line's alternate key, whose values may not hold / < > * % & : \ ? +.
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class SettlementReportInvalid(PermanentError):
    """The report has no readable header or summary row; nothing in it can be used."""

    reason = "SettlementReportInvalid"


@dataclass
class SettlementDocument:
    """A report being read: its summary (read first), then `rows()`, one pass; problems collect meanwhile."""

    summary: SettlementSummary
    number_format: NumberFormat
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0
    _rows: Iterator[SettlementRow] | None = None

    def rows(self) -> Iterator[SettlementRow]:
        if self._rows is None:
            raise RuntimeError("the rows of a settlement report can be read once")
        rows, self._rows = self._rows, None
        for row in rows:
            self.rows_read += 1
            yield row


def read_settlement(lines: Iterable[str], *, number_format: NumberFormat | None = None) -> SettlementDocument:
    """Read the header and the summary of a settlement report; its rows follow from `rows()`."""
    numbered = _numbered(lines)
    header = next(numbered, None)
    if header is None:
        raise SettlementReportInvalid("the settlement report is empty")
    columns = _columns(header[1])
    summary_line = next(numbered, None)
    if summary_line is None:
        raise SettlementReportInvalid("the settlement report has no summary row")
    summary_values = _values(summary_line[1], columns)
    ahead: list[tuple[int, str]] = []
    marketplace: str | None = None
    while number_format is None and marketplace is None and len(ahead) < LOOKAHEAD_ROWS:
        line = next(numbered, None)
        if line is None:
            break
        ahead.append(line)
        marketplace = _values(line[1], columns).get("marketplace-name") or None
    chosen = number_format or number_format_for(marketplace, summary_values.get("currency"))
    summary = _summary(summary_line[0], summary_values, chosen)
    document = SettlementDocument(summary, chosen)
    document._rows = _rows(_chain(ahead, numbered), columns, chosen, document.problems)
    return document


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text without its line ending) of the non-blank lines; a last line without its newline
    is kept (a cut-off file shows as a short row)."""
    for number, text in enumerate(lines, start=1):
        stripped = text.rstrip("\r\n")
        if stripped.strip():
            yield number, stripped


def _chain(first: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from first
    yield from rest


def _columns(header: str) -> dict[str, int]:
    names = [name.strip().lower() for name in header.lstrip("\ufeff").split("\t")]
    columns = {name: index for index, name in enumerate(names) if name}
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise SettlementReportInvalid(
            f"the settlement report's header lacks {', '.join(missing)}: not a V2 settlement flat file"
        )
    return columns


def _values(line: str, columns: dict[str, int]) -> dict[str, str]:
    cells = line.split("\t")
    return {name: cells[index].strip() for name, index in columns.items() if index < len(cells)}


def _summary(line: int, values: dict[str, str], number_format: NumberFormat) -> SettlementSummary:
    try:
        deposit = values.get("deposit-date")
        return SettlementSummary(
            settlement_id=_required(values, "settlement-id"),
            start=parse_report_datetime(_required(values, "settlement-start-date")),
            end=parse_report_datetime(_required(values, "settlement-end-date")),
            deposit_date=parse_report_datetime(deposit) if deposit else None,
            total=number_format.parse(_required(values, "total-amount")),
            currency=_required(values, "currency").upper(),
        )
    except ValueError as exc:
        raise SettlementReportInvalid(
            f"the settlement report's summary row (line {line}) is unreadable: {exc}"
        ) from None


def _required(values: dict[str, str], name: str) -> str:
    value = values.get(name)
    if not value:
        raise ValueError(f"{name} is empty")
    return value


def _rows(
    lines: Iterator[tuple[int, str]],
    columns: dict[str, int],
    number_format: NumberFormat,
    problems: list[RowProblem],
) -> Iterator[SettlementRow]:
    width = max(columns.values()) + 1
    needed = max(columns[name] for name in REQUIRED_COLUMNS) + 1
    for number, text in lines:
        if len(text) > MAX_LINE_LENGTH:
            problems.append(RowProblem(number, "row longer than any settlement row"))
            continue
        cells = text.split("\t")
        if len(cells) < needed:
            problems.append(RowProblem(number, f"row has {len(cells)} of {width} columns (cut off?)"))
            continue
        values = _values(text, columns)
        try:
            yield _row(number, values, number_format)
        except ValueError as exc:
            problems.append(RowProblem(number, str(exc)))


def _row(line: int, values: dict[str, str], number_format: NumberFormat) -> SettlementRow:
    text = values.get("amount", "")
    if not text:
        raise ValueError("amount is empty")
    try:
        amount = number_format.parse(text)
    except ValueError as exc:
        raise ValueError(f"amount: {exc}") from None
    transaction_type = values.get("transaction-type", "")
    kind = _KINDS.get(transaction_type.lower(), SettledKind.OTHER)
    posted_text = values.get("posted-date-time") or values.get("posted-date") or ""
    try:
        posted = parse_report_datetime(posted_text) if posted_text else None
    except ValueError:
        raise ValueError("posted date is not a date the report writes") from None
    if kind is SettledKind.SALE:
        group = values.get("shipment-id") or posted_text
    else:
        group = values.get("adjustment-id") or values.get("shipment-id") or posted_text
    quantity_text = values.get("quantity-purchased", "")
    amount_type, description = values.get("amount-type", ""), values.get("amount-description", "")
    return SettlementRow(
        line=line,
        kind=kind,
        transaction_type=transaction_type,
        order_id=values.get("order-id") or None,
        group_id=_KEY_UNSAFE.sub("_", group) or None,
        posted=posted,
        amount_type=amount_type,
        amount_description=description,
        amount=amount,
        category=category_of((transaction_type if amount_type == "" else amount_type, description)),
        order_item_code=values.get("order-item-code") or None,
        sku=values.get("sku") or None,
        quantity=int(quantity_text) if quantity_text.isdigit() else None,
    )
