"""Listings Items API 2021-08-01: read a listing's productType, patch its merchant quantity and offer price.

Amazon's quirks, each with why it matters:
- a patch needs the listing's `productType` (400 without it), and the type cannot be guessed: it is read once
  with getListingsItem and cached by the caller;
- a readable but wrong patch is not an HTTP error: it is 200 with `status: INVALID` and `issues` (code, message,
  severity), and nothing changes; the caller decides (dead-letter with Amazon's words);
- a patch for a SKU Amazon has no listing for is ACCEPTED and creates an offer-only listing that nobody can buy,
  so a SKU getListingsItem does not know (404) is never patched;
- `fulfillment_availability` (merchant quantity under channel "DEFAULT") and `purchasable_offer` (price per
  marketplace) are patched with `merge`: their entries are keyed by channel code and marketplace id, and
  `replace` would drop the FBA channel's entry or the other marketplaces' offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.errors import SpApiNotFound, SpApiPermanentError
from shared.model.listings import ListingKey, Price

LISTINGS_2021 = SpApi(
    "sp_api.api.listings_items.listings_items_2021_08_01", "ListingsItemsV20210801", "2021-08-01"
)
MERCHANT_CHANNEL = "DEFAULT"  # Amazon's fulfillment_channel_code for merchant-fulfilled stock
# A seller SKU as an operator may name one: Amazon allows up to 40 characters; we take printable ASCII without
# leading or trailing spaces (what a spreadsheet or a shell can carry unchanged into a URL, a filter, a log).
SELLER_SKU_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,38}[\x21-\x7e])?$"

SubmissionStatus = Literal["ACCEPTED", "INVALID", "VALID"]


@dataclass(frozen=True)
class ListingIssue:
    code: str
    message: str
    severity: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Submission:
    status: SubmissionStatus
    submission_id: str
    issues: tuple[ListingIssue, ...] = ()

    @property
    def errors(self) -> tuple[ListingIssue, ...]:
        return tuple(issue for issue in self.issues if issue.severity == "ERROR")


class ListingsApi:
    def __init__(self, session: SpApiSession, seller_id: str) -> None:
        self._session = session
        self._seller_id = seller_id

    def product_type(self, key: ListingKey) -> str | None:
        """The listing's productType in its marketplace, or None when Amazon has no listing for the SKU there."""
        try:
            response = self._session.call(
                "getListingsItem",
                LISTINGS_2021,
                lambda client: client.get_listings_item(
                    self._seller_id, key.sku, marketplaceIds=[key.marketplace_id], includedData=["summaries"]
                ),
            )
        except SpApiNotFound:
            return None
        for summary in (response.payload or {}).get("summaries") or []:
            if isinstance(summary, dict) and summary.get("marketplaceId") == key.marketplace_id:
                product_type = summary.get("productType")
                return str(product_type) if product_type else None
        return None

    def patch(
        self, key: ListingKey, product_type: str, *, quantity: int | None = None, price: Price | None = None
    ) -> Submission:
        """One patchListingsItem with the merchant quantity and/or the offer price of one marketplace."""
        patches = listing_patches(key.marketplace_id, quantity=quantity, price=price)
        if not patches:
            raise ValueError("nothing to patch")
        response = self._session.call(
            "patchListingsItem",
            LISTINGS_2021,
            lambda client: client.patch_listings_item(
                self._seller_id,
                key.sku,
                marketplaceIds=[key.marketplace_id],
                body={"productType": product_type, "patches": patches},
            ),
        )
        return submission_of(response.payload)


def listing_patches(
    marketplace_id: str, *, quantity: int | None, price: Price | None
) -> list[dict[str, Any]]:
    """JSON Patch operations for stock and price, in the attribute format patches and feeds share."""
    patches: list[dict[str, Any]] = []
    if quantity is not None:
        patches.append(
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": quantity}],
            }
        )
    if price is not None:
        patches.append(
            {
                "op": "merge",
                "path": "/attributes/purchasable_offer",
                "value": [
                    {
                        "marketplace_id": marketplace_id,
                        "currency": price.currency,
                        "our_price": [{"schedule": [{"value_with_tax": _number(price.amount)}]}],
                    }
                ],
            }
        )
    return patches


def submission_of(payload: Any) -> Submission:
    if not isinstance(payload, dict) or payload.get("status") not in ("ACCEPTED", "INVALID", "VALID"):
        raise SpApiPermanentError("patchListingsItem answered without a submission status")
    return Submission(
        payload["status"], str(payload.get("submissionId") or ""), issues_of(payload.get("issues"))
    )


def issues_of(raw: Any) -> tuple[ListingIssue, ...]:
    items: Sequence[Any] = raw if isinstance(raw, list) else []
    return tuple(
        ListingIssue(
            str(item.get("code", "")), str(item.get("message", ""))[:300], str(item.get("severity", ""))
        )
        for item in items
        if isinstance(item, dict)
    )


def _number(amount: Decimal) -> float | int:
    """JSON has no decimal type; the SDK serialises floats, and prices have at most a few decimals."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)
