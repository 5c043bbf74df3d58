"""Per-SKU-and-marketplace FBA stock last written to the CRM, so a late or repeated notification (or a sweep
reading an older summary) never overwrites a newer quantity, and an unchanged quantity is not written again.
Row key `<marketplaceId>|<sku>` in `fba-<n>` partitions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.rows import Rows, etag_of
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PREFIX = "fba"


@dataclass(frozen=True)
class AppliedStock:
    sku: str
    marketplace_id: str
    fulfillable: int | None = None  # None: never written
    as_of: datetime | None = None
    published: datetime | None = None  # the as_of last published to the inventory topic
    etag: str | None = None

    @property
    def name(self) -> str:
        return f"{self.marketplace_id}|{self.sku}"


class FbaStockStore:
    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self.rows = Rows(table, PREFIX, breaker=breaker)

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], AppliedStock]:
        """By (sku, marketplace id); a fresh AppliedStock for one never written."""
        wanted = {AppliedStock(sku, marketplace).name: (sku, marketplace) for sku, marketplace in keys}
        found = self.rows.read(wanted)
        return {key: _stock(key, found.get(name)) for name, key in wanted.items()}

    def save(self, stock: AppliedStock) -> AppliedStock:
        fields: dict[str, Any] = {"Sku": stock.sku, "MarketplaceId": stock.marketplace_id}
        optional = {"Fulfillable": stock.fulfillable, "AsOf": stock.as_of, "Published": stock.published}
        fields.update({name: value for name, value in optional.items() if value is not None})
        return replace(stock, etag=self.rows.write(stock.name, fields, stock.etag))


def _stock(key: tuple[str, str], entity: Any) -> AppliedStock:
    if entity is None:
        return AppliedStock(*key)
    fulfillable, as_of, published = entity.get("Fulfillable"), entity.get("AsOf"), entity.get("Published")
    return AppliedStock(
        key[0],
        key[1],
        fulfillable if isinstance(fulfillable, int) else None,
        as_utc(as_of) if isinstance(as_of, datetime) else None,
        as_utc(published) if isinstance(published, datetime) else None,
        etag_of(entity),
    )
