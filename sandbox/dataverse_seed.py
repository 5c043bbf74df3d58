"""Seed data for the Dataverse emulator: what a Dynamics org has before the first Amazon order arrives.

`seed_out_of_the_box` is a new org with its reference data and nothing of the app: the default publisher
(prefix "new"), five transaction currencies (USD is the base currency, exchange rate 1), the "Amazon" price
list in USD, the "Default Unit" unit group with its "Primary Unit", and about twenty products whose
productnumber is a seller SKU. The sandbox then runs `python -m shared.provision dataverse`, which adds the
app's columns and keys the way a deployment does. Several SKUs carry characters that break naive URL and
OData handling (quote, #, &, +, /, ?, %, non-ASCII): the connector must find those by $filter, since Dataverse
cannot address such values as keys.

`provision_solution` is the shortcut the emulator's own tests take (DataverseEmulator.load_seed): the sync's
publisher, solution, columns and keys through the emulator's definition hooks, with the Web API's JSON bodies,
keys built at once.

Ids are fixed (uuid5), so tests and the demo can name rows without looking them up.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.dataverse_emulator import DataverseEmulator

_NAMESPACE = uuid.UUID("8f6d2a4e-6b1c-4f3a-9d47-0c1e5b7a9e21")


def seed_id(kind: str, name: str) -> str:
    """The fixed id of a seeded row."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


# isocurrencycode -> (currencyname, currencysymbol, exchangerate to USD, currencyprecision)
CURRENCIES: dict[str, tuple[str, str, Decimal, int]] = {
    "USD": ("US Dollar", "$", Decimal("1.0"), 2),
    "EUR": ("Euro", "€", Decimal("0.92"), 2),
    "GBP": ("Pound Sterling", "£", Decimal("0.79"), 2),
    "CAD": ("Canadian Dollar", "CA$", Decimal("1.36"), 2),
    "JPY": ("Japanese Yen", "¥", Decimal("151.50"), 0),
}
CURRENCY_IDS = {code: seed_id("transactioncurrency", code) for code in CURRENCIES}
PRICE_LIST_NAME = "Amazon"
PRICE_LIST_ID = seed_id("pricelevel", PRICE_LIST_NAME)
UNIT_GROUP_ID = seed_id("uomschedule", "Default Unit")
UNIT_ID = seed_id("uom", "Primary Unit")

# The SKUs with characters that need quoting, encoding, or $filter instead of key addressing.
SPECIAL_SKUS = ("SKU'QUOTE", "SKU#HASH", "SKU&AND", "SKU+PLUS", "SKU/SLASH", "SKU?Q", "SKU%PCT", "CAFÉ-Ü-ß")
# productnumber (seller SKU) -> (name, list price in USD)
PRODUCTS: dict[str, tuple[str, Decimal]] = {
    "B07-KTL-BLK-1L": ("Electric Kettle 1L, Black", Decimal("39.99")),
    "B07-KTL-STL-17L": ("Electric Kettle 1.7L, Stainless", Decimal("49.99")),
    "MUG-CER-350-WHT": ("Ceramic Mug 350 ml, White", Decimal("12.50")),
    "MUG-CER-350-BLU": ("Ceramic Mug 350 ml, Blue", Decimal("12.50")),
    "TEA-EARLGREY-100": ("Earl Grey Tea, 100 bags", Decimal("8.95")),
    "TEA-GREEN-SENCHA-50": ("Sencha Green Tea, 50 bags", Decimal("9.49")),
    "FBA-CHG-USBC-65W": ("USB-C Charger 65 W", Decimal("29.00")),
    "CBL-USBC-2M-BRD": ("USB-C Cable 2 m, braided", Decimal("11.99")),
    "YOGA-MAT-6MM-PRP": ("Yoga Mat 6 mm, Purple", Decimal("24.90")),
    "BTL-STEEL-750-GRN": ("Steel Bottle 750 ml, Green", Decimal("19.95")),
    "LMP-DESK-LED-01": ("LED Desk Lamp", Decimal("34.00")),
    "BK-NOTE-A5-DOT": ("A5 Dotted Notebook", Decimal("7.25")),
    "SKU'QUOTE": ("Chef's Knife 8 inch", Decimal("59.00")),
    "SKU#HASH": ("Hashtag Sticker Pack #1", Decimal("4.99")),
    "SKU&AND": ("Salt & Pepper Grinder Set", Decimal("27.50")),
    "SKU+PLUS": ("Vitamin C+ Zinc, 60 tablets", Decimal("14.99")),
    "SKU/SLASH": ("Cutting Board 40/30 cm", Decimal("22.00")),
    "SKU?Q": ("Mystery Box?", Decimal("15.00")),
    "SKU%PCT": ("Dark Chocolate 85%", Decimal("3.49")),
    "CAFÉ-Ü-ß": ("Café Crème Bohnen, 1 kg", Decimal("18.90")),
}
PRODUCT_IDS = {sku: seed_id("product", sku) for sku in PRODUCTS}


