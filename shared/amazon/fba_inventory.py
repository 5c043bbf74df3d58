"""FBA Inventory API v1 getInventorySummaries and the FBA_INVENTORY_AVAILABILITY_CHANGES notification, read
into FbaQuantity.

Amazon's quirks, each with why it matters:
- summaries are per marketplace (granularityType=Marketplace, granularityId = the one marketplaceId), 50 a
  page, and a page's nextToken expires 30 seconds after it was issued: a sweep reads the pages back to back
  (the plan allows 2 requests/s) and starts over rather than resuming a stale token;
- `details=true` is needed for fulfillableQuantity (without it only totalQuantity comes back);
- the notification is PascalCase, one entry per marketplace the SKU is stocked for; its EventTime is the
  version (a late, older notification never overwrites a newer quantity).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.errors import SpApiPermanentError
from shared.amazon.notifications import MalformedNotification, NotificationEnvelope
from shared.model.inventory import FbaQuantity
from shared.timeutil import as_utc

FBA_INVENTORY = SpApi("sp_api.api.inventories.inventories", "Inventories")
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
MAX_MARKETPLACES = 50


class FbaInventoryApi:
    def __init__(self, session: SpApiSession) -> None:
        self._session = session

    def summaries(self, marketplace_id: str) -> Iterator[FbaQuantity]:
        """Every SKU's fulfillable quantity in the marketplace, page after page."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "details": True,
                "granularityType": "Marketplace",
                "granularityId": marketplace_id,
                "marketplaceIds": [marketplace_id],
            }
            if token:
                params["nextToken"] = token
            response = self._session.call(
                "getInventorySummaries", FBA_INVENTORY, functools.partial(_summaries_page, params=params)
            )
            payload = response.payload or {}
            for raw in payload.get("inventorySummaries") or []:
                quantity = _summary(raw, marketplace_id)
                if quantity is not None:
                    yield quantity
            token = response.next_token
            if not token:
                return


def _summaries_page(client: Any, *, params: dict[str, Any]) -> Any:
    return client.get_inventory_summary_marketplace(**params)


def _summary(raw: Any, marketplace_id: str) -> FbaQuantity | None:
    """A summary with its SKU, fulfillable quantity and time; one Amazon sends without them is skipped."""
    if not isinstance(raw, dict) or not raw.get("sellerSku"):
        return None
    details = raw.get("inventoryDetails") or {}
    fulfillable = details.get("fulfillableQuantity")
    updated = raw.get("lastUpdatedTime")
    if not isinstance(fulfillable, int) or not isinstance(updated, str):
        return None
    try:
        as_of = as_utc(datetime.fromisoformat(updated.replace("Z", "+00:00")))
    except ValueError:
        raise SpApiPermanentError(
            "getInventorySummaries answered with an unreadable lastUpdatedTime"
        ) from None
    total = raw.get("totalQuantity")
    return FbaQuantity(
        str(raw["sellerSku"]), marketplace_id, fulfillable, as_of, total if isinstance(total, int) else None
    )


# --- FBA_INVENTORY_AVAILABILITY_CHANGES (Amazon's FBAInventoryAvailabilityChangeNotification schema) ---
class _Pascal(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class _Inventory(_Pascal):
    fulfillable: int = Field(alias="Fulfillable", ge=0)


class _ByMarketplace(_Pascal):
    marketplace_id: str = Field(alias="MarketplaceId", min_length=1, max_length=20)
    inventory: _Inventory = Field(alias="FulfillmentInventory")


class FbaAvailability(_Pascal):
    seller_id: str = Field(alias="SellerId", max_length=64)
    sku: str = Field(alias="SKU", min_length=1, max_length=200)
    by_marketplace: list[_ByMarketplace] = Field(
        alias="FulfillmentInventoryByMarketplace", max_length=MAX_MARKETPLACES
    )


def parse_fba_availability(envelope: NotificationEnvelope) -> tuple[str, list[FbaQuantity]]:
    """The seller and the SKU's fulfillable quantity per marketplace, as of the notification's EventTime."""
    try:
        payload = FbaAvailability.model_validate(envelope.payload)
    except ValidationError as exc:
        fields = "; ".join(
            ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)[:3]
        )
        raise MalformedNotification(
            f"invalid {FBA_INVENTORY_AVAILABILITY_CHANGES} payload: {fields}"
        ) from None
    return payload.seller_id, [
        FbaQuantity(payload.sku, entry.marketplace_id, entry.inventory.fulfillable, envelope.event_time)
        for entry in payload.by_marketplace
    ]
