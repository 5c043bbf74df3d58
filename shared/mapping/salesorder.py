"""Canonical Order -> the Dataverse records that represent it: a customer, a salesorder, its lines and the
state the order should end in. Pure: ids the mapping needs from Dataverse arrive in `Lookups`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.errors import PermanentError
from shared.mapping import pii
from shared.mapping.config import MappingConfig
from shared.mapping.document_lines import product_or_write_in
from shared.model.crm import Lookups, OrderWritePlan, RecordWrite, Reference
from shared.model.order import Order, OrderLine
from shared.timeutil import iso_z

# Dataverse column lengths (CDM maximumLength): longer text would make Dataverse refuse the whole order.
_MAX_LENGTH = {
    "name": 300,
    "description": 2000,
    "productdescription": 500,
    "shipto_name": 200,
    "shipto_line1": 250,
    "shipto_line2": 250,
    "shipto_line3": 250,
    "shipto_city": 80,
    "shipto_stateorprovince": 50,
    "shipto_postalcode": 20,
    "shipto_country": 80,
    "shipto_telephone": 50,
    "firstname": 50,
    "lastname": 50,
}
_CUSTOMER_LOOKUP = {"contacts": "customerid_contact", "accounts": "customerid_account"}


class UnknownCurrency(PermanentError):
    reason = "UnknownCurrency"


class PriceListNotFound(PermanentError):
    reason = "PriceListNotFound"


def plan_order(order: Order, config: MappingConfig, lookups: Lookups) -> OrderWritePlan:
    currency = order_currency(order, config)
    currency_id = lookups.currency_ids.get(currency) if currency else None
    if currency and currency_id is None:
        raise UnknownCurrency(
            f"currency {currency} is not set up in Dataverse (no transactioncurrency with isocurrencycode {currency})"
        )
    customer = _customer(order, config)
    order_key = {config.columns.salesorder.order_id: order.order_id}
    binds: dict[str, Reference] = {
        _CUSTOMER_LOOKUP[customer.entity_set]: Reference(customer.entity_set, customer.key)
    }
    if currency_id:
        binds["transactioncurrencyid"] = Reference("transactioncurrencies", currency_id)
    price_list = config.salesorder.price_list_for(currency) if currency else None
    if price_list:
        price_list_id = lookups.price_list_ids.get(price_list)
        if price_list_id is None:
            raise PriceListNotFound(f"price list {price_list!r} (pricelevel name) not found in Dataverse")
        binds["pricelevelid"] = Reference("pricelevels", price_list_id)
    salesorder = RecordWrite("salesorders", order_key, _salesorder_fields(order, config), binds)
    order_ref = Reference("salesorders", order_key)
    lines = tuple(
        _line(order, line, number, config, lookups, order_ref)
        for number, line in enumerate(order.lines, start=1)
    )
    unknown = tuple(sorted({line.seller_sku or "" for line in order.lines} - set(lookups.products)))
    return OrderWritePlan(
        order_id=order.order_id,
        amazon_updated=order.last_updated,
        status=order.status,
        customer=customer,
        salesorder=salesorder,
        lines=lines,
        target_state=config.status[order.status],
        unknown_skus=unknown,
        hold=bool(unknown) and config.products.unknown_sku == "hold",
    )


def order_currency(order: Order, config: MappingConfig) -> str | None:
    """The order's currency; while Amazon sends no money yet (Pending orders), its marketplace's."""
    if order.currency:
        return order.currency
    marketplace = config.marketplaces.get(order.marketplace_id or "")
    return marketplace.currency if marketplace else None


def _marketplace_name(order: Order, config: MappingConfig) -> str:
    marketplace = config.marketplaces.get(order.marketplace_id or "")
    return (
        order.marketplace_name
        or (marketplace.name if marketplace else None)
        or order.marketplace_id
        or "Amazon"
    )


def _formatted(template: str, order: Order, config: MappingConfig) -> str:
    return template.format(
        order_id=order.order_id,
        marketplace_id=order.marketplace_id or "",
        marketplace_name=_marketplace_name(order, config),
        fulfillment_channel=order.fulfillment_channel.value if order.fulfillment_channel else "",
    )


def _put(fields: dict[str, Any], column: str, value: Any) -> None:
    """Set a column unless the mapping switched it off (empty name); None clears the column."""
    if column:
        limit = _MAX_LENGTH.get(column)
        fields[column] = value[:limit] if isinstance(value, str) and limit else value


def _money(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _salesorder_fields(order: Order, config: MappingConfig) -> dict[str, Any]:
    columns = config.columns.salesorder
    policy = config.pii
    fields: dict[str, Any] = {}
    _put(fields, columns.name, _formatted(config.salesorder.name, order, config))
    _put(fields, columns.description, _formatted(config.salesorder.description, order, config))
    _put(fields, columns.marketplace_id, order.marketplace_id)
    _put(
        fields,
        columns.fulfillment_channel,
        order.fulfillment_channel.value if order.fulfillment_channel else None,
    )
    _put(fields, columns.amazon_status, order.amazon_status)
    _put(fields, columns.last_updated, iso_z(order.last_updated))
    _put(fields, columns.submitted, iso_z(order.created))
    _put(fields, columns.deliver_by, iso_z(order.deliver_by) if order.deliver_by else None)
    _put(fields, columns.grand_total, _money(order.grand_total.amount) if order.grand_total else None)
    _put(fields, columns.freight, _money(order.shipping.amount) if order.shipping else None)
    address = order.ship_to
    street = address.street_lines if address else ()
    _put(fields, columns.ship_to_name, pii.apply(policy.ship_to_name, address.name if address else None))
    for column, index in ((columns.ship_to_line1, 0), (columns.ship_to_line2, 1), (columns.ship_to_line3, 2)):
        _put(fields, column, pii.apply(policy.ship_to_street, street[index] if len(street) > index else None))
    _put(fields, columns.ship_to_city, pii.apply(policy.ship_to_city, address.city if address else None))
    _put(
        fields,
        columns.ship_to_state,
        pii.apply(policy.ship_to_state, address.state_or_region if address else None),
    )
    _put(
        fields,
        columns.ship_to_postal_code,
        pii.apply(policy.ship_to_postal_code, address.postal_code if address else None),
    )
    _put(
        fields,
        columns.ship_to_country,
        pii.apply(policy.ship_to_country, address.country_code if address else None),
    )
    _put(fields, columns.ship_to_phone, pii.apply(policy.ship_to_phone, address.phone if address else None))
    return fields


def _line(
    order: Order, line: OrderLine, number: int, config: MappingConfig, lookups: Lookups, order_ref: Reference
) -> RecordWrite:
    columns = config.columns.salesorderdetail
    key = {columns.order_id: order.order_id, columns.order_item_id: line.order_item_id}
    fields: dict[str, Any] = {
        "quantity": float(line.quantity),
        "lineitemnumber": number,
        # Amazon decides the price; without the override Dataverse would reprice from the price list.
        "ispriceoverridden": True,
        "priceperunit": _money(line.unit_price.amount) if line.unit_price else 0.0,
        "tax": _money(line.tax.amount) if line.tax else None,
        "manualdiscountamount": _money(line.discount.amount) if line.discount else None,
        "quantityshipped": float(line.quantity_shipped) if line.quantity_shipped is not None else None,
        "quantitycancelled": float(line.quantity_cancelled) if line.quantity_cancelled is not None else None,
    }
    _put(fields, columns.seller_sku, line.seller_sku)
    _put(fields, columns.asin, line.asin)
    binds: dict[str, Reference] = {"salesorderid": order_ref}
    description = " ".join(part for part in (line.seller_sku, line.title) if part) or line.order_item_id
    product_or_write_in(fields, binds, lookups.products.get(line.seller_sku or ""), description)
    return RecordWrite("salesorderdetails", key, fields, binds)


def _customer(order: Order, config: MappingConfig) -> RecordWrite:
    policy = config.pii
    buyer = order.buyer
    if config.customer.mode == "buyer_contact" and buyer and buyer.anonymized_email:
        columns = config.columns.contact
        buyer_ref = pii.buyer_id(buyer.anonymized_email)
        name = pii.apply(policy.buyer_name, buyer.name)
        first, _, last = (name or "").rpartition(" ")
        fields: dict[str, Any] = {}
        _put(fields, columns.first_name, first or None)
        _put(
            fields,
            columns.last_name,
            last or config.customer.anonymous_contact_name.format(buyer_ref=buyer_ref[5:13]),
        )
        _put(fields, columns.email, pii.apply(policy.buyer_email, buyer.anonymized_email))
        _put(fields, columns.description, f"Amazon buyer in {_marketplace_name(order, config)}")
        return RecordWrite("contacts", {columns.buyer_id: buyer_ref}, fields)
    columns_account = config.columns.account
    marketplace = order.marketplace_id or "UNKNOWN"
    fields = {}
    _put(
        fields,
        columns_account.name,
        config.customer.account_name.format(marketplace_name=_marketplace_name(order, config)),
    )
    return RecordWrite("accounts", {columns_account.marketplace_id: marketplace}, fields)
