"""Sales orders in Dataverse: read what a write needs to know, send many orders' change sets in one $batch.

The flow decides *what* to do (which orders, whether to read the CRM first, what to do about a failure);
this module does the talking, and `changesets` builds the requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.dataverse import odata
from shared.dataverse.batch import MAX_OPERATIONS
from shared.dataverse.changesets import (
    OrderInCrm,
    OrderWritten,
    addressable,
    is_idempotent,
    order_changeset,
    order_result,
    primary_key,
)
from shared.dataverse.client import DataverseClient
from shared.errors import SyncError
from shared.model.crm import CrmState, OrderWritePlan, RecordWrite

# customer + salesorder + state change, on top of one operation per line
OPERATIONS_PER_ORDER_BESIDES_LINES = 3


def operations_of(plan: OrderWritePlan) -> int:
    """How many $batch operations the order's change set can take (a $batch holds MAX_OPERATIONS)."""
    return len(plan.lines) + OPERATIONS_PER_ORDER_BESIDES_LINES


class CrmOrders:
    max_operations = MAX_OPERATIONS

    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    def locate(self, plan: OrderWritePlan, *, known_state: CrmState | None, read_state: bool) -> OrderInCrm:
        """What the write of `plan` must know: the GUIDs of records that cannot be addressed by key, and
        (when `read_state`, or when such a lookup reads the order anyway) the salesorder's actual state."""
        unaddressable = [record for record in plan.records if not addressable(record)]
        if not (read_state or unaddressable):
            return OrderInCrm(known_state)
        ids: dict[tuple[str, str], str] = {}
        order = self._find(plan.salesorder, select=("salesorderid", "statecode", "statuscode"))
        state = CrmState(int(order["statecode"]), int(order["statuscode"])) if order else None
        if order is not None:
            ids[plan.salesorder.identity] = str(order["salesorderid"])
        for record in unaddressable:
            if record is plan.salesorder:
                continue
            column = primary_key(record.entity_set)
            found = self._find(record, select=(column,))
            if found is not None:
                ids[record.identity] = str(found[column])
        return OrderInCrm(state, ids)

    def write(self, orders: Sequence[tuple[OrderWritePlan, OrderInCrm]]) -> list[OrderWritten | SyncError]:
        """One $batch, one atomic change set per order; results in the order given. A lost answer raises
        AmbiguousWrite (the batch may have committed): the caller re-reads before trying again."""
        built = [order_changeset(plan, crm) for plan, crm in orders]
        if not built:
            return []
        changesets = [changeset for changeset, _ in built]
        responses = self._client.batch(
            changesets, idempotent=all(is_idempotent(c) for c in changesets), continue_on_error=True
        )
        return [
            order_result(plan, crm, responses[index] if index < len(responses) else None, final_state)
            for index, ((plan, crm), (_, final_state)) in enumerate(zip(orders, built, strict=True))
        ]

    def salesorder(
        self, key: Mapping[str, str], *, salesorder_id: str | None = None
    ) -> tuple[str, CrmState] | None:
        """The sales order's GUID and state, read by its GUID when known, otherwise by its alternate key;
        None when Dataverse has no such order."""
        select = ("salesorderid", "statecode", "statuscode")
        if salesorder_id is not None:
            row = self._client.get("salesorders", salesorder_id, select=select)
        else:
            row = self._find(RecordWrite("salesorders", key, {}), select=select)
        if row is None:
            return None
        return str(row["salesorderid"]), CrmState(int(row["statecode"]), int(row["statuscode"]))

    def _find(self, record: RecordWrite, *, select: Sequence[str]) -> dict[str, Any] | None:
        if addressable(record):
            return self._client.get(record.entity_set, dict(record.key), select=select)
        rows = self._client.query(record.entity_set, filter=odata.all_of(record.key), select=select, top=1)
        return next(iter(rows), None)
