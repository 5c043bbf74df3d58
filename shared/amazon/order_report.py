"""The all-orders flat file (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL) -> canonical Orders.

Tab-separated, a header row, one row per order item, the rows of one order next to each other. What Amazon's
format means for us (why this matters, one line each):
- no order-item-id column: lines get ids of their own ("report-line-1", ...) that are stable for a document;
  they cannot match the ids getOrder shows, so such an order must not be written where Amazon's own lines
  may land later (the backfill decides which; see flows/orders_backfill.py);
- no marketplace id, only the sales-channel name: each report covers one marketplace, given by the caller;
- no buyer name, email or street (only city, state, postal code, country): orders fall back to the
  marketplace's account as customer, which the mapping already does when there is no buyer;
- amounts use a dot in every marketplace ("89.95"), unlike the settlement report; item-price is the line's
  total (unit price x quantity); promotion discounts are negative;
- times are ISO 8601 with an offset; pending orders have no prices and no currency.

A row that cannot be read makes its whole order unreadable (writing the other lines of it would leave an
order without all of its lines); the error names the line number and the column, never the value. A file
cut off mid-row (no final newline) makes its last order unreadable the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from shared.errors import PermanentError
from shared.model.order import Address, FulfillmentChannel, Money, Order, OrderLine, OrderStatus
from shared.timeutil import as_utc

ALL_ORDERS_BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
LINE_ID_PREFIX = "report-line-"
MAX_ORDER_ID = 64

# The report's status words; "Shipping" is an Amazon-fulfilled order on its way (not final yet).
_STATUSES: Mapping[str, OrderStatus] = {
    "pendingavailability": OrderStatus.PENDING_AVAILABILITY,
    "pending": OrderStatus.PENDING,
    "unshipped": OrderStatus.UNSHIPPED,
    "shipping": OrderStatus.PARTIALLY_SHIPPED,
    "partiallyshipped": OrderStatus.PARTIALLY_SHIPPED,
    "shipped": OrderStatus.SHIPPED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "unfulfillable": OrderStatus.UNFULFILLABLE,
}
_CHANNELS = {"amazon": FulfillmentChannel.AFN, "merchant": FulfillmentChannel.MFN}
REQUIRED_COLUMNS = (
    "amazon-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "sku",
    "quantity",
)
_AMOUNTS = (
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
)
_DISCOUNTS = ("item-promotion-discount", "ship-promotion-discount")


class ReportFormatError(PermanentError):
    """The document is not an all-orders flat file (its header lacks a column every row needs)."""

    reason = "ReportFormat"


@dataclass(frozen=True)
class ReportOrder:
    order: Order
    first_line: int  # 1-based line numbers in the document (line 1 is the header)
    last_line: int


@dataclass(frozen=True)
class UnreadableOrder:
    order_id: str | None  # None when not even the order id could be read
    first_line: int
    last_line: int
    errors: tuple[str, ...]  # "line 57: item-price is not a number"


class _RowError(ValueError):
    pass


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    error: str | None = None

    @property
    def order_id(self) -> str:
        return self.values.get("amazon-order-id", "").strip()


def read_all_orders(
    lines: Iterable[str], *, marketplace_id: str, skip_through: int = 0
) -> Iterator[ReportOrder | UnreadableOrder]:
    """Orders of the flat file in file order; `skip_through` skips the orders that end on or before that line
    (a resumed run). Raises ReportFormatError when the header is not the report's."""
    iterator = iter(lines)
    header_line = next(iterator, None)
    if header_line is None:
        return
    header = [name.strip().lower() for name in header_line.rstrip("\r\n").split("\t")]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ReportFormatError(f"the report's header lacks {', '.join(missing)}")
    group: list[_Row] = []
    finished: set[str] = set()
    for number, text in enumerate(iterator, start=2):
        row = _split(number, text, header)
        if group and row.order_id != group[0].order_id:
            yield from _emit(group, marketplace_id, skip_through, finished)
            group = []
        group.append(row)
    if group:
        yield from _emit(group, marketplace_id, skip_through, finished)


def _split(number: int, text: str, header: Sequence[str]) -> _Row:
    if not text.endswith("\n"):
        cells = text.split("\t")
        return _Row(number, dict(zip(header, cells, strict=False)), f"line {number}: the file ends mid-row")
    cells = text.rstrip("\r\n").split("\t")
    if len(cells) != len(header):
        values = dict(zip(header, cells, strict=False))
        return _Row(number, values, f"line {number}: {len(cells)} columns, the header has {len(header)}")
    return _Row(number, dict(zip(header, cells, strict=True)))


