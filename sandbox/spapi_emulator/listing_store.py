"""Per-SKU listing state shared by patchListingsItem and JSON_LISTINGS_FEED, and how getListingsItem shows it.

Attributes are kept in Amazon's attribute format (``fulfillment_availability``, ``purchasable_offer``,
``item_name``, ...); summaries, offers and fulfillment availability are derived from them, as Amazon does.
A patch for a SKU Amazon has no item for is accepted and creates an offer-only listing that is not buyable
and carries a "missing item_name" issue (Amazon confirmed this, selling-partner-api-models#2797).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

from sandbox.amazon_samples import CATALOG, MARKETPLACES
from sandbox.listing_notification_samples import (
    listing_issues_notification,
    listing_mfn_quantity_notification,
    listing_status_notification,
)
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.listing_rules import (
    ATTRIBUTE_PATH,
    apply_operation,
    issue,
    offer_entry,
    offer_price,
    product_type_issues,
    validate_attributes,
)
from sandbox.spapi_emulator.params import iso

GET_INCLUDED_DATA: Final = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)
MFN_CHANNEL: Final = "DEFAULT"
AFN_CHANNELS: Final[Mapping[str, str]] = {"US": "AMAZON_NA", "GB": "AMAZON_EU", "DE": "AMAZON_EU"}
# The catalog's product types, as Amazon's product type definitions name them.
PRODUCT_TYPES: Final[Mapping[str, str]] = {
    "HB-BOTTLE-750-BLK": "BOTTLE",
    "KT-BAMBOO-BOARD-3PC": "CUTTING_BOARD",
    "EL-USBC-2M/100W": "ELECTRONIC_CABLE",
    "HT-TOWEL-70x140-SAGE": "TOWEL",
    "KT-POUROVER-02-WHT": "COFFEE_MAKER",
    "EL-LAMP-QI-DIM": "LAMP",
    "SP-YOGA-6MM-LAV": "EXERCISE_MAT",
    "KT-SKILLET-26CM": "SAUTE_FRY_PAN",
    "TY-BLOCKS-100-WOOD": "TOY_BUILDING_BLOCK",
    "AP-SOCKS-MERINO-L-3P": "SOCKS",
    "KT-SILMAT-2PK": "BAKING_MAT",
    "EL-EARBUDS-ANC-CHR": "HEADPHONES",
}

SubmissionStatus = Literal["ACCEPTED", "INVALID", "VALID"]


@dataclass
class Listing:
    sku: str
    product_type: str
    marketplace_ids: list[str]
    attributes: dict[str, list[dict[str, Any]]]
    created: datetime
    last_updated: datetime
    asin: str | None = None
    fn_sku: str | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)

    def quantity(self, channel: str = MFN_CHANNEL) -> int | None:
        for entry in self.attributes.get("fulfillment_availability", []):
            if entry.get("fulfillment_channel_code") == channel:
                quantity = entry.get("quantity")
                return int(quantity) if isinstance(quantity, int) else None
        return None

    def price(self, marketplace_id: str) -> tuple[Decimal, str] | None:
        for offer in self.attributes.get("purchasable_offer", []):
            if offer.get("marketplace_id") == marketplace_id:
                amount = offer_price(offer)
                if amount is not None:
                    return amount, str(offer.get("currency"))
        return None


@dataclass(frozen=True)
class Submission:
    """One listing submission (API patch or feed message) and Amazon's verdict."""

    sku: str
    source: Literal["patchListingsItem", "JSON_LISTINGS_FEED"]
    status: SubmissionStatus
    submission_id: str
    issues: tuple[dict[str, Any], ...]


