"""Orders API v0 confirmShipment: tell Amazon a package of a merchant-fulfilled order has left.

v0's write operations are not deprecated (only its reads are). Amazon's quirks, each with why it matters:
- 204 with no body on success; 400 for an FBA order, for units not left to ship, for a packageReferenceId the
  order already has, for unknown order item ids; 404 for an unknown order;
- `packageReferenceId` must be a positive number, unique per order: the caller derives it from the package's
  place in the order (1, 2, ...), so a confirmation sent again after a lost answer names the same package and
  Amazon refuses the repeat instead of recording a second package;
- `carrierCode` is required in every marketplace; "Other" needs `carrierName`.
"""

from __future__ import annotations

from shared.amazon.client import SpApi, SpApiSession
from shared.model.shipments import Package
from shared.timeutil import iso_z

ORDERS_V0 = SpApi("sp_api.api.orders.orders_v0", "OrdersV0", "v0")
OTHER_CARRIER = "Other"


class ShipmentsApi:
    def __init__(self, session: SpApiSession) -> None:
        self._session = session

    def confirm(self, order_id: str, marketplace_id: str, package: Package) -> None:
        """confirmShipment for one package; an error raises (SpApiPermanentError carries Amazon's message)."""
        detail: dict[str, object] = {
            "packageReferenceId": package.reference_id,
            "carrierCode": package.carrier_code,
            "trackingNumber": package.tracking_number,
            "shipDate": iso_z(package.ship_date),
            "orderItems": [
                {"orderItemId": item_id, "quantity": quantity} for item_id, quantity in package.items
            ],
        }
        if package.carrier_name:
            detail["carrierName"] = package.carrier_name
        if package.shipping_method:
            detail["shippingMethod"] = package.shipping_method
        self._session.call(
            "confirmShipment",
            ORDERS_V0,
            lambda client: client.confirm_shipment(
                order_id, marketplaceId=marketplace_id, packageDetail=detail
            ),
        )
