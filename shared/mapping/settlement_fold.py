"""Settlement rows, one at a time -> what the settlement says about each order (`SettledOrder`).

Memory grows with the number of orders, never with the number of rows: each row is added to its order's
running totals and dropped. An order's rows need not be next to each other (a refund may come pages after the
sale). Rows without an order (subscription fees, reserves) count toward the settlement's totals only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from shared.model.money import ZERO, AmountCategory, CategoryAmounts
from shared.model.settlement import SettledKind, SettledLine, SettledOrder, SettlementRow

NO_ITEM = "order"  # rows of an order that name no item (order-level charges)


@dataclass
class _Line:
    sku: str | None
    quantity: int | None
    amounts: dict[AmountCategory, Decimal] = field(default_factory=dict)


@dataclass
class _Order:
    first_line: int
    lines: dict[tuple[SettledKind, str, str], _Line] = field(default_factory=dict)
    amounts: dict[AmountCategory, Decimal] = field(default_factory=dict)
    sale_amounts: dict[AmountCategory, Decimal] = field(default_factory=dict)
    sale_postings: dict[str, set[datetime | None]] = field(default_factory=dict)


def _add(totals: dict[AmountCategory, Decimal], category: AmountCategory, amount: Decimal) -> None:
    totals[category] = totals.get(category, ZERO) + amount


class SettlementFold:
    def __init__(self) -> None:
        self._orders: dict[str, _Order] = {}
        self.total = ZERO  # of every row read
        self.rows = 0
        self.without_order = ZERO  # rows that name no order

    def add(self, row: SettlementRow) -> None:
        self.rows += 1
        self.total += row.amount
        if not row.order_id:
            self.without_order += row.amount
            return
        order = self._orders.get(row.order_id)
        if order is None:
            order = self._orders[row.order_id] = _Order(row.line)
        group = row.group_id or "none"
        key = (row.kind, group, row.order_item_code or NO_ITEM)
        line = order.lines.get(key)
        if line is None:
            line = order.lines[key] = _Line(row.sku, row.quantity)
        elif line.quantity is None:
            line.quantity = row.quantity
        _add(line.amounts, row.category, row.amount)
        _add(order.amounts, row.category, row.amount)
        if row.kind is SettledKind.SALE:
            _add(order.sale_amounts, row.category, row.amount)
            order.sale_postings.setdefault(group, set()).add(row.posted)

    @property
    def order_count(self) -> int:
        return len(self._orders)

    def settled_orders(self) -> Iterator[SettledOrder]:
        """Every order, in the order the report first names them; each is handed out once and then forgotten
        here, so the orders are never held twice."""
        while self._orders:
            order_id = next(iter(self._orders))
            order = self._orders.pop(order_id)
            yield SettledOrder(
                order_id=order_id,
                first_line=order.first_line,
                lines=tuple(
                    SettledLine(
                        kind, group, item, line.sku, line.quantity, CategoryAmounts.of(line.amounts.items())
                    )
                    for (kind, group, item), line in order.lines.items()
                ),
                amounts=CategoryAmounts.of(order.amounts.items()),
                sale_amounts=CategoryAmounts.of(order.sale_amounts.items()),
                sale_groups=frozenset(order.sale_postings),
                # One shipment paid by two transactions of this report: two posting times for the same group.
                repeated_groups=frozenset(
                    group for group, posted in order.sale_postings.items() if len(posted) > 1
                ),
            )
