"""One SKU's stock in Amazon's fulfillment network, in the terms getInventorySummaries and the
FBA_INVENTORY_AVAILABILITY_CHANGES notification use (shared by the emulator and the notification builder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.amazon_samples import iso


@dataclass
class Stock:
    """One SKU's FBA stock in one marketplace (every quantity the summaries and notifications report)."""

    seller_sku: str
    marketplace_id: str
    asin: str
    fn_sku: str
    product_name: str
    fulfillable: int = 0
    inbound_working: int = 0
    inbound_shipped: int = 0
    inbound_receiving: int = 0
    pending_customer_order: int = 0
    pending_transshipment: int = 0
    fc_processing: int = 0
    researching: int = 0
    unfulfillable: int = 0
    last_updated: datetime = field(default_factory=lambda: datetime.min)

    @property
    def reserved(self) -> int:
        return self.pending_customer_order + self.pending_transshipment + self.fc_processing

    @property
    def total(self) -> int:
        inbound = self.inbound_working + self.inbound_shipped + self.inbound_receiving
        return self.fulfillable + self.unfulfillable + self.reserved + self.researching + inbound

    def summary(self, details: bool) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "asin": self.asin,
            "fnSku": self.fn_sku,
            "sellerSku": self.seller_sku,
            "condition": "NewItem",
        }
        if details:
            summary["inventoryDetails"] = {
                "fulfillableQuantity": self.fulfillable,
                "inboundWorkingQuantity": self.inbound_working,
                "inboundShippedQuantity": self.inbound_shipped,
                "inboundReceivingQuantity": self.inbound_receiving,
                "reservedQuantity": {
                    "totalReservedQuantity": self.reserved,
                    "pendingCustomerOrderQuantity": self.pending_customer_order,
                    "pendingTransshipmentQuantity": self.pending_transshipment,
                    "fcProcessingQuantity": self.fc_processing,
                },
                "researchingQuantity": {
                    "totalResearchingQuantity": self.researching,
                    "researchingQuantityBreakdown": [
                        {"name": "researchingQuantityInShortTerm", "quantity": self.researching},
                        {"name": "researchingQuantityInMidTerm", "quantity": 0},
                        {"name": "researchingQuantityInLongTerm", "quantity": 0},
                    ],
                },
                "unfulfillableQuantity": {
                    "totalUnfulfillableQuantity": self.unfulfillable,
                    "customerDamagedQuantity": self.unfulfillable,
                    "warehouseDamagedQuantity": 0,
                    "distributorDamagedQuantity": 0,
                    "carrierDamagedQuantity": 0,
                    "defectiveQuantity": 0,
                    "expiredQuantity": 0,
                },
            }
        summary["lastUpdatedTime"] = iso(self.last_updated)
        summary["productName"] = self.product_name
        summary["totalQuantity"] = self.total
        return summary
