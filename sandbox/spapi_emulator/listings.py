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

The listing state lives in ``listing_store``, the acceptance rules in ``listing_rules`` (feeds use both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, ApiError, invalid_input
from sandbox.spapi_emulator.listing_rules import check_patches
from sandbox.spapi_emulator.listing_store import GET_INCLUDED_DATA, ListingStore
from sandbox.spapi_emulator.params import enum_list, json_body
from sandbox.spapi_emulator.routes import Access, Route

GET_LISTINGS_ITEM: Final = "getListingsItem"
PATCH_LISTINGS_ITEM: Final = "patchListingsItem"
ITEM_PATH: Final = "/listings/2021-08-01/items/{sellerId}/{sku}"
PATCH_INCLUDED_DATA: Final = ("identifiers", "issues")
GET_QUERY: Final = ("marketplaceIds", "issueLocale", "includedData")
PATCH_QUERY: Final = ("marketplaceIds", "includedData", "mode", "issueLocale")


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


def _marketplace_ids(request: EmulatorRequest) -> list[str]:
    marketplace_ids = request.query_list("marketplaceIds")
    if not marketplace_ids:
        raise invalid_input("Missing required parameter: marketplaceIds.")
    return marketplace_ids
