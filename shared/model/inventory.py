"""Stock as both directions exchange it: Amazon's FBA quantities for the CRM, and the inventory-changes topic's
message that tells other subscribers about every applied change (no buyer data: SKU, marketplace, quantity)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.timeutil import iso_z


@dataclass(frozen=True)
class FbaQuantity:
    """One SKU's stock in Amazon's fulfillment network in one marketplace, as of `as_of`."""

    sku: str
    marketplace_id: str
    fulfillable: int
    as_of: datetime  # the notification's EventTime, or the summary's lastUpdatedTime
    total: int | None = None


class ChangeSource(StrEnum):
    CRM = "crm"  # Dynamics stock applied to the Amazon listing (merchant-fulfilled quantity)
    AMAZON_FBA = "amazon-fba"  # Amazon's fulfillable FBA stock applied to the CRM product
    # Amazon's merchant-fulfilled quantity changed on Amazon's side (a sale, an edit in Seller Central); the CRM
    # is not changed by it: subscribers (a warehouse system, an operator's report) decide what it means.
    AMAZON_MFN = "amazon-mfn"


@dataclass(frozen=True)
class InventoryChange:
    """A message of the inventory-changes topic."""

    sku: str
    marketplace_id: str
    quantity: int
    source: ChangeSource
    time: datetime  # when the change happened where it came from

    def body(self) -> bytes:
        return json.dumps(
            {
                "sku": self.sku,
                "marketplaceId": self.marketplace_id,
                "quantity": self.quantity,
                "source": self.source.value,
                "time": iso_z(self.time),
            },
            ensure_ascii=False,
        ).encode("utf-8")

    @property
    def identity(self) -> str:
        """Stable per change: publishing the same change twice is dropped by duplicate detection."""
        return f"{self.source.value}|{self.marketplace_id}|{self.sku}|{iso_z(self.time)}|{self.quantity}"
