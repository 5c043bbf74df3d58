"""Listings Items API 2021-08-01: ``getListingsItem`` and ``patchListingsItem`` over per-SKU listing state.

After ``listingsItems_2021-08-01.json`` and how Amazon answers:

- a patch needs the listing's ``productType`` and JSON Patch ``patches`` on top-level attributes only
  (``/attributes/<name>``), ops ``add``/``replace``/``merge``/``delete``; a body that cannot be read is
  400 InvalidInput, a readable but wrong one is 200 with ``status: INVALID`` and issues (code, message,
  severity, attributeNames, categories), and nothing changes;
- checked values: ``fulfillment_availability`` quantity (integer >= 0), ``purchasable_offer`` price (> 0)
  and currency (the marketplace's), the product type (the listing's own);
- a patch for a SKU Amazon does not know is ACCEPTED: it creates an offer-only listing that is not buyable
  and shows an issue later (Amazon confirmed this behaviour, selling-partner-api-models#2797);
- ``mode=VALIDATION_PREVIEW`` validates without applying (``VALID`` / ``INVALID``);
- ``sellerId`` must be the authorising seller's (403 otherwise); unknown SKUs are 404 on get.

Feeds (``JSON_LISTINGS_FEED``) apply their messages through the same ``ListingStore``.
"""

from __future__ import annotations

import copy
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from sandbox.amazon_samples import CATALOG, MARKETPLACES
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, ApiError, invalid_input
from sandbox.spapi_emulator.params import enum_list, iso, json_body
from sandbox.spapi_emulator.routes import Access, Route

GET_LISTINGS_ITEM: Final = "getListingsItem"
PATCH_LISTINGS_ITEM: Final = "patchListingsItem"
ITEM_PATH: Final = "/listings/2021-08-01/items/{sellerId}/{sku}"
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
PATCH_INCLUDED_DATA: Final = ("identifiers", "issues")
GET_QUERY: Final = ("marketplaceIds", "issueLocale", "includedData")
PATCH_QUERY: Final = ("marketplaceIds", "includedData", "mode", "issueLocale")
PATCH_OPS: Final = ("add", "replace", "merge", "delete")
ATTRIBUTE_PATH: Final = re.compile(r"^/attributes/([a-z0-9_]+)$")
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
                amount = _offer_price(offer)
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
                _offer(marketplace_id, MARKETPLACES[marketplace_id].currency, price)
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
            issues = _product_type_issues(listing, product_type)
            for operation in patches:
                match = ATTRIBUTE_PATH.match(str(operation.get("path", "")))
                if match is None:
                    issues.append(
                        _issue(
                            "90000900",
                            "Only top-level attributes (/attributes/<name>) can be patched.",
                            [],
                            "INVALID_ATTRIBUTE",
                        )
                    )
                    continue
                _apply_operation(attributes, match.group(1), operation)
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
            issues = _product_type_issues(listing, product_type)
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
                _issue(
                    "90220", "'item_name' is required but not supplied.", ["item_name"], "MISSING_ATTRIBUTE"
                )
            )
            self._listings[sku] = listing
        listing.attributes = attributes
        listing.last_updated = now
        listing.marketplace_ids = sorted(set(listing.marketplace_ids) | set(marketplace_ids))
        if "item_name" in attributes:
            listing.issues = [issue for issue in listing.issues if issue["code"] != "90220"]

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
                    "price": {"currencyCode": offer["currency"], "amount": str(_offer_price(offer))},
                    "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
                }
                for offer in listing.attributes.get("purchasable_offer", [])
                if offer.get("marketplace_id") in markets and _offer_price(offer) is not None
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


