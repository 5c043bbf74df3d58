"""What an event about a price list item does not carry but the listing needs: the product's SKU, the price
list's name and currency. Read on first use and cached (names and currencies rarely change; a SKU is cached
for `ttl` so a renamed productnumber is picked up soon)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.dataverse.client import DataverseClient


@dataclass(frozen=True)
class PriceListRef:
    name: str
    currency: str | None  # ISO code of the price list's currency


class ProductDirectory:
    def __init__(
        self,
        client: DataverseClient,
        *,
        sku_column: str = "productnumber",
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._sku_column = sku_column
        self._ttl = ttl
        self._clock = clock
        self._skus: dict[str, tuple[str | None, float]] = {}
        self._price_lists: dict[str, tuple[PriceListRef | None, float]] = {}
        self._currencies: tuple[dict[str, str], float] | None = None
        self._lock = threading.Lock()

    def sku_of(self, product_id: str) -> str | None:
        """The product's seller SKU; None when it has none or no longer exists."""
        with self._lock:
            cached = self._skus.get(product_id)
            if cached is not None and cached[1] > self._clock():
                return cached[0]
        row = self._client.get("products", product_id, select=(self._sku_column,))
        sku = str(row[self._sku_column]).strip() if row and row.get(self._sku_column) else None
        with self._lock:
            self._skus[product_id] = (sku or None, self._clock() + self._ttl)
        return sku or None

    def price_list(self, price_list_id: str) -> PriceListRef | None:
        with self._lock:
            cached = self._price_lists.get(price_list_id)
            if cached is not None and cached[1] > self._clock():
                return cached[0]
        row = self._client.get("pricelevels", price_list_id, select=("name", "_transactioncurrencyid_value"))
        found = None
        if row is not None:
            currency_id = row.get("_transactioncurrencyid_value")
            found = PriceListRef(
                str(row.get("name") or ""), self.currency_code(str(currency_id)) if currency_id else None
            )
        with self._lock:
            self._price_lists[price_list_id] = (found, self._clock() + self._ttl)
        return found

    def price_list_of_item(self, price_list_id: str, currency_id: str | None) -> PriceListRef | None:
        """A price list item's price list, in the item's currency (its own, else the list's); None when the
        price list is gone (the item goes with it)."""
        found = self.price_list(price_list_id)
        if found is None or currency_id is None:
            return found
        return PriceListRef(found.name, self.currency_code(currency_id))

    def currency_code(self, currency_id: str) -> str | None:
        with self._lock:
            if self._currencies is None or self._currencies[1] <= self._clock():
                rows = self._client.query(
                    "transactioncurrencies", select=("transactioncurrencyid", "isocurrencycode")
                )
                codes = {
                    str(row["transactioncurrencyid"]).lower(): str(row["isocurrencycode"]).upper()
                    for row in rows
                }
                self._currencies = (codes, self._clock() + self._ttl)
            return self._currencies[0].get(currency_id.lower())
