"""Dataverse's wire protocol for writing an order: request building only, no I/O (testable without HTTP).

One order is one atomic change set: upsert the customer, the salesorder and its lines by alternate key,
then move the order to its target state — PATCH for Active/Submitted, the CancelSalesOrder and
FulfillSalesOrder actions for Canceled/Fulfilled, which Dataverse does not allow by PATCH. Records whose key
values Dataverse cannot address in a URL are written by GUID when the CRM already has them, created by
POST (with a Content-ID the later operations refer to) when it has not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.dataverse import odata
from shared.dataverse.batch import (
    BatchResponseItem,
    ChangeSet,
    ChangeSetResponse,
    Operation,
    OperationResponse,
)
from shared.dataverse.errors import error_from_response
from shared.errors import SyncError
from shared.model.crm import (
    CANCELED,
    FULFILLED,
    NEW_ORDER_STATE,
    CrmState,
    OrderWritePlan,
    RecordWrite,
    Reference,
    StateTarget,
    key_text,
)

_STATE_ACTIONS = {CANCELED: "CancelSalesOrder", FULFILLED: "FulfillSalesOrder"}
_PRIMARY_KEYS = {
    "salesorders": "salesorderid",
    "salesorderdetails": "salesorderdetailid",
    "contacts": "contactid",
    "accounts": "accountid",
    "invoices": "invoiceid",
    "invoicedetails": "invoicedetailid",
}

Identity = tuple[str, str]  # RecordWrite.identity


@dataclass(frozen=True)
class OrderInCrm:
    """What a write needs to know of the CRM: the salesorder's state and the GUIDs of records that cannot be
    addressed by key. `state` None: the order is not in the CRM (or we have no reason to think it is)."""

    state: CrmState | None
    ids: Mapping[Identity, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderWritten:
    state: CrmState  # the salesorder's state after the write
    salesorder_id: str | None


def primary_key(entity_set: str) -> str:
    """The GUID column of an entity set; the product's custom tables are named `<logical name>s`."""
    return _PRIMARY_KEYS.get(entity_set) or entity_set.removesuffix("s") + "id"


def addressable(record: RecordWrite) -> bool:
    return all(odata.addressable(value) for value in record.key.values())


def order_changeset(plan: OrderWritePlan, crm: OrderInCrm) -> tuple[ChangeSet, CrmState]:
    """The change set writing `plan` over what the CRM holds, and the state it leaves the order in."""
    changeset = ChangeSet()
    references: dict[Identity, str] = {}
    for record in plan.records:
        add_upsert(changeset, record, crm.ids, references)
    current = crm.state or NEW_ORDER_STATE
    order_url = bind_url(Reference(plan.salesorder.entity_set, plan.salesorder.key), crm.ids, references)
    operation = state_operation(current, plan.target_state, order_url)
    if operation is None:
        return changeset, current
    changeset.add(operation)
    return changeset, plan.target_state.state


def state_operation(current: CrmState, target: StateTarget, order_url: str) -> Operation | None:
    """The request that moves the order from `current` to `target`, or None (already there, or backwards:
    a lower statecode is an earlier stage of the order's life, and Amazon's statuses never go back)."""
    if current == target.state or target.statecode < current.statecode:
        return None
    action = _STATE_ACTIONS.get(target.statecode)
    if action is None:
        url = order_url.removeprefix("/")
        return Operation(
            "PATCH", url, {"statecode": target.statecode, "statuscode": target.statuscode}, {"If-Match": "*"}
        )
    close = {
        "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
        "subject": "Amazon order " + ("cancelled" if target.statecode == CANCELED else "shipped"),
        "salesorderid@odata.bind": order_url,
    }
    return Operation("POST", action, {"OrderClose": close, "Status": target.statuscode})


def is_idempotent(changeset: ChangeSet) -> bool:
    """A change set without POST (creates, actions) can be sent again without writing twice."""
    return not any(operation.method == "POST" for operation in changeset.operations)


def order_result(
    plan: OrderWritePlan, crm: OrderInCrm, response: BatchResponseItem | None, final_state: CrmState
) -> OrderWritten | SyncError:
    """What the change set of `plan` achieved, from its part of the $batch answer."""
    error = response_error(response, what=f"write of order {plan.order_id}")
    if error is not None:
        return error
    assert response is not None
    answers = response.responses if isinstance(response, ChangeSetResponse) else [response]
    salesorder_id = crm.ids.get(plan.salesorder.identity) or _entity_id(
        answers[1] if len(answers) > 1 else None
    )
    return OrderWritten(final_state, salesorder_id)


def response_error(response: BatchResponseItem | None, *, what: str) -> SyncError | None:
    """The typed error of a failed $batch item (a change set fails as a whole), or None when it succeeded."""
    if response is None:
        return error_from_response(503, None, what=f"{what} ($batch item not answered)")
    failure = (
        response.failure if isinstance(response, ChangeSetResponse) else (None if response.ok else response)
    )
    if failure is None:
        return None
    return error_from_response(failure.status, failure.body, failure.headers, what=what)


def add_upsert(
    changeset: ChangeSet, record: RecordWrite, ids: Mapping[Identity, str], references: dict[Identity, str]
) -> None:
    body: dict[str, Any] = dict(record.fields)
    for navigation, target in record.binds.items():
        body[f"{navigation}@odata.bind"] = bind_url(target, ids, references)
    if addressable(record):
        changeset.add(Operation("PATCH", odata.entity_path(record.entity_set, dict(record.key)), body))
        return
    known = ids.get(record.identity)
    if known is not None:
        changeset.add(
            Operation("PATCH", odata.entity_path(record.entity_set, known), body, {"If-Match": "*"})
        )
        references[record.identity] = f"/{record.entity_set}({known})"
        return
    body.update(record.key)  # a POST must carry its own key values
    references[record.identity] = changeset.add(Operation("POST", record.entity_set, body))


def bind_url(target: Reference, ids: Mapping[Identity, str], references: Mapping[Identity, str]) -> str:
    if isinstance(target.key, str):
        return odata.bind(target.entity_set, target.key)
    identity = (target.entity_set, key_text(target.key))
    if identity in references:
        return references[identity]
    if identity in ids:
        return odata.bind(target.entity_set, ids[identity])
    return odata.bind(target.entity_set, dict(target.key))


def _entity_id(response: OperationResponse | None) -> str | None:
    """The GUID in an OData-EntityId header: '.../salesorders(<guid>)'."""
    if response is None:
        return None
    location = response.headers.get("odata-entityid", "")
    start = location.rfind("(")
    candidate = location[start + 1 : -1] if start >= 0 and location.endswith(")") else ""
    return candidate if odata.is_guid(candidate) else None
