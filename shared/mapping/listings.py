"""CRM changes -> the values Amazon listings should show: pure rules, no I/O.

- Stock: product.quantityonhand (MAPPING columns.product.quantity) becomes the merchant-fulfilled quantity of
  the SKU (columns.product.sku) in every marketplace the seller sells in; Amazon wants a whole number of 0 or
  more, so the CRM's decimal is rounded down and negative stock is 0.
- Price: a price list item's amount, in its price list's currency, becomes the offer price in each
  marketplace whose price list it is ([listings] price_lists). A price list not mapped to any marketplace is
  not Amazon's business; one mapped to marketplaces that sell in another currency is a mistake worth a dead
  letter (Amazon would refuse the price).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from shared.errors import PermanentError
from shared.mapping.config import MappingConfig
from shared.model.crm_events import CrmEvent, VersionStamp, as_decimal, as_text
from shared.model.listings import Field, ListingChange, ListingKey, Price

PRICE_COLUMN = "amount"  # productpricelevel.amount


class ProductWithoutSku(PermanentError):
    reason = "ProductWithoutSku"


class NoMarketplaceForCurrency(PermanentError):
    reason = "NoMarketplaceForCurrency"


def sku_of(event: CrmEvent, mapping: MappingConfig) -> str:
    """The product's seller SKU from the event (its post-image), or ProductWithoutSku."""
    column = mapping.columns.product.sku
    sku = as_text(event.value(column))
    if sku is None:
        raise ProductWithoutSku(
            f"product {event.record_id} has no {column} (the seller SKU): nothing to send to Amazon"
        )
    return sku


def stock_changes(
    event: CrmEvent, mapping: MappingConfig, marketplaces: Sequence[str]
) -> list[ListingChange]:
    """The merchant quantity a product change asks for, per marketplace (none when the stock is empty)."""
    stock = as_decimal(event.value(mapping.columns.product.quantity))
    return quantity_changes(sku_of(event, mapping), stock, event.version, marketplaces)


def quantity_changes(
    sku: str, stock: Decimal | None, version: VersionStamp, marketplaces: Sequence[str]
) -> list[ListingChange]:
    """The merchant quantity a product's stock on hand asks for, per marketplace (an event's or a resync's)."""
    if stock is None:
        return []
    quantity = max(0, math.floor(stock))
    return [
        ListingChange(ListingKey(sku, marketplace), Field.QUANTITY, quantity, version)
        for marketplace in marketplaces
    ]


def price_changes(
    event: CrmEvent,
    sku: str,
    price_list: str,
    currency: str,
    mapping: MappingConfig,
    marketplaces: Sequence[str],
) -> list[ListingChange]:
    """The offer price a price list item change asks for, per marketplace of its price list."""
    amount = as_decimal(event.value(PRICE_COLUMN))
    return offer_changes(sku, amount, price_list, currency, event.version, mapping, marketplaces)


def offer_changes(
    sku: str,
    amount: Decimal | None,
    price_list: str,
    currency: str,
    version: VersionStamp,
    mapping: MappingConfig,
    marketplaces: Sequence[str],
) -> list[ListingChange]:
    """The offer price a price list item's amount asks for, per marketplace of its price list (an event's or a
    resync's)."""
    targets = [m for m in mapping.listings.marketplaces_of(price_list) if m in marketplaces]
    if not targets or amount is None:
        return []
    selling = {mapping.marketplaces[m].currency for m in targets}
    if currency not in selling:
        raise NoMarketplaceForCurrency(
            f"price list {price_list!r} is in {currency}, but its marketplaces ({', '.join(targets)}) sell in "
            f"{', '.join(sorted(selling))}: no marketplace takes this price"
        )
    price = Price(amount, currency)
    return [ListingChange(ListingKey(sku, m), Field.PRICE, price, version) for m in targets]
