"""What the CRM holds now for one SKU's listings, read for a resync: the product's stock on hand and its price
list items. Events carry these values in their images; a resync has no event, so it reads the same columns.

Each value keeps the version of the row it was read from (modifiedon, then RowVersion), the same kind of stamp
an event of that row carries, so a CRM change made after the read still wins over the resync's value.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.model.crm_events import VersionStamp, as_datetime, as_decimal

ROW_VERSION = ("modifiedon", "versionnumber")


@dataclass(frozen=True)
class ProductStock:
    product_id: str
    stock: Decimal | None  # None: the product has no stock on hand recorded
    version: VersionStamp


@dataclass(frozen=True)
class PriceItem:
    price_list_id: str
    currency_id: str | None  # the item's own currency; None means its price list's
    amount: Decimal | None
    version: VersionStamp


class ListingValuesReader:
    def __init__(
        self,
        client: DataverseClient,
        *,
        sku_column: str = "productnumber",
        quantity_column: str = "quantityonhand",
    ) -> None:
        self._client = client
        self._sku_column = sku_column
        self._quantity_column = quantity_column

    def product(self, sku: str, *, read_at: datetime) -> ProductStock | None:
        """The product whose SKU column is `sku` (an active one first, should several share it), or None."""
        rows = list(
            self._client.query(
                "products",
                select=("productid", "statecode", self._quantity_column, *ROW_VERSION),
                filter=odata.eq(self._sku_column, sku),
                top=10,
            )
        )
        if not rows:
            return None
        row = min(rows, key=lambda found: found.get("statecode") != 0)
        return ProductStock(
            str(row["productid"]), as_decimal(row.get(self._quantity_column)), _version(row, read_at)
        )

    def price_items(self, product_id: str, *, read_at: datetime) -> list[PriceItem]:
        """The product's items in every price list (which of them Amazon's are is the mapping's business)."""
        rows = self._client.query(
            "productpricelevels",
            select=("amount", "_pricelevelid_value", "_transactioncurrencyid_value", *ROW_VERSION),
            filter=odata.eq("_productid_value", uuid.UUID(product_id)),
        )
        return [
            PriceItem(
                str(row["_pricelevelid_value"]),
                str(row["_transactioncurrencyid_value"]) if row.get("_transactioncurrencyid_value") else None,
                as_decimal(row.get("amount")),
                _version(row, read_at),
            )
            for row in rows
            if row.get("_pricelevelid_value")
        ]


def _version(row: dict[str, Any], read_at: datetime) -> VersionStamp:
    """The row's version; without modifiedon, the moment before the read (the row was as read by then)."""
    modified = as_datetime(row.get("modifiedon"))
    number = row.get("versionnumber")
    sequence = int(number) if isinstance(number, int) or (isinstance(number, str) and number.isdigit()) else 0
    return VersionStamp(modified or read_at, sequence)
