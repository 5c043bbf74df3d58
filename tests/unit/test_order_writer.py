"""Order writer and the Dataverse order connector: what goes into each change set, and how uncertain outcomes
are repaired. A fake Dataverse client stands behind the real connector (request building included)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from shared.amazon.order_translation import to_canonical
from shared.dataverse.batch import ChangeSet, ChangeSetResponse, OperationResponse
from shared.dataverse.changesets import OrderWritten
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import AmbiguousWrite
from shared.dataverse.orders import CrmOrders
from shared.errors import SyncError
from shared.flows.order_writer import ClosedInCrm, OrderWriter, WriteJob
from shared.mapping.config import load_mapping
from shared.mapping.salesorder import plan_order
from shared.model.crm import CrmState, Lookups, OrderWritePlan
from tests.builders import amazon_order

USD = "11111111-0000-0000-0000-000000000001"
ORDER_GUID = "5d3c6b61-0f8a-4a55-8f27-3e9b1d2c4f10"


class FakeDataverse:
    """Answers every change set with success unless told otherwise; records what was sent."""

    def __init__(
        self, *, existing: dict[str, Any] | None = None, fail_first_batch: Exception | None = None
    ) -> None:
        self.batches: list[list[ChangeSet]] = []
        self.gets: list[tuple[str, Any]] = []
        self.queries: list[tuple[str, str]] = []
        self.existing = existing
        self.fail_first_batch = fail_first_batch
        self.failures: dict[int, OperationResponse] = {}  # batch number -> failure for every change set

    def batch(self, items: Sequence[Any], *, idempotent: bool, continue_on_error: bool = False) -> list[Any]:
        self.batches.append(list(items))
        self.last_idempotent = idempotent
        if self.fail_first_batch is not None and len(self.batches) == 1:
            raise self.fail_first_batch
        failure = self.failures.get(len(self.batches))
        if failure is not None:
            return [ChangeSetResponse([failure]) for _ in items]
        answers = []
        for changeset in items:
            answers.append(
                ChangeSetResponse(
                    [
                        OperationResponse(
                            204, {"odata-entityid": f"https://org/api/data/v9.2/x({ORDER_GUID})"}, None
                        )
                        for _ in changeset.operations
                    ]
                )
            )
        return answers

    def get(self, entity_set: str, key: Any, *, select: Any = ()) -> dict[str, Any] | None:
        self.gets.append((entity_set, key))
        return self.existing

    def query(
        self, entity_set: str, *, filter: str | None = None, select: Any = (), top: Any = None, **_: Any
    ) -> Iterator[dict[str, Any]]:
        self.queries.append((entity_set, filter or ""))
        return iter([self.existing] if self.existing and entity_set == "salesorders" else [])


def writer(dataverse: FakeDataverse, **options: Any) -> OrderWriter:
    return OrderWriter(CrmOrders(cast(DataverseClient, dataverse)), **options)


def plan(**changes: Any) -> OrderWritePlan:
    lookups = Lookups(currency_ids={"USD": USD}, price_list_ids={}, products={})
    return plan_order(to_canonical(amazon_order(**changes)), load_mapping(), lookups)


def status(value: str) -> dict[str, Any]:
    return {"fulfillment": {"fulfillmentStatus": value, "fulfilledBy": "MERCHANT"}}


def test_new_order_is_one_change_set_customer_order_lines_then_state() -> None:
    """A new unshipped order: upsert contact, order, line, then PATCH to Submitted/In Progress."""
    dataverse = FakeDataverse()
    [outcome] = writer(dataverse).write([WriteJob(plan(), crm_state=None)])
    [[changeset]] = dataverse.batches
    methods = [(op.method, op.url.split("(")[0]) for op in changeset.operations]
    assert methods == [
        ("PATCH", "contacts"),
        ("PATCH", "salesorders"),
        ("PATCH", "salesorderdetails"),
        ("PATCH", "salesorders"),
    ]
    assert changeset.operations[1].body is not None
    assert (
        changeset.operations[1]
        .body["customerid_contact@odata.bind"]
        .startswith("/contacts(new_amazonbuyerid='amzn-")
    )
    assert changeset.operations[2].body is not None
    assert (
        changeset.operations[2].body["salesorderid@odata.bind"]
        == "/salesorders(new_amazonorderid='113-1234567-1234567')"
    )
    assert changeset.operations[3].body == {"statecode": 1, "statuscode": 3}
    assert changeset.operations[3].headers == {"If-Match": "*"}
    assert dataverse.last_idempotent
    assert outcome == OrderWritten(CrmState(1, 3), ORDER_GUID)


def test_no_state_change_when_the_crm_is_already_there() -> None:
    """An order already Submitted/In Progress gets no state request."""
    dataverse = FakeDataverse()
    writer(dataverse).write([WriteJob(plan(), crm_state=CrmState(1, 3))])
    assert [op.url.split("(")[0] for op in dataverse.batches[0][0].operations] == [
        "contacts",
        "salesorders",
        "salesorderdetails",
    ]


def test_cancellation_uses_the_cancel_action() -> None:
    """Canceled is reached with CancelSalesOrder (OrderClose bound to the order), which is not idempotent."""
    dataverse = FakeDataverse()
    [outcome] = writer(dataverse).write([WriteJob(plan(**status("CANCELLED")), crm_state=CrmState(1, 3))])
    action = dataverse.batches[0][0].operations[-1]
    assert (action.method, action.url) == ("POST", "CancelSalesOrder")
    assert action.body is not None
    assert action.body["Status"] == 4
    assert (
        action.body["OrderClose"]["salesorderid@odata.bind"]
        == "/salesorders(new_amazonorderid='113-1234567-1234567')"
    )
    assert action.body["OrderClose"]["@odata.type"] == "Microsoft.Dynamics.CRM.orderclose"
    assert not dataverse.last_idempotent
    assert isinstance(outcome, OrderWritten)
    assert outcome.state == (2, 4)


def test_shipment_uses_the_fulfil_action() -> None:
    """Fulfilled/Complete is reached with FulfillSalesOrder."""
    dataverse = FakeDataverse()
    writer(dataverse).write([WriteJob(plan(**status("SHIPPED")), crm_state=CrmState(1, 3))])
    action = dataverse.batches[0][0].operations[-1]
    assert (action.url, action.body["Status"] if action.body else None) == ("FulfillSalesOrder", 100001)


def test_status_never_moves_backwards() -> None:
    """A Pending snapshot for an order already Submitted writes fields but no state change."""
    dataverse = FakeDataverse()
    [outcome] = writer(dataverse).write([WriteJob(plan(**status("PENDING")), crm_state=CrmState(1, 3))])
    assert all(
        op.method == "PATCH" and "statecode" not in (op.body or {})
        for op in dataverse.batches[0][0].operations
    )
    assert isinstance(outcome, OrderWritten)
    assert outcome.state == (1, 3)


def test_closed_orders_are_left_alone() -> None:
    """A repair that finds the order fulfilled in the CRM writes nothing (closed orders are read-only)."""
    dataverse = FakeDataverse(existing={"salesorderid": ORDER_GUID, "statecode": 3, "statuscode": 100001})
    [outcome] = writer(dataverse).write(
        [WriteJob(plan(**status("SHIPPED")), crm_state=CrmState(1, 3), repair=True)]
    )
    assert dataverse.batches == []
    assert outcome == ClosedInCrm(CrmState(3, 100001), ORDER_GUID)


def test_repair_reads_the_crm_state_before_choosing_the_state_action() -> None:
    """An earlier attempt that already cancelled the order is not cancelled twice."""
    dataverse = FakeDataverse(existing={"salesorderid": ORDER_GUID, "statecode": 1, "statuscode": 3})
    writer(dataverse).write([WriteJob(plan(), crm_state=None, repair=True)])
    assert dataverse.gets == [("salesorders", {"new_amazonorderid": "113-1234567-1234567"})]
    assert not any(op.body and "statecode" in op.body for op in dataverse.batches[0][0].operations)


def test_lost_batch_answers_are_re_read_and_retried_once() -> None:
    """AmbiguousWrite: read the CRM, then send again; the second attempt skips what is done."""
    dataverse = FakeDataverse(
        existing={"salesorderid": ORDER_GUID, "statecode": 2, "statuscode": 4},
        fail_first_batch=AmbiguousWrite("answer lost"),
    )
    [outcome] = writer(dataverse).write([WriteJob(plan(**status("CANCELLED")), crm_state=CrmState(1, 3))])
    assert len(dataverse.batches) == 1  # the retry found the order cancelled: nothing more to send
    assert isinstance(outcome, ClosedInCrm)


def test_refusals_are_retried_once_as_a_repair() -> None:
    """A refused change set is retried after reading the CRM (the checkpoint may be outdated)."""
    dataverse = FakeDataverse()
    dataverse.failures[1] = OperationResponse(400, {}, {"error": {"code": "0x80040203", "message": "closed"}})
    dataverse.existing = {"salesorderid": ORDER_GUID, "statecode": 3, "statuscode": 100001}
    [outcome] = writer(dataverse).write([WriteJob(plan(), crm_state=None)])
    assert isinstance(outcome, ClosedInCrm)


def test_permanent_refusals_surface_after_the_repair_attempt() -> None:
    """A change set refused twice reports Dataverse's error."""
    dataverse = FakeDataverse()
    failure = OperationResponse(
        400, {}, {"error": {"code": "0x80060888", "message": "Could not find a property named 'x'"}}
    )
    dataverse.failures[1] = failure
    dataverse.failures[2] = failure
    [outcome] = writer(dataverse).write([WriteJob(plan(), crm_state=None)])
    assert isinstance(outcome, SyncError)
    assert not outcome.transient
    assert "0x80060888" in str(outcome)


