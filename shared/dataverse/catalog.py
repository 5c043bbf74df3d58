"""Reference data the mapping needs from Dataverse, cached so it costs (almost) no request per order.

Currencies and price lists change rarely: they are read once and kept for `ttl` seconds. Products are
looked up by SKU (product.productnumber) in one query per batch for the SKUs not yet cached; a SKU with no
product is cached as unknown for a shorter time, so a product created after the first order is picked
up within a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.model.crm import Lookups, ProductRef

SKUS_PER_QUERY = 50  # keeps the $filter well below URL length limits, even with long SKUs


class _Cached:
    def __init__(self, value: Any, expires: float) -> None:
        self.value = value
        self.expires = expires


class CrmCatalog:
    def __init__(
        self,
        client: DataverseClient,
        *,
        ttl: float = 600.0,
        unknown_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._unknown_ttl = unknown_ttl
        self._clock = clock
        self._currencies: _Cached | None = None
        self._price_lists: dict[str, _Cached] = {}
        self._products: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def lookups(
        self, *, currencies: Iterable[str], price_lists: Iterable[str], skus: Iterable[str]
    ) -> Lookups:
        with self._lock:
            currency_ids = self._currency_ids()
            wanted_lists = {name for name in price_lists if name}
            price_list_ids = self._fetch(self._price_lists, wanted_lists, self._query_price_lists)
            products = self._fetch(self._products, {sku for sku in skus if sku}, self._query_products)
        return Lookups(
            currency_ids={code: currency_ids[code] for code in set(currencies) if code in currency_ids},
            price_list_ids=price_list_ids,
            products=products,
        )

    def forget_products(self) -> None:
        with self._lock:
            self._products.clear()

    def _currency_ids(self) -> dict[str, str]:
        now = self._clock()
        if self._currencies is None or self._currencies.expires < now:
            rows = self._client.query(
                "transactioncurrencies",
                select=("transactioncurrencyid", "isocurrencycode"),
                filter="statecode eq 0",
            )
            value = {str(row["isocurrencycode"]).upper(): str(row["transactioncurrencyid"]) for row in rows}
            self._currencies = _Cached(value, now + self._ttl)
        result: dict[str, str] = self._currencies.value
        return result

    def _fetch(
        self, cache: dict[str, _Cached], wanted: set[str], query: Callable[[list[str]], dict[str, Any]]
    ) -> dict[str, Any]:
        now = self._clock()
        missing = sorted(name for name in wanted if name not in cache or cache[name].expires < now)
        for start in range(0, len(missing), SKUS_PER_QUERY):
            chunk = missing[start : start + SKUS_PER_QUERY]
            found = query(chunk)
            for name in chunk:
                value = found.get(name)
                cache[name] = _Cached(value, now + (self._ttl if value is not None else self._unknown_ttl))
        return {name: cache[name].value for name in wanted if cache[name].value is not None}

    def _query_price_lists(self, names: list[str]) -> dict[str, Any]:
        rows = self._client.query(
            "pricelevels",
            select=("pricelevelid", "name"),
            filter=f"statecode eq 0 and {odata.any_of('name', names)}",
        )
        return {str(row["name"]): str(row["pricelevelid"]) for row in rows}

    def _query_products(self, skus: list[str]) -> dict[str, Any]:
        rows = self._client.query(
            "products",
            select=("productid", "productnumber", "_defaultuomid_value"),
            filter=f"statecode eq 0 and {odata.any_of('productnumber', skus)}",
        )
        found: dict[str, Any] = {}
        for row in rows:
            sku = str(row["productnumber"])
            found.setdefault(sku, ProductRef(str(row["productid"]), row.get("_defaultuomid_value")))
        return found
