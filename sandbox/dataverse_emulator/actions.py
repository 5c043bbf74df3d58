"""The unbound actions CancelSalesOrder and FulfillSalesOrder: the only ways an order becomes Canceled or
Fulfilled (learn.microsoft.com: CancelSalesOrder / FulfillSalesOrder actions; both take `OrderClose`, an
orderclose entity whose `salesorderid@odata.bind` names the order, and `Status`, Edm.Int32, not nullable,
where -1 asks for the state's default status reason). Both answer 204 No Content.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .payload import BIND_SUFFIX, ResolveReference
from .schema import NavigationProperty
from .service import Service
from .tables.sales import CLOSED_ORDER_STATES, ORDER_CANCELED, ORDER_FULFILLED

ACTION_STATES = {"CancelSalesOrder": ORDER_CANCELED, "FulfillSalesOrder": ORDER_FULFILLED}
_ORDER_CLOSE_TYPE = "Microsoft.Dynamics.CRM.orderclose"
_ORDER_REFERENCE = NavigationProperty("salesorderid", "salesorderid", "salesorders")


def close_sales_order(service: Service, action: str, body: Any, resolve: ResolveReference) -> None:
    """Move the order named in `body` to the action's state; refuse an order that is already closed."""
    if not isinstance(body, dict):
        raise errors.unreadable_json(action)
    order_close, status = body.get("OrderClose"), body.get("Status")
    if not isinstance(order_close, dict) or order_close.get("@odata.type") != _ORDER_CLOSE_TYPE:
        raise errors.invalid_argument(
            f"{action} needs an OrderClose parameter of type '{_ORDER_CLOSE_TYPE}'."
        )
    if isinstance(status, bool) or not isinstance(status, int):
        raise errors.invalid_argument(f"{action} needs a Status parameter (Edm.Int32, -1 for the default).")
    reference = order_close.get("salesorderid" + BIND_SUFFIX)
    if not isinstance(reference, str):
        raise errors.invalid_argument("OrderClose must name the order with 'salesorderid@odata.bind'.")
    table = service.tables["salesorders"]
    order = service.store.get(table.entity_set, resolve(table, _ORDER_REFERENCE, reference))
    assert order is not None  # resolve() raised 404 otherwise
    if order["statecode"] in CLOSED_ORDER_STATES:
        raise errors.read_only_record()
    state = ACTION_STATES[action]
    status = table.default_status[state] if status == -1 else status
    option = table.statuses.get(status)
    if option is None or option.state != state:
        raise errors.invalid_state_status()
    service.update_state(table, order, {"statecode": state, "statuscode": status})