def test_unaddressable_order_ids_are_created_by_post_and_referenced_by_content_id() -> None:
    """An order id with '/' cannot be a key in the URL: looked up by $filter, created by POST, lines bind $n."""
    dataverse = FakeDataverse()
    writer(dataverse).write([WriteJob(plan(orderId="113/ODD+ID"), crm_state=None)])
    operations = dataverse.batches[0][0].operations
    assert dataverse.queries[0][0] == "salesorders"
    assert "113/ODD+ID" in dataverse.queries[0][1]
    order = operations[1]
    assert (order.method, order.url) == ("POST", "salesorders")
    assert order.body is not None
    assert order.body["new_amazonorderid"] == "113/ODD+ID"
    line = operations[2]
    assert (line.method, line.url) == ("POST", "salesorderdetails")
    assert line.body is not None
    assert line.body["salesorderid@odata.bind"] == f"${order.content_id}"
    assert operations[3].url == f"${order.content_id}"


def test_unaddressable_existing_orders_are_patched_by_guid() -> None:
    """Found by $filter, the order is updated by its GUID with If-Match: * (never creates a twin)."""
    dataverse = FakeDataverse(existing={"salesorderid": ORDER_GUID, "statecode": 0, "statuscode": 1})
    writer(dataverse).write([WriteJob(plan(orderId="113/ODD"), crm_state=CrmState(0, 1))])
    order = dataverse.batches[0][0].operations[1]
    assert (order.method, order.url, order.headers) == (
        "PATCH",
        f"salesorders({ORDER_GUID})",
        {"If-Match": "*"},
    )


def test_orders_are_grouped_into_batches() -> None:
    """Several orders share one $batch request, one change set each, up to the configured size."""
    dataverse = FakeDataverse()
    jobs = [WriteJob(plan(orderId=f"113-0000000-000000{index}"), crm_state=None) for index in range(5)]
    outcomes = writer(dataverse, orders_per_batch=2).write(jobs)
    assert [len(batch) for batch in dataverse.batches] == [2, 2, 1]
    assert len(outcomes) == len(jobs)
    assert all(isinstance(outcome, OrderWritten) for outcome in outcomes)
