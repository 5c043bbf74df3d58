"""FBA Inventory API v1 ``getInventorySummaries`` over stock that tests set per SKU and marketplace.

After ``fbaInventory.json``: ``granularityType=Marketplace`` with ``granularityId`` and ``marketplaceIds``
(one) are required; ``details=true`` adds ``inventoryDetails``; ``startDateTime`` returns what changed since
then and makes ``sellerSkus``/``sellerSku`` ignored; pages hold 50 summaries and a ``nextToken`` expires
30 seconds after it was issued.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sandbox.fba_stock import Stock
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.notification_samples import fba_inventory_availability_notification
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import invalid_input
from sandbox.spapi_emulator.params import (
    bool_parameter,
    required_value,
    time_parameter,
)
from sandbox.spapi_emulator.routes import Access, Route

GET_INVENTORY_SUMMARIES: Final = "getInventorySummaries"
SUMMARIES_PATH: Final = "/fba/inventory/v1/summaries"
PARAMETERS: Final = (
    "details",
    "granularityType",
    "granularityId",
    "startDateTime",
    "sellerSkus",
    "sellerSku",
    "nextToken",
    "marketplaceIds",
)
PAGE_SIZE: Final = 50
MAX_SELLER_SKUS: Final = 50
NEXT_TOKEN_LIFETIME: Final = timedelta(
    seconds=30
)  # "The string token will expire 30 seconds after being created."
OLDEST_START: Final = timedelta(days=548)  # "no earlier than 18 months prior"


@dataclass(frozen=True)
class _Page:
    skus: tuple[str, ...]
    marketplace_id: str
    details: bool
    offset: int
    issued_at: datetime


class FbaInventoryApi:
    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._stock: dict[tuple[str, str], Stock] = {}
        self._pages: dict[str, _Page] = {}

    def routes(self) -> list[Route]:
        return [
            Route(
                GET_INVENTORY_SUMMARIES,
                "GET",
                SUMMARIES_PATH,
                Access.SELLER,
                self.get_inventory_summaries,
                PARAMETERS,
            )
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self._stock.clear()
            self._pages.clear()

    # --- test helpers ------------------------------------------------------------------------------------
    def set_stock(
        self,
        seller_sku: str,
        marketplace_id: str,
        *,
        asin: str,
        product_name: str,
        fn_sku: str | None = None,
        **quantities: int,
    ) -> Stock:
        """Create or change a SKU's stock (quantities by Stock field name); stamps lastUpdatedTime = now."""
        with self._ctx.lock:
            key = (seller_sku, marketplace_id)
            stock = self._stock.get(key) or Stock(
                seller_sku, marketplace_id, asin, fn_sku or f"X00{self._ctx.numeric_id(7)}", product_name
            )
            for name, value in quantities.items():
                if not hasattr(stock, name) or name in (
                    "seller_sku",
                    "marketplace_id",
                    "asin",
                    "fn_sku",
                    "product_name",
                ):
                    raise ValueError(f"unknown stock quantity {name!r}")
                if value < 0:
                    raise ValueError(f"{name} cannot be negative")
                setattr(stock, name, value)
            stock.last_updated = self._ctx.now().replace(microsecond=0)
            self._stock[key] = stock
            return copy.deepcopy(stock)

    def availability_notification(self, seller_sku: str) -> dict[str, Any]:
        """The FBA_INVENTORY_AVAILABILITY_CHANGES envelope Amazon would send for the SKU's stock now."""
        with self._ctx.lock:
            stock = [copy.deepcopy(s) for (sku, _), s in sorted(self._stock.items()) if sku == seller_sku]
        if not stock:
            raise KeyError(f"no FBA stock for {seller_sku}")
        return fba_inventory_availability_notification(
            stock, event_time=self._ctx.now(), seller_id=self._ctx.seller_id
        )

    def stock(self, seller_sku: str, marketplace_id: str) -> Stock | None:
        with self._ctx.lock:
            found = self._stock.get((seller_sku, marketplace_id))
            return copy.deepcopy(found) if found is not None else None

    # --- getInventorySummaries ------------------------------------------------------------------------------
    def get_inventory_summaries(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        if required_value(request, "granularityType") != "Marketplace":
            raise invalid_input("granularityType must be Marketplace.")
        granularity_id = required_value(request, "granularityId")
        marketplace_ids = request.query_list("marketplaceIds")
        if len(marketplace_ids) != 1:
            raise invalid_input("marketplaceIds must hold exactly one marketplace id.")
        if granularity_id != marketplace_ids[0]:
            raise invalid_input("granularityId must be the marketplace id given in marketplaceIds.")
        details = bool(bool_parameter(request, "details"))
        now = self._ctx.now()
        with self._ctx.lock:
            token = request.query_value("nextToken")
            if token is not None:
                page = self._pages.get(token)
                # Why this matters: a sweep that pauses between pages (rate limit!) loses its place.
                if page is None or now - page.issued_at > NEXT_TOKEN_LIFETIME:
                    raise invalid_input("The nextToken is invalid or has expired.")
            else:
                page = _Page(self._select(request, granularity_id, now), granularity_id, details, 0, now)
            chosen = page.skus[page.offset : page.offset + PAGE_SIZE]
            summaries = [self._stock[(sku, page.marketplace_id)].summary(details) for sku in chosen]
            body: dict[str, Any] = {
                "payload": {
                    "granularity": {"granularityType": "Marketplace", "granularityId": granularity_id},
                    "inventorySummaries": summaries,
                }
            }
            if page.offset + PAGE_SIZE < len(page.skus):
                next_token = self._ctx.token(44)
                self._pages[next_token] = _Page(
                    page.skus, page.marketplace_id, details, page.offset + PAGE_SIZE, now
                )
                body["pagination"] = {"nextToken": next_token}
        return EmulatorResponse.json(200, body)

    def _select(self, request: EmulatorRequest, marketplace_id: str, now: datetime) -> tuple[str, ...]:
        in_marketplace = {sku: stock for (sku, mp), stock in self._stock.items() if mp == marketplace_id}
        since = time_parameter(request, "startDateTime")
        if since is not None:
            if since < now - OLDEST_START:
                raise invalid_input("startDateTime must be no earlier than 18 months before now.")
            return tuple(sorted(sku for sku, stock in in_marketplace.items() if stock.last_updated >= since))
        seller_skus = request.query_list("sellerSkus")
        if len(seller_skus) > MAX_SELLER_SKUS:
            raise invalid_input(f"sellerSkus accepts at most {MAX_SELLER_SKUS} SKUs.")
        if seller_skus:
            return tuple(sku for sku in seller_skus if sku in in_marketplace)
        single = request.query_value("sellerSku")
        if single is not None:
            return (single,) if single in in_marketplace else ()
        return tuple(sorted(in_marketplace))