SOLUTION_NAME = "AmazonSellerCentralSync"
PUBLISHER_NAME = "amazonsync"
PUBLISHER_ID = seed_id("publisher", PUBLISHER_NAME)
SOLUTION_ID = seed_id("solution", SOLUTION_NAME)

# table -> (SchemaName without prefix, @odata.type suffix, MaxLength) of the sync's columns
SOLUTION_COLUMNS: dict[str, list[tuple[str, str, int | None]]] = {
    "salesorder": [
        ("AmazonOrderId", "String", 100),
        ("AmazonMarketplaceId", "String", 20),
        ("AmazonFulfillmentChannel", "String", 10),
        ("AmazonOrderStatus", "String", 40),
        ("AmazonLastUpdatedTime", "DateTime", None),
        ("AmazonGrandTotal", "Money", None),
    ],
    "salesorderdetail": [
        ("AmazonOrderId", "String", 100),
        ("AmazonOrderItemId", "String", 100),
        ("AmazonSellerSku", "String", 200),
        ("AmazonAsin", "String", 20),
    ],
    "contact": [("AmazonBuyerId", "String", 100)],
    "account": [("AmazonMarketplaceId", "String", 20)],
}
# table -> (key SchemaName without prefix, its columns without prefix)
SOLUTION_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "salesorder": ("AmazonOrderKey", ("amazonorderid",)),
    "salesorderdetail": ("AmazonOrderItemKey", ("amazonorderid", "amazonorderitemid")),
    "contact": ("AmazonBuyerKey", ("amazonbuyerid",)),
    "account": ("AmazonMarketplaceKey", ("amazonmarketplaceid",)),
}


def _label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}
        ],
    }


def attribute_body(prefix: str, schema_suffix: str, kind: str, max_length: int | None) -> dict[str, Any]:
    """A POST EntityDefinitions(LogicalName='...')/Attributes body for one of the sync's columns."""
    body: dict[str, Any] = {
        "@odata.type": f"Microsoft.Dynamics.CRM.{kind}AttributeMetadata",
        "SchemaName": prefix + schema_suffix,
        "DisplayName": _label(" ".join(_words(schema_suffix))),
        "Description": _label("Written by the Amazon Seller Central sync."),
        "RequiredLevel": {"Value": "None", "CanBeChanged": True},
    }
    if kind == "String":
        body |= {"MaxLength": max_length, "FormatName": {"Value": "Text"}}
    elif kind == "Money":
        body |= {"PrecisionSource": 2}
    elif kind == "DateTime":
        body |= {"Format": "DateAndTime"}
    return body


