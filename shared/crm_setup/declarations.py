"""The Dynamics side of the Dynamics -> Amazon direction, as data: which columns, tables, keys, service endpoint
and steps (with images) must exist. Column names come from the mapping, so a mapping file that renames a
column provisions that name. Option values are the Dataverse table reference's (serviceendpoint contract
Queue = 2, messageformat Json = 2, authtype SAS Key = 2 / Connection String = 7; step stage PostOperation = 40,
mode Asynchronous = 1; image type PostImage = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.mapping.config import MappingConfig

CRM = "Microsoft.Dynamics.CRM."
QUEUE_CONTRACT, JSON_FORMAT = 2, 2
SAS_KEY, CONNECTION_STRING = 2, 7
POST_OPERATION, ASYNCHRONOUS, POST_IMAGE = 40, 1, 1
IMAGE_ALIAS = "Image"


@dataclass(frozen=True)
class Column:
    table: str
    body: Mapping[str, Any]  # AttributeMetadata, as POST EntityDefinitions(...)/Attributes takes it

    @property
    def logical_name(self) -> str:
        return str(self.body["SchemaName"]).lower()


@dataclass(frozen=True)
class Key:
    table: str
    schema_name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    name: str
    message: str  # Create / Update
    table: str
    filtering_attributes: tuple[str, ...]  # an Update step fires only when one of these was sent
    image_attributes: tuple[str, ...]  # the post-image (alias "Image"): what the Target may not hold


@dataclass(frozen=True)
class Feature:
    tables: tuple[Mapping[str, Any], ...]  # EntityMetadata bodies
    relationships: tuple[Mapping[str, Any], ...]  # OneToManyRelationshipMetadata bodies
    columns: tuple[Column, ...]
    keys: tuple[Key, ...]
    endpoint_name: str
    steps: tuple[Step, ...] = field(default_factory=tuple)


def crm_to_amazon(mapping: MappingConfig) -> Feature:
    order = mapping.columns.salesorder
    stock = mapping.columns.fba_stock
    product = mapping.columns.product
    return Feature(
        tables=(_fba_stock_table(stock.table, stock.name),),
        relationships=(_product_lookup(stock.table, stock.product),),
        columns=(
            Column("salesorder", _string(order.carrier, "Carrier", 100)),
            Column("salesorder", _string(order.tracking_number, "Tracking Number", 100)),
            Column("salesorder", _datetime(order.ship_date, "Ship Date")),
            Column(stock.table, _string(stock.key, "Stock Key", 100)),
            Column(stock.table, _string(stock.sku, "Seller SKU", 200)),
            Column(stock.table, _string(stock.marketplace_id, "Marketplace", 20)),
            Column(stock.table, _integer(stock.fulfillable, "Fulfillable Quantity")),
            Column(stock.table, _datetime(stock.as_of, "Amazon Updated On")),
        ),
        keys=(Key(stock.table, f"{stock.key}_key", (stock.key,)),),
        endpoint_name="Amazon Seller Central sync: Dataverse events",
        steps=(
            Step(
                "Amazon sync: product stock to Amazon",
                "Update",
                "product",
                (product.quantity,),
                (product.sku, product.quantity, "statecode"),
            ),
            *(
                Step(
                    f"Amazon sync: price list item {message.lower()} to Amazon",
                    message,
                    "productpricelevel",
                    ("amount",) if message == "Update" else (),
                    ("productid", "pricelevelid", "transactioncurrencyid", "amount"),
                )
                for message in ("Create", "Update")
            ),
            Step(
                "Amazon sync: shipment to Amazon",
                "Update",
                "salesorder",
                (order.carrier, order.tracking_number, order.ship_date, "statecode"),
                (
                    order.order_id,
                    order.marketplace_id,
                    order.fulfillment_channel,
                    order.amazon_status,
                    order.carrier,
                    order.tracking_number,
                    order.ship_date,
                    "statecode",
                ),
            ),
        ),
    )


def endpoint_body(
    name: str,
    namespace: str,
    queue: str,
    *,
    sas_key_name: str | None,
    sas_key: str | None,
    connection_string: str | None,
) -> dict[str, Any]:
    """A serviceendpoint row for a Service Bus queue in the JSON message format (Dataverse's default is the .NET
    binary format, which nothing here reads). Dataverse authenticates to Service Bus with SAS only."""
    body: dict[str, Any] = {
        "name": name,
        "contract": QUEUE_CONTRACT,
        "messageformat": JSON_FORMAT,
        "namespaceaddress": f"sb://{namespace}/",
        "path": queue,
        "userclaim": 1,
    }
    if connection_string:
        body |= {"authtype": CONNECTION_STRING, "authvalue": connection_string}
    else:
        body |= {"authtype": SAS_KEY, "saskeyname": sas_key_name, "saskey": sas_key}
    return body


# --- bodies -----------------------------------------------------------------------------------------------
def _label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": CRM + "Label",
        "LocalizedLabels": [{"@odata.type": CRM + "LocalizedLabel", "Label": text, "LanguageCode": 1033}],
    }


def _common(kind: str, schema_name: str, label: str) -> dict[str, Any]:
    return {
        "@odata.type": f"{CRM}{kind}AttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": _label(label),
        "Description": _label("Written by the Amazon Seller Central sync."),
        "RequiredLevel": {"Value": "None", "CanBeChanged": True},
    }


def _string(schema_name: str, label: str, max_length: int) -> dict[str, Any]:
    return _common("String", schema_name, label) | {"MaxLength": max_length, "FormatName": {"Value": "Text"}}


def _integer(schema_name: str, label: str) -> dict[str, Any]:
    return _common("Integer", schema_name, label) | {
        "MinValue": 0,
        "MaxValue": 2_147_483_647,
        "Format": "None",
    }


def _datetime(schema_name: str, label: str) -> dict[str, Any]:
    return _common("DateTime", schema_name, label) | {"Format": "DateAndTime"}


def _fba_stock_table(schema_name: str, name_column: str) -> dict[str, Any]:
    return {
        "@odata.type": CRM + "EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": _label("Amazon FBA Stock"),
        "DisplayCollectionName": _label("Amazon FBA Stock"),
        "Description": _label(
            "Fulfillable FBA quantity of a product in an Amazon marketplace (written by the sync)."
        ),
        "OwnershipType": "OrganizationOwned",
        "IsActivity": False,
        "HasNotes": False,
        "HasActivities": False,
        "Attributes": [_string(name_column, "Name", 100) | {"IsPrimaryName": True}],
    }


def _product_lookup(table: str, lookup: str) -> dict[str, Any]:
    """product 1:N FBA stock: the lookup column, bound through a navigation property of the same name."""
    return {
        "@odata.type": CRM + "OneToManyRelationshipMetadata",
        "SchemaName": f"{lookup}_product",
        "ReferencedEntity": "product",
        "ReferencedAttribute": "productid",
        "ReferencingEntity": table,
        "ReferencingEntityNavigationPropertyName": lookup,
        "Lookup": {
            "@odata.type": CRM + "LookupAttributeMetadata",
            "SchemaName": lookup,
            "DisplayName": _label("Product"),
        },
    }