class ListingStore:
    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._listings: dict[str, Listing] = {}
        self.submissions: list[Submission] = []

    def reset(self) -> None:
        with self._ctx.lock:
            self._listings.clear()
            self.submissions.clear()

    # --- seeding and inspection (test helpers) ------------------------------------------------------------
    def put(
        self,
        sku: str,
        *,
        product_type: str,
        marketplace_ids: Sequence[str],
        title: str,
        asin: str | None = None,
        quantity: int | None = None,
        prices: Mapping[str, Decimal] | None = None,
        fulfilled_by_amazon: bool = False,
    ) -> None:
        """A complete listing in each marketplace: title, condition, stock and a price per marketplace."""
        now = self._ctx.now()
        attributes: dict[str, list[dict[str, Any]]] = {
            "item_name": [
                {"value": title, "language_tag": "en_US", "marketplace_id": m} for m in marketplace_ids
            ],
            "condition_type": [{"value": "new_new", "marketplace_id": m} for m in marketplace_ids],
        }
        if quantity is not None:
            country = MARKETPLACES[marketplace_ids[0]].country_code
            channel = AFN_CHANNELS[country] if fulfilled_by_amazon else MFN_CHANNEL
            entry: dict[str, Any] = {"fulfillment_channel_code": channel}
            if not fulfilled_by_amazon:  # Amazon reports FBA stock itself; sellers set MFN quantities
                entry["quantity"] = quantity
            attributes["fulfillment_availability"] = [entry]
        if prices:
            attributes["purchasable_offer"] = [
                offer_entry(marketplace_id, MARKETPLACES[marketplace_id].currency, price)
                for marketplace_id, price in prices.items()
            ]
        with self._ctx.lock:
            self._listings[sku] = Listing(
                sku=sku,
                product_type=product_type,
                marketplace_ids=list(marketplace_ids),
                attributes=attributes,
                created=now,
                last_updated=now,
                asin=asin,
                fn_sku=f"X00{zlib.crc32(sku.encode()) % 10**7:07d}" if fulfilled_by_amazon else None,
            )

    def seed_catalog(self, marketplace_ids: Sequence[str], quantity: int = 25) -> None:
        """The sample catalog listed MFN in every marketplace at its catalog price."""
        for product in CATALOG:
            self.put(
                product.seller_sku,
                product_type=PRODUCT_TYPES[product.seller_sku],
                marketplace_ids=marketplace_ids,
                title=product.title,
                asin=product.asin,
                quantity=quantity,
                prices={m: product.price_in(MARKETPLACES[m]) for m in marketplace_ids},
            )

    def get(self, sku: str) -> Listing | None:
        with self._ctx.lock:
            listing = self._listings.get(sku)
            return copy.deepcopy(listing) if listing is not None else None

    def quantity(self, sku: str, channel: str = MFN_CHANNEL) -> int | None:
        listing = self.get(sku)
        return listing.quantity(channel) if listing is not None else None

    def price(self, sku: str, marketplace_id: str) -> tuple[Decimal, str] | None:
        listing = self.get(sku)
        return listing.price(marketplace_id) if listing is not None else None

    @property
    def skus(self) -> list[str]:
        with self._ctx.lock:
            return sorted(self._listings)

    # --- submissions ----------------------------------------------------------------------------------
    def patch(
        self,
        sku: str,
        product_type: Any,
        patches: Any,
        marketplace_ids: Sequence[str],
        *,
        source: Literal["patchListingsItem", "JSON_LISTINGS_FEED"],
        preview: bool = False,
    ) -> Submission:
        """Validate and (unless previewing) apply JSON Patch operations; INVALID changes nothing."""
        with self._ctx.lock:
            listing = self._listings.get(sku)
            attributes = copy.deepcopy(listing.attributes) if listing is not None else {}
            issues = product_type_issues(listing.product_type if listing else None, product_type)
            for operation in patches:
                match = ATTRIBUTE_PATH.match(str(operation.get("path", "")))
                if match is None:
                    issues.append(
                        issue(
                            "90000900",
                            "Only top-level attributes (/attributes/<name>) can be patched.",
                            [],
                            "INVALID_ATTRIBUTE",
                        )
                    )
                    continue
                apply_operation(attributes, match.group(1), operation)
            previous = listing.attributes if listing is not None else {}
            issues += validate_attributes(attributes, previous, marketplace_ids)
            if issues:
                status: SubmissionStatus = "INVALID"
            else:
                status = "VALID" if preview else "ACCEPTED"
                if not preview:
                    self._store(sku, str(product_type), attributes, marketplace_ids)
            submission = Submission(sku, source, status, self._ctx.uuid(), tuple(issues))
            if not preview:
                self.submissions.append(submission)
            return submission

    def replace(
        self,
        sku: str,
        product_type: str,
        attributes: Mapping[str, Any],
        marketplace_ids: Sequence[str],
        *,
        partial: bool,
    ) -> Submission:
        """Feed UPDATE (all attributes) or PARTIAL_UPDATE (only the given ones)."""
        with self._ctx.lock:
            listing = self._listings.get(sku)
            issues = product_type_issues(listing.product_type if listing else None, product_type)
            merged = copy.deepcopy(listing.attributes) if (listing is not None and partial) else {}
            merged.update(copy.deepcopy(dict(attributes)))
            issues += validate_attributes(
                merged, listing.attributes if listing is not None else {}, marketplace_ids
            )
            status: SubmissionStatus = "INVALID" if issues else "ACCEPTED"
            if not issues:
                self._store(sku, product_type, merged, marketplace_ids)
            submission = Submission(sku, "JSON_LISTINGS_FEED", status, self._ctx.uuid(), tuple(issues))
            self.submissions.append(submission)
            return submission

    def delete(self, sku: str) -> Submission:
        with self._ctx.lock:
            self._listings.pop(sku, None)
            submission = Submission(sku, "JSON_LISTINGS_FEED", "ACCEPTED", self._ctx.uuid(), ())
            self.submissions.append(submission)
            return submission

    def _store(
        self, sku: str, product_type: str, attributes: dict[str, Any], marketplace_ids: Sequence[str]
    ) -> None:
        now = self._ctx.now()
        listing = self._listings.get(sku)
        if listing is None:
            # An offer without a catalog item: accepted, but not buyable until the item data exists.
            listing = Listing(sku, product_type, list(marketplace_ids), {}, now, now)
            listing.issues.append(
                issue(
                    "90220", "'item_name' is required but not supplied.", ["item_name"], "MISSING_ATTRIBUTE"
                )
            )
            self._listings[sku] = listing
        listing.attributes = attributes
        listing.last_updated = now
        listing.marketplace_ids = sorted(set(listing.marketplace_ids) | set(marketplace_ids))
        if "item_name" in attributes:
            listing.issues = [issue for issue in listing.issues if issue["code"] != "90220"]

    # --- the listing notifications Amazon would send about a listing now (tests publish them via SQS) ------
    def status_notification(self, sku: str, marketplace_id: str) -> dict[str, Any]:
        """LISTINGS_ITEM_STATUS_CHANGE: the summary's status, or DELETED for a listing that is gone."""
        with self._ctx.lock:
            listing = copy.deepcopy(self._listings.get(sku))
        if listing is None or marketplace_id not in listing.marketplace_ids:
            statuses, asin = ["DELETED"], None
        else:
            statuses, asin = self._summary(listing, marketplace_id)["status"], listing.asin
        return listing_status_notification(
            sku,
            marketplace_id,
            statuses,
            event_time=self._ctx.now(),
            asin=asin,
            seller_id=self._ctx.seller_id,
        )

    def issues_notification(self, sku: str, marketplace_id: str) -> dict[str, Any]:
        """LISTINGS_ITEM_ISSUES_CHANGE (payload version 2023-12-13): the severities of the listing's issues."""
        listing = self.get(sku)
        severities = {str(issue["severity"]) for issue in listing.issues} if listing is not None else set()
        return listing_issues_notification(
            sku, marketplace_id, severities, event_time=self._ctx.now(), seller_id=self._ctx.seller_id
        )

    def mfn_quantity_notification(self, sku: str) -> dict[str, Any]:
        """LISTINGS_ITEM_MFN_QUANTITY_CHANGE: the merchant quantity of channel DEFAULT (no marketplace)."""
        quantity = self.quantity(sku)
        if quantity is None:
            raise KeyError(f"no merchant quantity for {sku}")
        return listing_mfn_quantity_notification(
            sku, quantity, event_time=self._ctx.now(), seller_id=self._ctx.seller_id
        )

    # --- rendering --------------------------------------------------------------------------------------
    def render(
        self, listing: Listing, marketplace_ids: Sequence[str], included: Sequence[str]
    ) -> dict[str, Any]:
        item: dict[str, Any] = {"sku": listing.sku}
        markets = [m for m in marketplace_ids if m in listing.marketplace_ids]
        if "summaries" in included:
            item["summaries"] = [self._summary(listing, m) for m in markets]
        if "attributes" in included:
            item["attributes"] = copy.deepcopy(listing.attributes)
        if "issues" in included:
            item["issues"] = [{**issue, "marketplaceIds": markets} for issue in listing.issues]
        if "offers" in included:
            item["offers"] = [
                {
                    "marketplaceId": offer["marketplace_id"],
                    "offerType": "B2C",
                    "price": {"currencyCode": offer["currency"], "amount": str(offer_price(offer))},
                    "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
                }
                for offer in listing.attributes.get("purchasable_offer", [])
                if offer.get("marketplace_id") in markets and offer_price(offer) is not None
            ]
        if "fulfillmentAvailability" in included:
            item["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": entry["fulfillment_channel_code"]}
                | ({"quantity": entry["quantity"]} if "quantity" in entry else {})
                for entry in listing.attributes.get("fulfillment_availability", [])
            ]
        if "relationships" in included:
            item["relationships"] = [{"marketplaceId": m, "relationships": []} for m in markets]
        if "productTypes" in included:
            item["productTypes"] = [
                {"marketplaceId": m, "productType": listing.product_type} for m in markets
            ]
        return item

    def _summary(self, listing: Listing, marketplace_id: str) -> dict[str, Any]:
        names = [
            n for n in listing.attributes.get("item_name", []) if n.get("marketplace_id") == marketplace_id
        ]
        buyable = (
            listing.price(marketplace_id) is not None
            and ((listing.quantity() or 0) > 0 or listing.fn_sku is not None)
            and bool(names)
        )
        summary: dict[str, Any] = {"marketplaceId": marketplace_id}
        if listing.asin:
            summary["asin"] = listing.asin
        summary["productType"] = listing.product_type
        summary["conditionType"] = "new_new"
        summary["status"] = ["BUYABLE", "DISCOVERABLE"] if buyable else (["DISCOVERABLE"] if names else [])
        if listing.fn_sku:
            summary["fnSku"] = listing.fn_sku
        if names:
            summary["itemName"] = names[0]["value"]
        summary["createdDate"] = iso(listing.created)
        summary["lastUpdatedDate"] = iso(listing.last_updated)
        return summary
