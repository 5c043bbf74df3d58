"""What Amazon tells us about a listing on its own initiative: its status, its issues, its merchant quantity.

These come from LISTINGS_ITEM_STATUS_CHANGE, LISTINGS_ITEM_ISSUES_CHANGE and LISTINGS_ITEM_MFN_QUANTITY_CHANGE
notifications, read by the Amazon connector; each carries the notification's EventTime as `as_of`, the version
that keeps a late or repeated notification from overwriting newer recorded state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DELETED = "DELETED"  # a status Amazon lists for a deleted listing (the other two: BUYABLE, DISCOVERABLE)
BUYABLE = "BUYABLE"
ERROR = "ERROR"  # an issue severity; WARNING and NONE are the others
WARNING = "WARNING"
MFN_CHANNEL = "DEFAULT"  # the merchant-fulfilled channel the listings flow sends quantities to


@dataclass(frozen=True)
class ListingStatusChange:
    seller_id: str
    sku: str
    marketplace_id: str
    statuses: frozenset[str]  # an empty set: the listing exists but is neither buyable nor discoverable
    as_of: datetime

    @property
    def deleted(self) -> bool:
        return DELETED in self.statuses


@dataclass(frozen=True)
class ListingIssuesChange:
    seller_id: str
    sku: str
    marketplace_id: str
    severities: frozenset[str]  # {"NONE"} when no issue affects the listing
    as_of: datetime


@dataclass(frozen=True)
class MfnQuantityChange:
    """Amazon's merchant-fulfilled quantity of a SKU in one fulfillment channel. Amazon names no marketplace:
    the quantity is the seller's, shared by the marketplaces the listing is offered in."""

    seller_id: str
    sku: str
    channel: str
    quantity: int
    as_of: datetime
