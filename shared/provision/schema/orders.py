"""Order sync: the columns the mapping writes on salesorder, salesorderdetail, contact and account, and the
alternate keys it upserts by.

Names come from the effective mapping (`[columns.*]` of defaults.toml and MAPPING_FILE), so a renamed column is
the one provisioned. Types and lengths are what the mapping writes into each field: a column under the
publisher prefix is created with them; any other (salesorder.name, shipto_city, ...) ships with Dataverse and is
only checked. A field mapped to "" is not written, so not declared.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel

from shared.model.crm_schema import AlternateKey, Column, ColumnType, Feature
from shared.provision.schema.context import SchemaContext

STRING, MEMO, MONEY, DATETIME = ColumnType.STRING, ColumnType.MEMO, ColumnType.MONEY, ColumnType.DATETIME


class FieldSpec(NamedTuple):
    type: ColumnType
    label: str
    max_length: int | None = None


# Amazon ids are short (order ids 19 characters, ASINs 10, marketplace ids up to 14); the lengths leave room
# without making the two-column line key wider than SQL Server's 900-byte index limit (2 x 100 x 2 bytes).
SALESORDER: dict[str, FieldSpec] = {
    "order_id": FieldSpec(STRING, "Amazon order id", 100),
    "name": FieldSpec(STRING, "Name", 300),
    "description": FieldSpec(MEMO, "Description", 2000),
    "marketplace_id": FieldSpec(STRING, "Amazon marketplace id", 20),
    "fulfillment_channel": FieldSpec(STRING, "Amazon fulfillment channel", 10),
    "amazon_status": FieldSpec(STRING, "Amazon order status", 40),
    "last_updated": FieldSpec(DATETIME, "Amazon last updated"),
    "grand_total": FieldSpec(MONEY, "Amazon grand total"),
    "freight": FieldSpec(MONEY, "Freight amount"),
    "submitted": FieldSpec(DATETIME, "Date submitted"),
    "deliver_by": FieldSpec(DATETIME, "Requested delivery date"),
    "ship_to_name": FieldSpec(STRING, "Ship to name", 200),
    "ship_to_line1": FieldSpec(STRING, "Ship to street 1", 250),
    "ship_to_line2": FieldSpec(STRING, "Ship to street 2", 250),
    "ship_to_line3": FieldSpec(STRING, "Ship to street 3", 250),
    "ship_to_city": FieldSpec(STRING, "Ship to city", 80),
    "ship_to_state": FieldSpec(STRING, "Ship to state or province", 50),
    "ship_to_postal_code": FieldSpec(STRING, "Ship to postal code", 20),
    "ship_to_country": FieldSpec(STRING, "Ship to country", 80),
    "ship_to_phone": FieldSpec(STRING, "Ship to phone", 50),
}
SALESORDERDETAIL: dict[str, FieldSpec] = {
    "order_id": FieldSpec(STRING, "Amazon order id", 100),
    "order_item_id": FieldSpec(STRING, "Amazon order item id", 100),
    "seller_sku": FieldSpec(STRING, "Amazon seller SKU", 200),
    "asin": FieldSpec(STRING, "ASIN", 20),
}
CONTACT: dict[str, FieldSpec] = {
    "buyer_id": FieldSpec(STRING, "Amazon buyer id", 100),  # a SHA-256 in hex: 64 characters
    "first_name": FieldSpec(STRING, "First name", 50),
    "last_name": FieldSpec(STRING, "Last name", 50),
    "email": FieldSpec(STRING, "Email", 100),
    "description": FieldSpec(MEMO, "Description", 2000),
}
ACCOUNT: dict[str, FieldSpec] = {
    "marketplace_id": FieldSpec(STRING, "Amazon marketplace id", 20),
    "name": FieldSpec(STRING, "Account name", 160),
}


def declare(context: SchemaContext) -> Feature:
    columns = context.mapping.columns
    tables: list[tuple[str, BaseModel, dict[str, FieldSpec]]] = [
        ("salesorder", columns.salesorder, SALESORDER),
        ("salesorderdetail", columns.salesorderdetail, SALESORDERDETAIL),
        ("account", columns.account, ACCOUNT),
    ]
    if context.mapping.customer.mode == "buyer_contact":  # otherwise no contact is ever written
        tables.append(("contact", columns.contact, CONTACT))
    declared = tuple(
        _column(table, getattr(names, field), spec)
        for table, names, specs in tables
        for field, spec in specs.items()
        if getattr(names, field)
    )
    return Feature("orders", columns=declared, keys=_keys(context))


def _column(table: str, name: str, spec: FieldSpec) -> Column:
    return Column(table, name, spec.type, spec.label, spec.max_length)


def _keys(context: SchemaContext) -> tuple[AlternateKey, ...]:
    columns, prefix = context.mapping.columns, context.prefix
    keys = [
        AlternateKey("salesorder", f"{prefix}amazonorderkey", (columns.salesorder.order_id,), "Amazon order"),
        AlternateKey(
            "salesorderdetail",
            f"{prefix}amazonorderitemkey",
            (columns.salesorderdetail.order_id, columns.salesorderdetail.order_item_id),
            "Amazon order item",
        ),
        AlternateKey(
            "account",
            f"{prefix}amazonmarketplacekey",
            (columns.account.marketplace_id,),
            "Amazon marketplace",
        ),
    ]
    if context.mapping.customer.mode == "buyer_contact":
        keys.append(
            AlternateKey("contact", f"{prefix}amazonbuyerkey", (columns.contact.buyer_id,), "Amazon buyer")
        )
    return tuple(keys)