class ListingsApi:
    def __init__(self, ctx: EmulatorContext, store: ListingStore) -> None:
        self._ctx = ctx
        self._store = store

    def routes(self) -> list[Route]:
        return [
            Route(GET_LISTINGS_ITEM, "GET", ITEM_PATH, Access.SELLER, self.get_listings_item, GET_QUERY),
            Route(
                PATCH_LISTINGS_ITEM, "PATCH", ITEM_PATH, Access.SELLER, self.patch_listings_item, PATCH_QUERY
            ),
        ]

    def get_listings_item(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        self._check_seller(path["sellerId"])
        marketplace_ids = _marketplace_ids(request)
        included = enum_list(request, "includedData", GET_INCLUDED_DATA) or ["summaries"]
        listing = self._store.get(path["sku"])
        if listing is None or not set(marketplace_ids) & set(listing.marketplace_ids):
            raise ApiError(
                404, "NOT_FOUND", f"SKU '{path['sku']}' not found in marketplace {marketplace_ids[0]}"
            )
        return EmulatorResponse.json(200, self._store.render(listing, marketplace_ids, included))

    def patch_listings_item(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        self._check_seller(path["sellerId"])
        marketplace_ids = _marketplace_ids(request)
        included = enum_list(request, "includedData", PATCH_INCLUDED_DATA) or ["issues"]
        mode = request.query_value("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            raise invalid_input("mode must be VALIDATION_PREVIEW.")
        if "identifiers" in included and mode is None:
            raise invalid_input(
                "includedData=identifiers can only be requested when mode is VALIDATION_PREVIEW."
            )
        body = json_body(request)
        product_type, patches = body.get("productType"), body.get("patches")
        # Why this matters: without productType Amazon cannot read the patch at all (400, not INVALID).
        if not isinstance(product_type, str) or not product_type:
            raise invalid_input(UNPARSEABLE_BODY, "productType is required.")
        check_patches(patches)
        submission = self._store.patch(
            path["sku"],
            product_type,
            patches,
            marketplace_ids,
            source="patchListingsItem",
            preview=mode is not None,
        )
        response: dict[str, Any] = {
            "sku": path["sku"],
            "status": submission.status,
            "submissionId": submission.submission_id,
        }
        if "issues" in included:
            response["issues"] = list(submission.issues)
        if "identifiers" in included:
            listing = self._store.get(path["sku"])
            asin = listing.asin if listing is not None else None
            response["identifiers"] = [{"marketplaceId": m, "asin": asin} for m in marketplace_ids if asin]
        return EmulatorResponse.json(200, response)

    def _check_seller(self, seller_id: str) -> None:
        # Why this matters: the sellerId in the path must be the seller behind the token; a copy-paste of
        # another account's id is refused, which is how a wrong SPAPI_SELLER_ID shows up.
        if seller_id != self._ctx.seller_id:
            raise ApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The sellerId does not match the authorized seller.",
            )


def check_patches(patches: Any) -> None:
    """The shape JSON Patch needs before anything can be validated (400 otherwise)."""
    if not isinstance(patches, list) or not patches:
        raise invalid_input(UNPARSEABLE_BODY, "patches must be a non-empty list.")
    for operation in patches:
        if (
            not isinstance(operation, dict)
            or operation.get("op") not in PATCH_OPS
            or not isinstance(operation.get("path"), str)
        ):
            raise invalid_input(
                UNPARSEABLE_BODY, f"Each patch needs an op ({', '.join(PATCH_OPS)}) and a path."
            )
        value = operation.get("value")
        if operation["op"] != "delete" and value is None:
            raise invalid_input(UNPARSEABLE_BODY, f"The {operation['op']} operation needs a value.")
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise invalid_input(UNPARSEABLE_BODY, "A patch value must be a list of objects.")


def validate_attributes(
    attributes: Mapping[str, Any], previous: Mapping[str, Any], marketplace_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Issues for the values the emulator knows the rules of (stock, price, currency), checked on what the
    submission changes (entries already stored as they are were accepted before)."""

    def changed(name: str) -> list[dict[str, Any]]:
        return [entry for entry in attributes.get(name, []) if entry not in previous.get(name, [])]

    issues = []
    for entry in changed("fulfillment_availability"):
        quantity = entry.get("quantity")
        if not entry.get("fulfillment_channel_code"):
            issues.append(
                _issue(
                    "90220",
                    "'fulfillment_channel_code' is required but not supplied.",
                    ["fulfillment_availability"],
                    "MISSING_ATTRIBUTE",
                )
            )
        if quantity is not None and (
            not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0
        ):
            issues.append(
                _issue(
                    "4000001",
                    f"The provided value for 'Quantity' is invalid: {quantity!r} (must be a whole number of 0 or more).",
                    ["fulfillment_availability"],
                    "INVALID_ATTRIBUTE",
                )
            )
    for offer in changed("purchasable_offer"):
        marketplace_id = offer.get("marketplace_id")
        marketplace = MARKETPLACES.get(str(marketplace_id))
        if marketplace is None or marketplace_id not in marketplace_ids:
            issues.append(
                _issue(
                    "4000001",
                    f"The provided value for 'Marketplace' is invalid: {marketplace_id!r}.",
                    ["purchasable_offer"],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        if offer.get("currency") != marketplace.currency:
            issues.append(
                _issue(
                    "4000001",
                    f"The provided value for 'Currency' is invalid: {offer.get('currency')!r} (the marketplace sells in {marketplace.currency}).",
                    ["purchasable_offer"],
                    "INVALID_PRICE",
                )
            )
        price = _offer_price(offer)
        if price is None or price <= 0:
            issues.append(
                _issue(
                    "4000001",
                    "The provided value for 'Your Price' is invalid: it must be greater than 0.",
                    ["purchasable_offer"],
                    "INVALID_PRICE",
                )
            )
    return issues


def _product_type_issues(listing: Listing | None, product_type: Any) -> list[dict[str, Any]]:
    if listing is not None and product_type != listing.product_type:
        return [
            _issue(
                "4000003",
                f"The Amazon product type specified is invalid or not supported: {product_type!r} (the listing is {listing.product_type}).",
                [],
                "INVALID_ATTRIBUTE",
            )
        ]
    return []


def _apply_operation(
    attributes: dict[str, list[dict[str, Any]]], name: str, operation: Mapping[str, Any]
) -> None:
    value = copy.deepcopy(operation.get("value") or [])
    op = operation["op"]
    if op in ("add", "replace"):
        attributes[name] = value
    elif op == "merge":
        merged = attributes.setdefault(name, [])
        for entry in value:
            key = _entry_key(entry)
            existing = next((e for e in merged if key is not None and _entry_key(e) == key), None)
            if existing is None:
                merged.append(entry)
            else:
                existing.update(entry)
    elif not value:  # delete the whole attribute
        attributes.pop(name, None)
    else:  # delete the entries named by the value
        keys = {_entry_key(entry) for entry in value}
        attributes[name] = [e for e in attributes.get(name, []) if _entry_key(e) not in keys]


def _entry_key(entry: Mapping[str, Any]) -> Any:
    return entry.get("marketplace_id") or entry.get("fulfillment_channel_code")


def _offer(marketplace_id: str, currency: str, price: Decimal) -> dict[str, Any]:
    return {
        "marketplace_id": marketplace_id,
        "currency": currency,
        "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
    }


def _offer_price(offer: Mapping[str, Any]) -> Decimal | None:
    try:
        value = offer["our_price"][0]["schedule"][0]["value_with_tax"]
        if isinstance(value, bool):
            return None
        return Decimal(str(value))
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return None


def _issue(code: str, message: str, attributes: list[str], category: str) -> dict[str, Any]:
    issue: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR"}
    if attributes:
        issue["attributeNames"] = attributes
    issue["categories"] = [category]
    return issue


def _marketplace_ids(request: EmulatorRequest) -> list[str]:
    marketplace_ids = request.query_list("marketplaceIds")
    if not marketplace_ids:
        raise invalid_input("Missing required parameter: marketplaceIds.")
    return marketplace_ids