def _emit(
    group: list[_Row], marketplace_id: str, skip_through: int, finished: set[str]
) -> Iterator[ReportOrder | UnreadableOrder]:
    first, last = group[0].line, group[-1].line
    if last <= skip_through:
        finished.add(group[0].order_id)
        return
    order_id = group[0].order_id
    errors = [row.error for row in group if row.error]
    if order_id in finished:
        # Why this matters: an order's rows apart would give two partial orders; the API gives the whole one.
        errors.append(f"line {first}: rows of this order are not next to its other rows")
    finished.add(order_id)
    if not errors:
        try:
            yield ReportOrder(_order(group, marketplace_id), first, last)
            return
        except _RowError as exc:
            errors.append(str(exc))
    readable_id = order_id if order_id and order_id.isprintable() and len(order_id) <= MAX_ORDER_ID else None
    yield UnreadableOrder(readable_id, first, last, tuple(errors))


def _order(group: Sequence[_Row], marketplace_id: str) -> Order:
    head = group[0]
    status_word = _text(head, "order-status")
    status = _STATUSES.get(status_word.replace(" ", "").lower())
    if status is None:
        raise _RowError(f"line {head.line}: order-status is not a status this app knows")
    currency = next((_text(row, "currency") for row in group if _text(row, "currency")), "") or None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise _RowError(f"line {head.line}: currency is not a three-letter code")
    lines = tuple(_line(row, index, currency) for index, row in enumerate(group, start=1))
    totals = _totals(group, currency)
    try:
        return Order(
            order_id=head.order_id,
            marketplace_id=marketplace_id,
            marketplace_name=_text(head, "sales-channel") or None,
            created=_time(head, "purchase-date"),
            last_updated=max(_time(row, "last-updated-date") for row in group),
            status=status,
            amazon_status=status.value,
            fulfillment_channel=_CHANNELS.get(_text(head, "fulfillment-channel").lower()),
            currency=currency.upper() if currency else None,
            grand_total=totals[0],
            shipping=totals[1],
            ship_to=_address(head),
            is_business=_text(head, "is-business-order").lower() == "true",
            lines=lines,
        )
    except ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False)[:3])
        raise _RowError(f"line {head.line}: the order is not valid ({where})") from None


def _line(row: _Row, index: int, currency: str | None) -> OrderLine:
    sku = _text(row, "sku")
    if not sku:
        raise _RowError(f"line {row.line}: sku is empty")
    quantity = _integer(row, "quantity")
    price = _amount(row, "item-price")
    item_status = _text(row, "item-status").lower()
    discount = _amount(row, "item-promotion-discount")
    unit = (price / quantity).quantize(Decimal("0.01")) if price is not None and quantity > 0 else None
    return OrderLine(
        order_item_id=f"{LINE_ID_PREFIX}{index}",
        seller_sku=sku,
        asin=_text(row, "asin") or None,
        title=_text(row, "product-name") or None,
        quantity=quantity,
        quantity_shipped=quantity if item_status == "shipped" else None,
        quantity_cancelled=quantity if item_status == "cancelled" else None,
        unit_price=_money(unit, currency),
        tax=_money(_amount(row, "item-tax"), currency),
        discount=_money(abs(discount), currency) if discount else None,
    )


def _totals(group: Sequence[_Row], currency: str | None) -> tuple[Money | None, Money | None]:
    """(grand total, shipping): what the buyer paid, as Amazon's proceeds add it up."""
    if currency is None:
        return None, None
    total = shipping = Decimal(0)
    for row in group:
        total += sum((_amount(row, name) or Decimal(0) for name in _AMOUNTS), Decimal(0))
        total -= sum((abs(_amount(row, name) or Decimal(0)) for name in _DISCOUNTS), Decimal(0))
        shipping += _amount(row, "shipping-price") or Decimal(0)
    return _money(total, currency), _money(shipping, currency)


def _address(row: _Row) -> Address | None:
    parts = {
        "city": _text(row, "ship-city") or None,
        "state_or_region": _text(row, "ship-state") or None,
        "postal_code": _text(row, "ship-postal-code") or None,
        "country_code": _text(row, "ship-country") or None,
    }
    return Address(**parts) if any(parts.values()) else None


def _money(amount: Decimal | None, currency: str | None) -> Money | None:
    if amount is None or currency is None:
        return None
    return Money(amount=amount, currency=currency.upper())


def _text(row: _Row, column: str) -> str:
    return row.values.get(column, "").strip()


def _time(row: _Row, column: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(_text(row, column).replace("Z", "+00:00")))
    except ValueError:
        raise _RowError(f"line {row.line}: {column} is not an ISO 8601 time") from None


def _integer(row: _Row, column: str) -> int:
    text = _text(row, column)
    if not text.isdigit():
        raise _RowError(f"line {row.line}: {column} is not a whole number")
    return int(text)


def _amount(row: _Row, column: str) -> Decimal | None:
    text = _text(row, column)
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _RowError(f"line {row.line}: {column} is not a number") from None
    if not value.is_finite():
        raise _RowError(f"line {row.line}: {column} is not a number")
    return value
