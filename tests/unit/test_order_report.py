"""The all-orders flat file -> canonical orders: what a report row means, and what a bad or cut-off file does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder
from sandbox.order_report import all_orders_lines
from shared.amazon.order_report import (
    LINE_ID_PREFIX,
    ReportFormatError,
    ReportOrder,
    UnreadableOrder,
    read_all_orders,
)
from shared.model.order import FulfillmentChannel, OrderStatus

US = "ATVPDKIKX0DER"


def _orders(count: int, **options: object) -> list[SampleOrder]:
    return OrderFactory(seed=41).orders(count, marketplace_id=US, **options)


def _lines(orders: list[SampleOrder]) -> list[str]:
    return list(all_orders_lines(order.to_api() for order in orders))


def _read(lines: list[str], skip_through: int = 0) -> list[ReportOrder | UnreadableOrder]:
    return list(read_all_orders(lines, marketplace_id=US, skip_through=skip_through))


def test_each_order_of_the_report_becomes_one_canonical_order_with_a_line_per_row() -> None:
    """Rows of one order make one order: its status, channel, dates, and one line per item with the unit price
    (item-price is the line total), tax and quantities; the marketplace is the report's."""
    orders = _orders(6, status="SHIPPED", fulfilled_by="MERCHANT")
    read = _read(_lines(orders))

    assert all(isinstance(item, ReportOrder) for item in read)
    by_id = {item.order.order_id: item.order for item in read if isinstance(item, ReportOrder)}
    assert set(by_id) == {order.order_id for order in orders}
    for sample in orders:
        order = by_id[sample.order_id]
        assert order.status is OrderStatus.SHIPPED
        assert order.marketplace_id == US
        assert order.fulfillment_channel is FulfillmentChannel.MFN
        assert order.last_updated == sample.last_updated_time
        assert order.buyer is None  # the report carries no buyer: the marketplace's account is the customer
        assert [line.order_item_id for line in order.lines] == [
            f"{LINE_ID_PREFIX}{n}" for n in range(1, len(sample.items) + 1)
        ]
        for line, item in zip(order.lines, sample.items, strict=True):
            assert line.seller_sku == item.product.seller_sku
            assert line.quantity == item.quantity
            assert line.unit_price is not None
            assert line.unit_price.amount == item.unit_price
            assert line.quantity_shipped == item.quantity


def test_the_grand_total_adds_up_what_amazon_s_proceeds_add_up() -> None:
    """Item prices, taxes and shipping, less promotion discounts: the same grand total getOrder shows."""
    orders = _orders(8, status="UNSHIPPED", promotion=True)
    by_id = {
        item.order.order_id: item.order for item in _read(_lines(orders)) if isinstance(item, ReportOrder)
    }
    for sample in orders:
        total = by_id[sample.order_id].grand_total
        assert total is not None
        assert total.amount == Decimal(sample.to_api()["proceeds"]["grandTotal"]["amount"])


def test_a_pending_order_has_no_prices_and_no_currency() -> None:
    """Amazon shows no money for pending orders: the lines have no price, the order no total."""
    [item] = _read(_lines(_orders(1, status="PENDING")))
    assert isinstance(item, ReportOrder)
    assert item.order.currency is None
    assert item.order.grand_total is None
    assert all(line.unit_price is None for line in item.order.lines)


def test_a_row_with_a_bad_value_makes_its_order_unreadable_with_the_line_number_while_the_rest_is_read() -> (
    None
):
    """One item-price that is not a number: that order is reported (line number and column, never the value);
    every other order is read."""
    orders = _orders(5, status="SHIPPED", item_count=1)
    lines = _lines(orders)
    cells = lines[3].split("\t")
    header = lines[0].rstrip("\n").split("\t")
    cells[header.index("item-price")] = "12,O0"
    lines[3] = "\t".join(cells)

    read = _read(lines)

    unreadable = [item for item in read if isinstance(item, UnreadableOrder)]
    assert [(item.order_id, item.first_line) for item in unreadable] == [(orders[2].order_id, 4)]
    assert unreadable[0].errors == ("line 4: item-price is not a number",)
    assert len([item for item in read if isinstance(item, ReportOrder)]) == 4


def test_a_file_cut_off_mid_row_makes_its_last_order_unreadable() -> None:
    """The download ended inside a row (no final newline): the order of that row is reported, not written with
    part of its lines; the orders before it are read."""
    orders = _orders(4, status="SHIPPED", item_count=2)
    lines = _lines(orders)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]

    read = _read(lines)

    assert isinstance(read[-1], UnreadableOrder)
    assert read[-1].order_id == orders[-1].order_id
    assert read[-1].errors == (f"line {len(lines)}: the file ends mid-row",)
    assert all(isinstance(item, ReportOrder) for item in read[:-1])


def test_a_row_with_a_missing_column_is_reported_with_its_line_number() -> None:
    """A row shorter than the header is not guessed at."""
    orders = _orders(2, status="SHIPPED", item_count=1)
    lines = _lines(orders)
    lines[1] = "\t".join(lines[1].split("\t")[:5]) + "\n"
    first, second = _read(lines)
    assert isinstance(first, UnreadableOrder)
    assert first.errors[0].startswith("line 2: 5 columns, the header has ")
    assert isinstance(second, ReportOrder)


def test_rows_of_one_order_apart_from_each_other_are_not_read_as_two_orders() -> None:
    """An order's rows separated by another order's: the late rows are reported instead of a partial order."""
    orders = _orders(2, status="SHIPPED", item_count=2)
    lines = _lines(orders)
    lines = [lines[0], lines[1], lines[3], lines[4], lines[2]]
    read = _read(lines)
    late = [item for item in read if isinstance(item, UnreadableOrder)]
    assert [item.order_id for item in late] == [orders[0].order_id]
    assert "not next to its other rows" in late[0].errors[-1]


def test_a_resumed_read_skips_the_orders_already_applied() -> None:
    """skip_through = the last line of the applied orders: reading starts with the next order."""
    orders = _orders(5, status="SHIPPED", item_count=2)
    everything = _read(_lines(orders))
    done = everything[1]
    assert isinstance(done, ReportOrder)
    rest = _read(_lines(orders), skip_through=done.last_line)
    assert [item.first_line for item in rest] == [item.first_line for item in everything[2:]]


def test_a_file_without_the_report_s_columns_is_refused() -> None:
    """Another report type's header: a format error naming the missing columns."""
    with pytest.raises(ReportFormatError, match="amazon-order-id"):
        _read(["settlement-id\tsettlement-start-date\n", "1\t2\n"])


def test_an_empty_document_has_no_orders() -> None:
    assert _read([]) == []
    assert (
        _read(
            [
                "\t".join(
                    [
                        "amazon-order-id",
                        "purchase-date",
                        "last-updated-date",
                        "order-status",
                        "sku",
                        "quantity",
                    ]
                )
                + "\n"
            ]
        )
        == []
    )
