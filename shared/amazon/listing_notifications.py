"""The listing notifications' payloads, read into shared/model/listing_events.py:
LISTINGS_ITEM_STATUS_CHANGE, LISTINGS_ITEM_ISSUES_CHANGE (payload versions 1.0 and 2023-12-13) and
LISTINGS_ITEM_MFN_QUANTITY_CHANGE, as Amazon's published notification schemas define them.

Amazon's quirks, each with why it matters:
- all three are PascalCase, and the SKU key is `Sku` (FBA_INVENTORY_AVAILABILITY_CHANGES says `SKU`);
- the status schema's enum spells the type LISTINGS_ITEM_STATUS_CHANGED, its example and the subscription
  LISTINGS_ITEM_STATUS_CHANGE: we subscribe to, and route, the name without the D;
- MarketplaceId is optional in the status and issues schemas, but a listing is per marketplace and we cannot
  tell which one is meant without it: such a payload is malformed for us;
- the MFN quantity names no marketplace (the merchant quantity is per seller and channel), only a
  FulfillmentChannelCode;
- the two issues payload versions differ only in EnforcementActions, which we do not read.

Lenient on fields we do not use (Asin, CreatedDate, EnforcementActions, ...), strict on those we do.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.amazon.notifications import MalformedNotification, NotificationEnvelope
from shared.model.listing_events import ListingIssuesChange, ListingStatusChange, MfnQuantityChange

LISTINGS_ITEM_STATUS_CHANGE = "LISTINGS_ITEM_STATUS_CHANGE"
LISTINGS_ITEM_ISSUES_CHANGE = "LISTINGS_ITEM_ISSUES_CHANGE"
LISTINGS_ITEM_MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
LISTING_NOTIFICATION_TYPES = (
    LISTINGS_ITEM_STATUS_CHANGE,
    LISTINGS_ITEM_ISSUES_CHANGE,
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE,
)
MAX_SKU = 200  # Amazon's seller SKUs have at most 40 characters; anything far longer did not come from Amazon


class _Pascal(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


M = TypeVar("M", bound=_Pascal)


class _Listing(_Pascal):
    seller_id: str = Field(alias="SellerId", min_length=1, max_length=64)
    marketplace_id: str = Field(alias="MarketplaceId", min_length=1, max_length=20)
    sku: str = Field(alias="Sku", min_length=1, max_length=MAX_SKU)


class _StatusPayload(_Listing):
    # A status Amazon adds later is kept as text rather than refused: only DELETED changes what we do.
    status: list[str] = Field(alias="Status", max_length=10)


class _IssuesPayload(_Listing):
    severities: list[Literal["NONE", "ERROR", "WARNING"]] = Field(
        alias="Severities", min_length=1, max_length=3
    )


class _MfnQuantityPayload(_Pascal):
    seller_id: str = Field(alias="SellerId", min_length=1, max_length=64)
    channel: str = Field(alias="FulfillmentChannelCode", min_length=1, max_length=64)
    sku: str = Field(alias="Sku", min_length=1, max_length=MAX_SKU)
    quantity: int = Field(alias="Quantity", ge=0)


def parse_status_change(envelope: NotificationEnvelope) -> ListingStatusChange:
    payload = _validate(_StatusPayload, envelope)
    return ListingStatusChange(
        payload.seller_id, payload.sku, payload.marketplace_id, frozenset(payload.status), envelope.event_time
    )


def parse_issues_change(envelope: NotificationEnvelope) -> ListingIssuesChange:
    payload = _validate(_IssuesPayload, envelope)
    return ListingIssuesChange(
        payload.seller_id,
        payload.sku,
        payload.marketplace_id,
        frozenset(payload.severities),
        envelope.event_time,
    )


def parse_mfn_quantity_change(envelope: NotificationEnvelope) -> MfnQuantityChange:
    payload = _validate(_MfnQuantityPayload, envelope)
    return MfnQuantityChange(
        payload.seller_id, payload.sku, payload.channel, payload.quantity, envelope.event_time
    )


def _validate(model: type[M], envelope: NotificationEnvelope) -> M:
    """The payload as `model`, or MalformedNotification naming the fields (never their values)."""
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        fields = "; ".join(
            "Payload." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)[:3]
        )
        raise MalformedNotification(f"invalid {envelope.notification_type} payload: {fields}") from None