def key_body(prefix: str, schema_suffix: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """A POST EntityDefinitions(LogicalName='...')/Keys body (EntityKeyMetadata)."""
    return {
        "SchemaName": prefix + schema_suffix,
        "DisplayName": _label(" ".join(_words(schema_suffix))),
        "KeyAttributes": [prefix + column for column in columns],
    }


def _words(camel: str) -> list[str]:
    words: list[str] = []
    for char in camel:
        if char.isupper() and words and not words[-1].isupper():
            words.append(char)
        elif words:
            words[-1] += char
        else:
            words.append(char)
    return words


def provision_solution(dataverse: DataverseEmulator, prefix: str) -> None:
    """The sync's publisher, solution, columns and (active) keys, through the emulator's definition hooks: a
    shortcut for the emulator's own tests (DataverseEmulator.load_seed). The sandbox provisions the way a
    deployment does instead (seed_out_of_the_box, then `python -m shared.provision`)."""
    dataverse.seed(
        "publishers",
        {
            "publisherid": PUBLISHER_ID,
            "uniquename": PUBLISHER_NAME,
            "friendlyname": "Amazon Seller Central sync",
            "customizationprefix": prefix.rstrip("_"),
            "customizationoptionvalueprefix": 10000,
        },
    )
    dataverse.seed(
        "solutions",
        {
            "solutionid": SOLUTION_ID,
            "uniquename": SOLUTION_NAME,
            "friendlyname": "Amazon Seller Central sync",
            "version": "1.0.0.0",
            "publisherid@odata.bind": f"/publishers({PUBLISHER_ID})",
        },
    )
    for table, columns in SOLUTION_COLUMNS.items():
        for schema_suffix, kind, max_length in columns:
            dataverse.create_attribute(
                table, attribute_body(prefix, schema_suffix, kind, max_length), SOLUTION_NAME
            )
    for table, (schema_suffix, key_columns) in SOLUTION_KEYS.items():
        dataverse.create_key(
            table, key_body(prefix, schema_suffix, key_columns), SOLUTION_NAME, build_now=True
        )


# Every new org has a default publisher with the "new" prefix (its solution is "Default Solution"); keys and
# custom columns it does not have: `python -m shared.provision dataverse` creates those.
DEFAULT_PUBLISHER_ID = seed_id("publisher", "DefaultPublisher")


def seed_out_of_the_box(dataverse: DataverseEmulator) -> None:
    """What a real org has before the app is installed: the default publisher, currencies, the Amazon price
    list, units and products. No custom column and no alternate key: provisioning adds those."""
    dataverse.seed(
        "publishers",
        {
            "publisherid": DEFAULT_PUBLISHER_ID,
            "uniquename": "DefaultPublisherorg",
            "friendlyname": "Default Publisher for org",
            "customizationprefix": "new",
            "customizationoptionvalueprefix": 10000,
        },
    )
    for entity_set, record in seed_records():
        dataverse.seed(entity_set, record)


def _bind(entity_set: str, record_id: str) -> str:
    return f"/{entity_set}({record_id})"


def seed_records() -> list[tuple[str, dict[str, Any]]]:
    """(entity set, Web API body) pairs in dependency order, ready for DataverseEmulator.seed()."""
    records: list[tuple[str, dict[str, Any]]] = []
    for code, (name, symbol, rate, precision) in CURRENCIES.items():
        records.append(
            (
                "transactioncurrencies",
                {
                    "transactioncurrencyid": CURRENCY_IDS[code],
                    "isocurrencycode": code,
                    "currencyname": name,
                    "currencysymbol": symbol,
                    "exchangerate": rate,
                    "currencyprecision": precision,
                },
            )
        )
    records.append(
        (
            "uomschedules",
            {"uomscheduleid": UNIT_GROUP_ID, "name": "Default Unit", "baseuomname": "Primary Unit"},
        )
    )
    # The base unit of a group has no baseuom of its own (Dataverse: "This value should always be null").
    records.append(
        (
            "uoms",
            {
                "uomid": UNIT_ID,
                "name": "Primary Unit",
                "quantity": Decimal(1),
                "isschedulebaseuom": True,
                "uomscheduleid@odata.bind": _bind("uomschedules", UNIT_GROUP_ID),
            },
        )
    )
    records.append(
        (
            "pricelevels",
            {
                "pricelevelid": PRICE_LIST_ID,
                "name": PRICE_LIST_NAME,
                "description": "Prices for orders synchronised from Amazon Seller Central",
                "transactioncurrencyid@odata.bind": _bind("transactioncurrencies", CURRENCY_IDS["USD"]),
            },
        )
    )
    records += [("products", product_record(sku, name, price)) for sku, (name, price) in PRODUCTS.items()]
    return records


def product_record(sku: str, name: str, price: Decimal) -> dict[str, Any]:
    """A product in the seeded unit group and price list (Web API body)."""
    return {
        "productid": seed_id("product", sku),
        "name": name,
        "productnumber": sku,
        "price": price,
        "quantitydecimal": 0,
        "statecode": 0,
        "statuscode": 1,
        "defaultuomid@odata.bind": _bind("uoms", UNIT_ID),
        "defaultuomscheduleid@odata.bind": _bind("uomschedules", UNIT_GROUP_ID),
        "pricelevelid@odata.bind": _bind("pricelevels", PRICE_LIST_ID),
        "transactioncurrencyid@odata.bind": _bind("transactioncurrencies", CURRENCY_IDS["USD"]),
    }


SAMPLE_STOCK_ON_HAND = Decimal(25)  # what the sample listings show on Amazon at the start, too


def sample_catalog_records() -> list[dict[str, Any]]:
    """The sample seller's catalog (sandbox/amazon_samples.py) as products with stock on hand, so the sandbox's
    orders find their products. Kept apart from seed_records(), whose exact rows the emulator's own tests rely on."""
    from sandbox.amazon_samples import CATALOG

    return [
        product_record(product.seller_sku, product.title, product.usd_price)
        | {"quantityonhand": SAMPLE_STOCK_ON_HAND}
        for product in CATALOG
    ]
