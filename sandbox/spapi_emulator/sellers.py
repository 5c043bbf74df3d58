"""Sellers API v1 ``getMarketplaceParticipations``: the cheapest call that proves a seller token works.

Why this matters: it answers with the marketplaces the seller sells in, but not the seller id; the seller id
can only be checked indirectly (calls that carry it, like getListingsItem, refuse a wrong one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sandbox.amazon_samples import MARKETPLACES
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.routes import Access, Route

GET_MARKETPLACE_PARTICIPATIONS: Final = "getMarketplaceParticipations"
PARTICIPATIONS_PATH: Final = "/sellers/v1/marketplaceParticipations"

_LANGUAGE: Final[Mapping[str, str]] = {"US": "en_US", "GB": "en_GB", "DE": "de_DE"}
_DOMAIN: Final[Mapping[str, str]] = {"US": "www.amazon.com", "GB": "www.amazon.co.uk", "DE": "www.amazon.de"}


class SellersApi:
    def __init__(self, ctx: EmulatorContext, store_name: str = "Harbor Lane Goods") -> None:
        self._ctx = ctx
        self.store_name = store_name
        self.suspended_marketplaces: set[str] = set()  # test hook: hasSuspendedListings=true there

    def routes(self) -> list[Route]:
        return [
            Route(
                GET_MARKETPLACE_PARTICIPATIONS, "GET", PARTICIPATIONS_PATH, Access.SELLER, self.participations
            )
        ]

    def reset(self) -> None:
        self.suspended_marketplaces.clear()

    def participations(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        payload = [self._participation(marketplace_id) for marketplace_id in self._ctx.marketplace_ids]
        return EmulatorResponse.json(200, {"payload": payload})

    def _participation(self, marketplace_id: str) -> dict[str, Any]:
        marketplace = MARKETPLACES[marketplace_id]
        country = marketplace.country_code
        return {
            "marketplace": {
                "id": marketplace_id,
                "name": marketplace.name,
                "countryCode": country,
                "defaultCurrencyCode": marketplace.currency,
                "defaultLanguageCode": _LANGUAGE[country],
                "domainName": _DOMAIN[country],
            },
            "participation": {
                "isParticipating": True,
                "hasSuspendedListings": marketplace_id in self.suspended_marketplaces,
            },
            "storeName": self.store_name,
        }
