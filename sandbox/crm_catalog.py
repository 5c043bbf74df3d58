"""The CRM side of the Dynamics -> Amazon sandbox: a price list per Amazon marketplace with the sample catalog's
prices (in the marketplace's currency, as Amazon lists them), and a person who edits them (so their changes are
not the integration's own). The sample products' stock on hand comes with them (dataverse_seed.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sandbox.amazon_samples import CATALOG, MARKETPLACES
from sandbox.dataverse_seed import CURRENCY_IDS, UNIT_ID, seed_id

if TYPE_CHECKING:
    from sandbox.dataverse_emulator import DataverseEmulator
    from sandbox.spapi_emulator.listing_store import ListingStore

# marketplace id -> the price list whose items are its offer prices (sandbox/mapping.toml says the same)
PRICE_LISTS = {
    "ATVPDKIKX0DER": "Amazon US",
    "A1F83G8C2ARO7P": "Amazon UK",
    "A1PA6795UKMFR9": "Amazon DE",
}
CRM_USER_TOKEN = "sam-seller-token"
CRM_USER_ID = seed_id("systemuser", "Sam Seller")


def price_list_id(marketplace_id: str) -> str:
    return seed_id("pricelevel", PRICE_LISTS[marketplace_id])


def price_item_id(marketplace_id: str, sku: str) -> str:
    return seed_id("productpricelevel", f"{marketplace_id}:{sku}")


def product_id(sku: str) -> str:
    return seed_id("product", sku)


def seed_crm_catalog(dataverse: DataverseEmulator) -> None:
    """Price lists per marketplace with an item per sample product, and the CRM user."""
    for marketplace_id, name in PRICE_LISTS.items():
        marketplace = MARKETPLACES[marketplace_id]
        dataverse.seed(
            "pricelevels",
            {
                "pricelevelid": price_list_id(marketplace_id),
                "name": name,
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS[marketplace.currency]})",
            },
        )
        dataverse.seed(
            "productpricelevels",
            *(
                {
                    "productpricelevelid": price_item_id(marketplace_id, product.seller_sku),
                    "pricelevelid@odata.bind": f"/pricelevels({price_list_id(marketplace_id)})",
                    "productid@odata.bind": f"/products({product_id(product.seller_sku)})",
                    "uomid@odata.bind": f"/uoms({UNIT_ID})",
                    "amount": product.price_in(marketplace),
                    "pricingmethodcode": 1,
                }
                for product in CATALOG
            ),
        )
    dataverse.add_user("Sam", "Seller", user_id=CRM_USER_ID)
    dataverse.add_token(CRM_USER_TOKEN, CRM_USER_ID)


def seed_bulk_skus(
    dataverse: DataverseEmulator, listings: ListingStore, count: int, marketplace_id: str
) -> list[str]:
    """`count` more products in the CRM, each listed (merchant-fulfilled) in one marketplace: for benchmarks."""
    from sandbox.dataverse_seed import SAMPLE_STOCK_ON_HAND, product_record

    skus = [f"BULK-{index:05d}" for index in range(count)]
    dataverse.seed(
        "products",
        *(
            product_record(sku, f"Bulk item {sku}", Decimal("9.99"))
            | {"quantityonhand": SAMPLE_STOCK_ON_HAND}
            for sku in skus
        ),
    )
    for sku in skus:
        listings.put(
            sku,
            product_type="HOME",
            marketplace_ids=[marketplace_id],
            title=f"Bulk item {sku}",
            quantity=int(SAMPLE_STOCK_ON_HAND),
            prices={marketplace_id: Decimal("9.99")},
        )
    return skus
