"""Per-order shipment state: the units Amazon has confirmed per order item, the packages sent, and the package
under way (claimed before confirmShipment, cleared after), so a redelivery never confirms a package twice and
a crash between the call and the record is repaired by asking Amazon first. Row key: the AmazonOrderId, in
`shp-<n>` partitions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.rows import Rows, etag_of
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PREFIX = "shp"


@dataclass(frozen=True)
class PendingPackage:
    reference_id: str
    items: dict[str, int]
    since: datetime


@dataclass(frozen=True)
class ShipmentState:
    order_id: str
    confirmed: dict[str, int] = field(default_factory=dict)  # orderItemId -> units Amazon has
    packages: int = 0  # packages confirmed so far (the next one's reference id is this + 1)
    pending: PendingPackage | None = None
    etag: str | None = None

    def confirm(self, items: dict[str, int]) -> ShipmentState:
        """The pending package landed: its units are confirmed, the claim is cleared."""
        confirmed = dict(self.confirmed)
        for item_id, quantity in items.items():
            confirmed[item_id] = confirmed.get(item_id, 0) + quantity
        return replace(self, confirmed=confirmed, packages=self.packages + 1, pending=None)


class ShipmentStore:
    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self.rows = Rows(table, PREFIX, breaker=breaker)

    def get(self, order_id: str) -> ShipmentState:
        entity = self.rows.read([order_id]).get(order_id)
        if entity is None:
            return ShipmentState(order_id)
        pending = None
        if entity.get("PendingRef"):
            since = entity.get("PendingSince")
            pending = PendingPackage(
                str(entity["PendingRef"]),
                _units(entity.get("PendingItems")),
                as_utc(since) if isinstance(since, datetime) else datetime.min,
            )
        packages = entity.get("Packages")
        return ShipmentState(
            order_id,
            _units(entity.get("Confirmed")),
            packages if isinstance(packages, int) else 0,
            pending,
            etag_of(entity),
        )

    def save(self, state: ShipmentState) -> ShipmentState:
        fields: dict[str, Any] = {
            "OrderId": state.order_id,
            "Confirmed": json.dumps(state.confirmed, sort_keys=True),
            "Packages": state.packages,
        }
        if state.pending is not None:
            fields.update(
                PendingRef=state.pending.reference_id,
                PendingItems=json.dumps(state.pending.items, sort_keys=True),
                PendingSince=state.pending.since,
            )
        return replace(state, etag=self.rows.write(state.order_id, fields, state.etag))


def _units(text: Any) -> dict[str, int]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)} if isinstance(value, dict) else {}
