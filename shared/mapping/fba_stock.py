"""Amazon's FBA quantity -> the CRM's FBA stock row of a product in a marketplace: pure, no I/O."""

from __future__ import annotations

from shared.mapping.config import MappingConfig
from shared.model.crm import RecordWrite, Reference
from shared.model.inventory import FbaQuantity
from shared.timeutil import iso_z


def stock_key(marketplace_id: str, product_id: str) -> str:
    """The row's alternate-key value: a marketplace id and a GUID never hold a character Dataverse cannot
    address by key, whatever the SKU looks like."""
    return f"{marketplace_id}_{product_id}"


def fba_stock_record(quantity: FbaQuantity, product_id: str, mapping: MappingConfig) -> RecordWrite:
    columns = mapping.columns.fba_stock
    marketplace = mapping.marketplaces.get(quantity.marketplace_id)
    where = marketplace.name if marketplace else quantity.marketplace_id
    return RecordWrite(
        entity_set=columns.entity_set,
        key={columns.key: stock_key(quantity.marketplace_id, product_id)},
        fields={
            columns.name: f"{quantity.sku} @ {where}"[:100],
            columns.sku: quantity.sku,
            columns.marketplace_id: quantity.marketplace_id,
            columns.fulfillable: quantity.fulfillable,
            columns.as_of: iso_z(quantity.as_of),
        },
        binds={columns.product: Reference("products", product_id)},
    )
