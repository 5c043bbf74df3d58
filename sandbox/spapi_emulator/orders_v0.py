"""Orders API v0 ``confirmShipment``: the seller tells Amazon a package of an MFN order has left.

After ``ordersV0.json`` (v0's write operations are not deprecated): 204 on success; 400 for an order Amazon
fulfils (AFN), for units that are not left to ship (pending, cancelled, already shipped), for unknown order
item ids and for malformed bodies; 404 for an unknown order. A confirmation updates the stored v2026 order
the way Amazon does: ``quantityFulfilled`` per item, ``fulfillmentStatus`` PARTIALLY_SHIPPED / SHIPPED, a new
package, and ``lastUpdatedTime``. Every attempt is logged so tests can assert "never confirmed twice".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sandbox.amazon_samples import MARKETPLACES
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, ApiError, invalid_input, not_found
from sandbox.spapi_emulator.orders import OrderStore
from sandbox.spapi_emulator.params import (
    iso,
    json_body,
    require_fields,
    time_value,
)
from sandbox.spapi_emulator.routes import Access, Route

CONFIRM_SHIPMENT: Final = "confirmShipment"
CONFIRM_PATH: Final = "/orders/v0/orders/{orderId}/shipmentConfirmation"
SHIPPABLE_STATUSES: Final = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED"})


@dataclass(frozen=True)
class ShipmentConfirmation:
    """One confirmShipment call as the emulator received it, and how it ended (204 or an error)."""

    order_id: str
    package_reference_id: str | None
    carrier_code: str | None
    tracking_number: str | None
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)
    status: int
    error_code: str | None
    received_at: datetime


class ShipmentsApi:
    def __init__(self, ctx: EmulatorContext, orders: OrderStore) -> None:
        self._ctx = ctx
        self._orders = orders
        self.attempts: list[ShipmentConfirmation] = []

    def routes(self) -> list[Route]:
        return [Route(CONFIRM_SHIPMENT, "POST", CONFIRM_PATH, Access.SELLER, self.confirm_shipment)]

    def reset(self) -> None:
        with self._ctx.lock:
            self.attempts.clear()

    @property
    def confirmations(self) -> list[ShipmentConfirmation]:
        """The accepted (204) confirmations, in arrival order."""
        with self._ctx.lock:
            return [attempt for attempt in self.attempts if attempt.status == 204]

    def confirmed_quantities(self, order_id: str) -> dict[str, int]:
        """Units confirmed per order item over all accepted calls for `order_id`."""
        totals: dict[str, int] = {}
        for attempt in self.confirmations:
            if attempt.order_id == order_id:
                for item_id, quantity in attempt.items:
                    totals[item_id] = totals.get(item_id, 0) + quantity
        return totals

    def confirm_shipment(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        order_id = path["orderId"]
        detail: Mapping[str, Any] = {}
        try:
            body = json_body(request)
            raw_detail = body.get("packageDetail")
            detail = raw_detail if isinstance(raw_detail, dict) else {}
            with self._ctx.lock:
                self._confirm(order_id, body)
        except ApiError as error:
            self._log(order_id, detail, error.status, error.code)
            raise
        self._log(order_id, detail, 204, None)
        return EmulatorResponse(204)

    def _confirm(self, order_id: str, body: Mapping[str, Any]) -> None:
        require_fields(body, "marketplaceId", "packageDetail")
        detail = body["packageDetail"]
        if not isinstance(detail, dict):
            raise invalid_input(UNPARSEABLE_BODY, "packageDetail must be an object.")
        require_fields(
            detail,
            "packageReferenceId",
            "carrierCode",
            "trackingNumber",
            "shipDate",
            "orderItems",
            where="packageDetail",
        )
        reference = str(detail["packageReferenceId"])
        if not reference.isdigit() or int(reference) <= 0:
            raise invalid_input("packageReferenceId must be a positive number.")
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            raise invalid_input("carrierName is required when carrierCode is Other.")
        ship_date = time_value(detail["shipDate"], "shipDate")
        wanted = _requested_quantities(detail["orderItems"])

        order = self._orders.get(order_id)
        if order is None:
            raise not_found(f"Order {order_id} was not found.")
        marketplace_id = order["salesChannel"]["marketplaceId"]
        if body["marketplaceId"] != marketplace_id:
            raise invalid_input(f"Order {order_id} does not belong to marketplace {body['marketplaceId']}.")
        fulfillment = order.get("fulfillment") or {}
        # Why this matters: Amazon ships FBA orders itself; a confirmation for one is a mapping bug upstream.
        if fulfillment.get("fulfilledBy") == "AMAZON":
            raise invalid_input(
                f"Order {order_id} is fulfilled by Amazon and cannot be confirmed by the seller."
            )
        status = fulfillment.get("fulfillmentStatus")
        if status not in SHIPPABLE_STATUSES:
            raise invalid_input(f"Order {order_id} is {status} and has nothing left to ship.")
        if any(p.get("packageReferenceId") == reference for p in order.get("packages", [])):
            raise invalid_input(f"packageReferenceId {reference} was already confirmed for order {order_id}.")
        items = {str(item["orderItemId"]): item for item in order["orderItems"]}
        unknown = sorted(set(wanted) - set(items))
        if unknown:
            raise invalid_input(f"Unknown orderItemId(s) for order {order_id}: {', '.join(unknown)}.")
        for item_id, quantity in wanted.items():
            left = int(items[item_id].get("fulfillment", {}).get("quantityUnfulfilled", 0))
            if quantity > left:
                raise invalid_input(
                    f"Quantity {quantity} for orderItemId {item_id} exceeds the {left} unit(s) left to ship."
                )
        self._apply(order, detail, reference, ship_date, wanted)

    def _apply(
        self,
        order: dict[str, Any],
        detail: Mapping[str, Any],
        reference: str,
        ship_date: datetime,
        wanted: Mapping[str, int],
    ) -> None:
        now = self._ctx.now().replace(microsecond=0)
        for item in order["orderItems"]:
            shipped = wanted.get(str(item["orderItemId"]), 0)
            fulfillment = item.setdefault("fulfillment", {})
            fulfillment["quantityFulfilled"] = int(fulfillment.get("quantityFulfilled", 0)) + shipped
            fulfillment["quantityUnfulfilled"] = int(fulfillment.get("quantityUnfulfilled", 0)) - shipped
        remaining = sum(int(item["fulfillment"]["quantityUnfulfilled"]) for item in order["orderItems"])
        order["fulfillment"]["fulfillmentStatus"] = "SHIPPED" if remaining == 0 else "PARTIALLY_SHIPPED"
        package: dict[str, Any] = {
            "packageReferenceId": reference,
            "createdTime": iso(now),
            "packageStatus": {"status": "SHIPPED", "detailedStatus": "PICKED_UP"},
            "carrier": str(detail.get("carrierName") or detail["carrierCode"]),
            "shipTime": iso(ship_date),
            "trackingNumber": str(detail["trackingNumber"]),
            "packageItems": [{"orderItemId": item_id, "quantity": qty} for item_id, qty in wanted.items()],
        }
        if detail.get("shippingMethod"):
            package["shippingService"] = str(detail["shippingMethod"])
        marketplace = MARKETPLACES.get(order["salesChannel"]["marketplaceId"])
        if marketplace is not None:
            package["shipFromAddress"] = dict(marketplace.ship_from)
        order.setdefault("packages", []).append(package)
        order["lastUpdatedTime"] = iso(now)
        self._orders.put(order)

    def _log(self, order_id: str, detail: Mapping[str, Any], status: int, code: str | None) -> None:
        raw_items = detail.get("orderItems")
        items = tuple(
            (str(entry.get("orderItemId")), int(entry.get("quantity", 0)))
            for entry in (raw_items if isinstance(raw_items, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("quantity", 0), int)
        )
        reference = detail.get("packageReferenceId")
        attempt = ShipmentConfirmation(
            order_id=order_id,
            package_reference_id=str(reference) if reference is not None else None,
            carrier_code=detail.get("carrierCode"),
            tracking_number=detail.get("trackingNumber"),
            items=items,
            status=status,
            error_code=code,
            received_at=self._ctx.now(),
        )
        with self._ctx.lock:
            self.attempts.append(attempt)


def _requested_quantities(entries: Any) -> dict[str, int]:
    if not isinstance(entries, list) or not entries:
        raise invalid_input(UNPARSEABLE_BODY, "packageDetail.orderItems must be a non-empty list.")
    wanted: dict[str, int] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("orderItemId"):
            raise invalid_input(UNPARSEABLE_BODY, "Each order item needs an orderItemId and a quantity.")
        quantity = entry.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise invalid_input(
                f"quantity for orderItemId {entry['orderItemId']} must be a positive integer."
            )
        item_id = str(entry["orderItemId"])
        wanted[item_id] = wanted.get(item_id, 0) + quantity
    return wanted
