"""One order as Amazon and the CRM see it right now, and what the app last did with it (GET /api/orders/{id}).

- Amazon: getOrder, live (its status and lastUpdatedTime); an order Amazon does not know is unknown here too.
- CRM: the sales order's GUID and state read from Dataverse (by the GUID the checkpoint remembers, or by the
  order's alternate key); if Dataverse cannot be reached, the checkpoint's copy is shown and says so.
- Last sync: the order's checkpoint (when it last changed, the Amazon version the CRM holds, and whether a
  write is still pending, i.e. under way or to be repaired by the next change).

Only identifiers, statuses and times leave here: nothing of the buyer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.amazon.errors import SpApiNotFound
from shared.amazon.orders import OrdersApi
from shared.dataverse.orders import CrmOrders
from shared.errors import SyncError
from shared.state.store import OrderCheckpoint, StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AmazonSide:
    status: str  # Amazon's fulfillment status (UNSHIPPED, SHIPPED, ...)
    last_updated: datetime


@dataclass(frozen=True)
class CrmSide:
    salesorder_id: str | None
    statecode: int | None
    statuscode: int | None
    source: Literal["dataverse", "checkpoint"]


@dataclass(frozen=True)
class LastSync:
    at: datetime | None  # when the checkpoint last changed
    amazon_updated: datetime | None  # the Amazon version the CRM holds
    outcome: Literal["written", "pending"]


@dataclass(frozen=True)
class OrderView:
    order_id: str
    amazon: AmazonSide
    crm: CrmSide | None
    last_sync: LastSync | None

    @property
    def in_sync(self) -> bool:
        """The CRM holds Amazon's current version of the order."""
        sync = self.last_sync
        return (
            sync is not None
            and sync.outcome == "written"
            and sync.amazon_updated is not None
            and sync.amazon_updated >= self.amazon.last_updated
        )


class OrderLookup:
    def __init__(self, *, orders: OrdersApi, state: StateStore, crm: CrmOrders, order_id_column: str) -> None:
        self._orders = orders
        self._state = state
        self._crm = crm
        self._order_id_column = order_id_column  # the salesorder's alternate key (mapping: new_amazonorderid)

    def lookup(self, order_id: str) -> OrderView | None:
        """The order, or None when Amazon does not know it. Passing trouble with Amazon or Table Storage raises."""
        try:
            order = self._orders.get_order(order_id)
        except SpApiNotFound:
            return None
        checkpoint = self._state.get_order(order_id)
        return OrderView(
            order_id,
            AmazonSide(order.status.value, order.last_updated),
            self._crm_side(order_id, checkpoint),
            _last_sync(checkpoint),
        )

    def _crm_side(self, order_id: str, checkpoint: OrderCheckpoint | None) -> CrmSide | None:
        applied = checkpoint.applied if checkpoint is not None else None
        known_id = applied.salesorder_id if applied is not None else None
        try:
            found = self._crm.salesorder({self._order_id_column: order_id}, salesorder_id=known_id)
        except SyncError as exc:
            log.warning(
                "Order lookup %s: Dataverse not read (%s); showing the checkpoint", order_id, exc.reason
            )
            if applied is None:
                return None
            state = applied.crm_state
            return CrmSide(
                known_id,
                state.statecode if state else None,
                state.statuscode if state else None,
                "checkpoint",
            )
        if found is None:
            return None
        salesorder_id, state = found
        return CrmSide(salesorder_id, state.statecode, state.statuscode, "dataverse")


def _last_sync(checkpoint: OrderCheckpoint | None) -> LastSync | None:
    if checkpoint is None or (checkpoint.applied is None and checkpoint.pending is None):
        return None
    applied = checkpoint.applied
    return LastSync(
        checkpoint.updated_at,
        applied.amazon_updated if applied is not None else None,
        "pending" if checkpoint.pending is not None else "written",
    )
