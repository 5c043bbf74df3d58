"""The lines of an Amazon sales order in the CRM, for its shipment confirmation: Amazon's order item id, the
quantity ordered and the quantity the CRM says was shipped (read by $filter on the order's Amazon id, which
may hold characters Dataverse cannot address by key)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.model.shipments import ShippedLine


class CrmShipments:
    def __init__(self, client: DataverseClient, *, order_column: str, item_column: str) -> None:
        self._client = client
        self._order_column = order_column  # the line's Amazon order id (mapping: salesorderdetail.order_id)
        self._item_column = item_column  # the line's Amazon order item id

    def lines(self, order_id: str) -> list[ShippedLine]:
        item_column = self._item_column
        rows = self._client.query(
            "salesorderdetails",
            filter=odata.eq(self._order_column, order_id),
            select=(item_column, "quantity", "quantityshipped"),
        )
        lines = []
        for row in rows:
            item_id = row.get(item_column)
            if not item_id:
                continue  # a line added in the CRM, not one of Amazon's
            lines.append(
                ShippedLine(
                    str(item_id), _whole(row.get("quantity")) or 0, _whole(row.get("quantityshipped"))
                )
            )
        return lines


def _whole(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except InvalidOperation:
        return None
