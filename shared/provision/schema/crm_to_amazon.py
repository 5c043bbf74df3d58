"""Dynamics -> Amazon: the columns people fill when they ship an order, the FBA stock table with its product
lookup and key, and the Service Bus endpoint with the steps (and post-images) that post stock, price and
shipment changes to DATAVERSE_EVENTS_QUEUE.

Names come from the effective mapping ([columns.salesorder] carrier/tracking_number/ship_date, [columns.product],
[columns.fba_stock]). The product and price list item columns the steps read ship with Dataverse and are only
checked. Why a table for FBA stock, not columns on product: a seller's marketplaces vary (one row per product
and marketplace needs no new column per marketplace), and the app's FBA writes then never raise the product's own
stock step. Why post-images: an Update's Target holds only the changed columns, and a stock change needs the
SKU, a price change its product and price list, a shipment its Amazon order id and channel.

Dataverse authenticates to Service Bus with a shared access key only: the endpoint and steps are declared when
DATAVERSE_EVENTS_SAS_KEY is set (a Send-only rule on the queue; see the README), else this feature declares the
columns and the table alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.model.crm_schema import (
    AlternateKey,
    Column,
    ColumnType,
    CustomTable,
    Feature,
    ImageType,
    Lookup,
    ServiceBusEndpoint,
    ServiceEndpointStep,
    StepImage,
)
from shared.provision.schema.context import SchemaContext

if TYPE_CHECKING:
    from shared.config import Settings

STRING, INTEGER, DECIMAL, MONEY, DATETIME = (
    ColumnType.STRING,
    ColumnType.INTEGER,
    ColumnType.DECIMAL,
    ColumnType.MONEY,
    ColumnType.DATETIME,
)
ENDPOINT_NAME = "Amazon Seller Central sync: Dataverse events"
IMAGE = "Image"
PRICE_LIST_ITEM_COLUMNS = ("productid", "pricelevelid", "transactioncurrencyid", "amount")


def declare(context: SchemaContext) -> Feature:
    columns, prefix = context.mapping.columns, context.prefix
    order, product, stock = columns.salesorder, columns.product, columns.fba_stock
    return Feature(
        "crm-to-amazon",
        tables=(
            CustomTable(
                stock.table,
                "Amazon FBA stock",
                "Amazon FBA stock",
                stock.name,
                primary_name_length=100,
                description="Fulfillable FBA quantity of a product in an Amazon marketplace (written by the sync).",
                organization_owned=True,
            ),
        ),
        columns=(
            Column("salesorder", order.carrier, STRING, "Carrier", 100),
            Column("salesorder", order.tracking_number, STRING, "Tracking number", 100),
            Column("salesorder", order.ship_date, DATETIME, "Ship date"),
            Column("product", product.sku, STRING, "Product ID", 100),
            Column("product", product.quantity, DECIMAL, "Quantity on hand"),
            Column("productpricelevel", "amount", MONEY, "Amount"),
            Column(stock.table, stock.key, STRING, "Stock key", 100),
            Column(stock.table, stock.sku, STRING, "Seller SKU", 200),
            Column(stock.table, stock.marketplace_id, STRING, "Marketplace", 20),
            Column(stock.table, stock.fulfillable, INTEGER, "Fulfillable quantity"),
            Column(stock.table, stock.as_of, DATETIME, "Amazon updated on"),
        ),
        lookups=(
            Lookup(stock.table, stock.product, "product", f"{prefix}product_amazonfbastock", "Product"),
        ),
        keys=(AlternateKey(stock.table, f"{prefix}amazonfbastockkey", (stock.key,), "Amazon FBA stock"),),
        steps=_steps(context),
    )


def _steps(context: SchemaContext) -> tuple[ServiceEndpointStep, ...]:
    endpoint = _endpoint(context)
    if endpoint is None:
        return ()
    order, product = context.mapping.columns.salesorder, context.mapping.columns.product
    shipment_columns = (order.carrier, order.tracking_number, order.ship_date, "statecode")
    return (
        ServiceEndpointStep(
            "Amazon sync: product stock to Amazon",
            endpoint,
            "Update",
            "product",
            filtering_columns=(product.quantity,),
            images=(_post_image(product.sku, product.quantity, "statecode"),),
        ),
        *(
            ServiceEndpointStep(
                f"Amazon sync: price list item {message.lower()} to Amazon",
                endpoint,
                message,
                "productpricelevel",
                filtering_columns=("amount",) if message == "Update" else (),
                images=(_post_image(*PRICE_LIST_ITEM_COLUMNS),),
            )
            for message in ("Create", "Update")
        ),
        ServiceEndpointStep(
            "Amazon sync: shipment to Amazon",
            endpoint,
            "Update",
            "salesorder",
            filtering_columns=shipment_columns,
            images=(
                _post_image(
                    order.order_id,
                    order.marketplace_id,
                    order.fulfillment_channel,
                    order.amazon_status,
                    *shipment_columns,
                ),
            ),
        ),
    )


def _endpoint(context: SchemaContext) -> ServiceBusEndpoint | None:
    settings = context.settings
    if settings is None or settings.dataverse_events_sas_key is None:
        return None
    namespace = settings.service_bus_namespace or _connection_host(settings)
    if not namespace:
        return None
    return ServiceBusEndpoint(
        ENDPOINT_NAME,
        f"sb://{namespace}/",
        settings.dataverse_events_queue,
        settings.dataverse_events_sas_key_name,
        settings.dataverse_events_sas_key.get_secret_value(),
    )


def _connection_host(settings: Settings) -> str | None:
    """The namespace host of a ServiceBusConnection connection string (local development, the sandbox)."""
    if settings.service_bus_connection is None:
        return None
    for part in settings.service_bus_connection.get_secret_value().split(";"):
        if part.startswith("Endpoint=sb://"):
            return part.removeprefix("Endpoint=sb://").strip("/")
    return None


def _post_image(*columns: str) -> StepImage:
    return StepImage(IMAGE, ImageType.POST, tuple(sorted(set(columns))))
