"""Order sync over in-memory fakes: what each kind of notification costs (fetches, claims, writes), what is
written, and how every message is settled. The fakes keep the real translation, mapping and change-set
building; only Amazon, Table Storage and Dataverse are replaced. No sockets, no sleeping."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from shared.amazon.errors import SpApiThrottled, SpApiTransientError
from shared.amazon.order_translation import to_canonical
from shared.amazon.orders import OrdersApi
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.errors import DataverseError, DataverseThrottled, DataverseTransientError
from shared.dataverse.orders import CrmOrders
from shared.errors import SyncError
from shared.flows import order_claims, order_sync
from shared.flows.order_claims import CONTENTION_POLL_SECONDS, CONTENTION_WAIT_SECONDS, PENDING_LEASE
from shared.flows.order_sync import Done, OrderSync, SyncReport
from shared.flows.order_writer import OrderWriter
from shared.mapping.config import MappingConfig, ProductPolicy, load_mapping
from shared.mapping.salesorder import plan_order
from shared.messaging import InboundMessage
from shared.model.applied import AppliedOrder
from shared.model.crm import CrmState, OrderWritePlan, ProductRef
from shared.model.order import Order, OrderStatus
from shared.servicebus.settlement import RetrySchedule
from shared.state.store import OrderCheckpoint, PendingWrite, StateStore, StateUnavailable
from tests.builders import amazon_order, body, order_change
from tests.fakes import CrmSalesOrder, FakeCatalog, FakeCrmOrders, FakeOrdersApi, FakeStateStore

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CHANGED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # the builders' order: notified and last updated then
ORDER_ID = "113-1234567-1234567"  # the builders' order
SELLER_ID = "A3TH9S8BH6GOGM"  # the builders' seller
USD_ID = "11111111-0000-0000-0000-000000000001"
PRODUCT = ProductRef("22222222-0000-0000-0000-000000000001", None)
GUID = "5d3c6b61-0f8a-4a55-8f27-3e9b1d2c4f10"
SUBMITTED = CrmState(1, 3)  # where an Unshipped order goes
MAPPING = load_mapping()


def at(minutes: float) -> str:
    """The time `minutes` after CHANGED, written the way both Amazon APIs write it."""
    return (CHANGED + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def notification(message_id: str = "m-1", **changes: Any) -> InboundMessage:
    """An ORDER_CHANGE message (the builders' order, Unshipped, changed at CHANGED unless told otherwise)."""
    return InboundMessage(message_id, body(order_change(**changes)))


@dataclass
class Rig:
    """OrderSync over the fakes, with a clock that only moves when the flow sleeps."""

    amazon: FakeOrdersApi = field(default_factory=FakeOrdersApi)
    catalog: FakeCatalog = field(
        default_factory=lambda: FakeCatalog(currencies={"USD": USD_ID}, products={"SKU-1": PRODUCT})
    )
    crm: FakeCrmOrders = field(default_factory=FakeCrmOrders)
    mapping: MappingConfig = MAPPING
    seller_id: str = SELLER_ID
    application_id: str | None = None
    now: datetime = NOW
    sleeps: list[float] = field(default_factory=list)
    state: FakeStateStore = field(init=False)

    def __post_init__(self) -> None:
        self.state = FakeStateStore(clock=self.clock)

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)

    def handle(self, *messages: InboundMessage, invocation_id: str | None = None) -> SyncReport:
        """One function invocation over `messages` (a new invocation id each time unless given)."""
        return self.sync().handle(list(messages), invocation_id=invocation_id)

    def apply(self, *orders: Order) -> dict[str, order_sync.Outcome]:
        """Orders fetched elsewhere (a sweep, a backfill) through OrderSync.apply."""
        return self.sync().apply(list(orders))

    def sync(self) -> OrderSync:
        return OrderSync(
            orders=cast(OrdersApi, self.amazon),
            writer=OrderWriter(cast(CrmOrders, self.crm)),
            catalog=cast(CrmCatalog, self.catalog),
            state=cast(StateStore, self.state),
            mapping=self.mapping,
            seller_id=self.seller_id,
            application_id=self.application_id,
            clock=self.clock,
            sleep=self.sleep,
        )

    def checkpoint(self, order_id: str = ORDER_ID) -> OrderCheckpoint | None:
        return self.state.rows.get(order_id)

    def content_hash(self, order_id: str = ORDER_ID) -> str:
        """The hash of what order sync would write for the order Amazon holds now."""
        lookups = self.catalog.lookups(currencies={"USD"}, price_lists=set(), skus={"SKU-1"})
        return plan_order(to_canonical(self.amazon.orders[order_id]), self.mapping, lookups).content_hash


@pytest.fixture
def rig() -> Rig:
    """Amazon holds the builders' order (Unshipped, last updated at CHANGED); the CRM and the state are empty."""
    rig = Rig()
    rig.amazon.put(amazon_order())
    return rig


def settled(report: SyncReport) -> list[tuple[str, str, str | None]]:
    """(message id, outcome, reason) of every settlement, in the order made."""
    return [(s.message.message_id, s.outcome.value, s.reason) for s in report.settlements]


def applied_at(
    updated: datetime, status: OrderStatus = OrderStatus.UNSHIPPED, content_hash: str = "h0"
) -> OrderCheckpoint:
    """A checkpoint saying the CRM holds the order as Amazon had it at `updated`."""
    return OrderCheckpoint(ORDER_ID, applied=AppliedOrder(updated, status, content_hash, SUBMITTED, GUID))


# --- the way through ------------------------------------------------------------------------------------
def test_a_new_order_is_written_once_and_its_message_completed_with_the_checkpoint_committed(
    rig: Rig,
) -> None:
    """A first notification: one getOrder, one change set, the checkpoint holds what was written (no claim
    left) and the NotificationId is remembered."""
    report = rig.handle(notification("m-1", notification_id="n-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, written=1)
    assert rig.amazon.get_order_calls == [ORDER_ID]
    assert rig.crm.written_ids == [ORDER_ID]
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.pending is None
    assert checkpoint.applied == AppliedOrder(
        CHANGED,
        OrderStatus.UNSHIPPED,
        rig.content_hash(),
        SUBMITTED,
        rig.crm.salesorders[ORDER_ID].salesorder_id,
    )
    assert set(rig.state.notifications) == {"n-1"}


def test_a_notification_seen_before_is_completed_without_a_fetch(rig: Rig) -> None:
    """A redelivered NotificationId costs no Amazon call, no claim and no write."""
    rig.handle(notification("m-1", notification_id="n-1"))
    before = rig.checkpoint()

    report = rig.handle(notification("m-2", notification_id="n-1"))

    assert settled(report) == [("m-2", "complete", None)]
    assert report.counts == Counter(messages=1, duplicate=1)
    assert rig.amazon.get_order_calls == [ORDER_ID]
    assert rig.crm.written_ids == [ORDER_ID]
    assert rig.checkpoint() == before


def test_the_same_notification_twice_in_one_batch_costs_one_fetch(rig: Rig) -> None:
    """Both copies are completed; only the first is fetched and written."""
    report = rig.handle(
        notification("m-1", notification_id="n-1"), notification("m-2", notification_id="n-1")
    )

    assert sorted(settled(report)) == [("m-1", "complete", None), ("m-2", "complete", None)]
    assert report.counts == Counter(messages=2, duplicate=1, amazon_get_order=1, written=1)
    assert rig.amazon.get_order_calls == [ORDER_ID]
    assert rig.crm.written_ids == [ORDER_ID]


@pytest.mark.parametrize(
    "announced", [pytest.param(at(0), id="same-time"), pytest.param(at(-10), id="older")]
)
def test_a_notification_not_newer_than_the_checkpoint_is_stale_and_costs_no_fetch(
    rig: Rig, announced: str
) -> None:
    """The CRM already holds the change announced, or a later one: completed as stale, nothing read or written."""
    stored = rig.state.put(applied_at(CHANGED))

    report = rig.handle(notification("m-1", notification_id="n-1", change_time=announced))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, stale=1)
    assert rig.amazon.get_order_calls == []
    assert rig.crm.written == []
    assert rig.checkpoint() == stored
    assert set(rig.state.notifications) == {"n-1"}


def test_several_notifications_of_one_order_make_one_fetch_and_one_write(rig: Rig) -> None:
    """Pending then Unshipped in one batch: one getOrder, one change set, every message completed."""
    report = rig.handle(
        notification("m-1", notification_id="n-1", status="Pending", change_time=at(-30)),
        notification("m-2", notification_id="n-2", status="Unshipped", change_time=at(0)),
        notification("m-3", notification_id="n-3", status="Unshipped", change_time=at(0)),
    )

    assert settled(report) == [(f"m-{n}", "complete", None) for n in (1, 2, 3)]
    assert report.counts == Counter(messages=3, amazon_get_order=1, written=1)
    assert rig.amazon.get_order_calls == [ORDER_ID]
    assert rig.crm.written_ids == [ORDER_ID]
    assert set(rig.state.notifications) == {"n-1", "n-2", "n-3"}


@pytest.mark.parametrize(
    ("checkpoint", "snapshot"),
    [
        pytest.param(applied_at(CHANGED + timedelta(minutes=30)), amazon_order(), id="older"),
        pytest.param(
            applied_at(CHANGED, OrderStatus.SHIPPED),
            amazon_order(lastUpdatedTime=at(20)),
            id="behind-in-status",
        ),
    ],
)
def test_a_snapshot_older_or_behind_the_checkpoint_is_not_written(
    rig: Rig, checkpoint: OrderCheckpoint, snapshot: dict[str, object]
) -> None:
    """A newer notification is fetched, but a snapshot older than (or a status behind) what the CRM holds
    is not written: the message completes as stale and the checkpoint stays."""
    stored = rig.state.put(checkpoint)
    rig.amazon.put(snapshot)

    report = rig.handle(notification("m-1", change_time=at(45)))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, stale=1)
    assert rig.crm.written == []
    assert rig.checkpoint() == stored


def test_identical_content_is_not_written_again(rig: Rig) -> None:
    """A newer notification whose order reads the same as the one written completes as unchanged."""
    rig.handle(notification("m-1"))
    before = rig.checkpoint()

    report = rig.handle(notification("m-2", change_time=at(5)))

    assert settled(report) == [("m-2", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, unchanged=1)
    assert rig.crm.written_ids == [ORDER_ID]
    assert rig.checkpoint() == before


def test_a_backlog_is_read_with_a_search_page_and_written_in_one_batch(rig: Rig) -> None:
    """Twelve orders while getOrder's bucket is nearly empty: one searchOrders page reads them all, one
    $batch writes them all."""
    ids = [f"113-0000000-00000{index:02d}" for index in range(12)]
    rig.amazon.put(*(amazon_order(orderId=order_id) for order_id in ids))
    rig.amazon.get_order_tokens_available = 5

    report = rig.handle(*(notification(f"m-{order_id}", order_id=order_id) for order_id in ids))

    assert report.counts == Counter(messages=12, amazon_search_hit=12, written=12)
    assert [search.pages for search in rig.amazon.searches] == [1]
    assert rig.amazon.get_order_calls == []
    assert sorted(rig.crm.written_ids) == ids
    assert rig.crm.batches == 1


def test_every_message_of_a_mixed_batch_is_settled_exactly_once(rig: Rig) -> None:
    """Written, duplicate, stale, foreign, malformed and ignored messages in one batch: one settlement each."""
    rig.amazon.put(amazon_order(orderId="113-0000000-0000002"))
    rig.state.put(replace(applied_at(CHANGED), order_id="113-0000000-0000002"))
    messages = [
        notification("written", notification_id="n-1"),
        notification("duplicate", notification_id="n-1"),
        notification("stale", order_id="113-0000000-0000002"),
        notification("foreign", seller_id="ANOTHER"),
        InboundMessage("malformed", b"{"),
        InboundMessage("ignored", body({**order_change(), "NotificationType": "ANY_OFFER_CHANGED"})),
    ]

    report = rig.handle(*messages)

    assert len(report.settlements) == len(messages)
    assert {s.message.message_id: s.outcome.value for s in report.settlements} == {
        "written": "complete",
        "duplicate": "complete",
        "stale": "complete",
        "foreign": "dead_letter",
        "malformed": "dead_letter",
        "ignored": "complete",
    }


def test_a_snapshot_applied_from_a_sweep_is_written_once_and_its_late_notification_costs_nothing(
    rig: Rig,
) -> None:
    """apply() takes the notification path's rules: the sweep's snapshot is written, the same snapshot again
    is unchanged, and the notification of that change arriving afterwards is stale without a fetch."""
    snapshot = to_canonical(amazon_order())

    assert rig.apply(snapshot) == {ORDER_ID: Done.WRITTEN}
    assert rig.apply(snapshot) == {ORDER_ID: Done.UNCHANGED}
    late = rig.handle(notification("m-1", change_time=at(0)))

    assert settled(late) == [("m-1", "complete", None)]
    assert late.counts == Counter(messages=1, stale=1)
    assert rig.amazon.get_order_calls == []
    assert rig.crm.written_ids == [ORDER_ID]


def test_apply_writes_the_newest_of_several_snapshots_of_one_order(rig: Rig) -> None:
    """Two snapshots of one order in one call (a sweep page and a backfill): one write, of the newer."""
    older = to_canonical(amazon_order())
    newer = to_canonical(
        amazon_order(
            lastUpdatedTime=at(30), fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"}
        )
    )

    assert rig.apply(newer, older) == {ORDER_ID: Done.WRITTEN}
    [(plan, _)] = rig.crm.written
    assert (plan.amazon_updated, plan.status) == (CHANGED + timedelta(minutes=30), OrderStatus.SHIPPED)


def test_table_storage_down_before_the_fetch_reschedules_the_whole_batch(rig: Rig) -> None:
    """Without the dedupe rows nobody can tell what was applied: every message is rescheduled, nothing read."""
    rig.state.failures["seen_notifications"] = StateUnavailable("Table Storage lookup failed")

    report = rig.handle(notification("m-1"), notification("m-2", notification_id="n-2"))

    assert settled(report) == [
        ("m-1", "reschedule", "StateStorageUnavailable"),
        ("m-2", "reschedule", "StateStorageUnavailable"),
    ]
    assert rig.amazon.get_order_calls == []
    assert rig.crm.written == []


# --- what gives up for now, and what gives up for good ---------------------------------------------------
def test_amazon_still_showing_an_older_status_than_announced_is_rescheduled(rig: Rig) -> None:
    """Shipped was announced but getOrder still says Unshipped: rescheduled (SnapshotLagging), nothing claimed."""
    report = rig.handle(notification("m-1", notification_id="n-1", status="Shipped"))

    assert settled(report) == [("m-1", "reschedule", "AmazonSnapshotLagging")]
    assert report.counts == Counter(messages=1, amazon_get_order=1, rescheduled=1)
    assert rig.crm.written == []
    assert rig.checkpoint() is None
    assert rig.state.notifications == {}


def _unknown_currency(rig: Rig) -> None:
    rig.catalog.currency_ids.clear()


def _missing_price_list(rig: Rig) -> None:
    price_lists = MAPPING.salesorder.model_copy(update={"price_lists": {"default": "Amazon US"}})
    rig.mapping = MAPPING.model_copy(update={"salesorder": price_lists})


def _invalid_order(rig: Rig) -> None:
    rig.amazon.put(amazon_order(fulfillment=None))


def _order_not_found(rig: Rig) -> None:
    rig.amazon.orders.clear()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        pytest.param(_unknown_currency, "UnknownCurrency", id="unknown-currency"),
        pytest.param(_missing_price_list, "PriceListNotFound", id="price-list-missing"),
        pytest.param(_invalid_order, "AmazonOrderInvalid", id="amazon-order-invalid"),
        pytest.param(_order_not_found, "AmazonOrderNotFound", id="amazon-order-not-found"),
    ],
)
def test_a_permanent_failure_before_writing_is_dead_lettered_with_its_reason(
    rig: Rig, setup: Callable[[Rig], None], reason: str
) -> None:
    """Failing for good before the write: dead-lettered with the failure's reason, no claim left, nothing
    written, the NotificationId not remembered (so a replay is not a duplicate)."""
    setup(rig)

    report = rig.handle(notification("m-1", notification_id="n-1"))

    [(message_id, outcome, got_reason)] = settled(report)
    assert (message_id, outcome, got_reason) == ("m-1", "dead_letter", reason)
    assert report.counts["dead_lettered"] == 1
    assert rig.crm.written == []
    assert rig.checkpoint() is None
    assert rig.state.notifications == {}


def test_a_write_dataverse_refuses_is_dead_lettered_and_its_claim_released(rig: Rig) -> None:
    """Refused twice (once more as a repair that reads the CRM): dead-lettered with Dataverse's reason, and
    the claim is released so a replay is not taken for a crash."""
    rig.crm.failures[ORDER_ID] = DataverseError("0x80040203: invalid argument", status=400, code="0x80040203")

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "dead_letter", "DataverseRejected")]
    assert report.counts == Counter(messages=1, amazon_get_order=1, dead_lettered=1)
    assert rig.crm.located == [(ORDER_ID, False), (ORDER_ID, True)]
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert (checkpoint.pending, checkpoint.applied) == (None, None)


def test_an_unknown_sku_under_the_hold_policy_is_dead_lettered_unknown_sku(rig: Rig) -> None:
    """products.unknown_sku = "hold": the order is not written, its message dead-lettered UnknownSku and the
    SKU reported."""
    rig.mapping = MAPPING.model_copy(update={"products": ProductPolicy(unknown_sku="hold")})
    rig.catalog.products.clear()

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "dead_letter", "UnknownSku")]
    assert report.counts == Counter(messages=1, amazon_get_order=1, held=1, dead_lettered=1)
    assert report.unknown_skus == Counter({"SKU-1": 1})
    assert rig.crm.written == []
    assert rig.checkpoint() is None


def test_an_unknown_sku_under_the_write_in_policy_is_written_as_a_write_in_line(rig: Rig) -> None:
    """The default policy writes the order, its line without a product, and reports the SKU."""
    rig.catalog.products.clear()

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.unknown_skus == Counter({"SKU-1": 1})
    [(plan, _)] = rig.crm.written
    [line] = plan.lines
    assert line.fields["isproductoverridden"] is True
    assert "productid" not in line.binds


@pytest.mark.parametrize(
    ("error", "reason", "delay"),
    [
        pytest.param(SpApiThrottled("QuotaExceeded", rate=0.1), "SpApiThrottled", 10.0, id="throttled"),
        pytest.param(SpApiTransientError("getOrder answered 503"), "SpApiUnavailable", None, id="503"),
    ],
)
def test_a_transient_amazon_failure_reschedules_the_message_no_sooner_than_amazon_asked(
    rig: Rig, error: SyncError, reason: str, delay: float | None
) -> None:
    """Passing trouble spends no delivery: the message is rescheduled with the wait Amazon asked for (1 / its
    rate header; none for a 503), and nothing is claimed."""
    rig.amazon.failures[ORDER_ID] = error

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "reschedule", reason)]
    assert [settlement.delay for settlement in report.settlements] == [delay]
    assert report.counts == Counter(messages=1, rescheduled=1)
    assert rig.checkpoint() is None


def test_a_throttled_dataverse_write_leaves_its_claim_for_a_repair(rig: Rig) -> None:
    """Dataverse's 429 with Retry-After 30 s: the message is rescheduled no sooner than that, and the claim
    stays (owned by the invocation) so the next attempt reads the CRM before writing."""
    rig.crm.failures[ORDER_ID] = DataverseThrottled("429 service protection", status=429, retry_after=30)

    report = rig.handle(notification("m-1"), invocation_id="inv-1")

    assert settled(report) == [("m-1", "reschedule", "DataverseThrottled")]
    assert [settlement.delay for settlement in report.settlements] == [30]
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.pending is not None
    assert checkpoint.pending.owner == "inv-1"


def test_a_dataverse_outage_while_looking_up_products_reschedules_every_order_of_the_batch(rig: Rig) -> None:
    """The catalog lookup serves the whole batch; when it fails, each fetched order's messages are rescheduled."""
    rig.amazon.put(amazon_order(orderId="113-0000000-0000002"))
    rig.catalog.failure = DataverseTransientError("Dataverse answered 503", status=503)

    report = rig.handle(notification("m-1"), notification("m-2", order_id="113-0000000-0000002"))

    assert settled(report) == [
        ("m-1", "reschedule", "DataverseUnavailable"),
        ("m-2", "reschedule", "DataverseUnavailable"),
    ]
    assert rig.crm.written == []


def test_a_bug_met_by_one_order_abandons_only_its_messages(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception nobody raised on purpose (here in the mapping) abandons that order's message, counting a
    delivery, while the batch's other order is written."""
    rig.amazon.put(amazon_order(orderId="113-0000000-0000002"))

    def plan_or_fail(order: Order, *args: Any) -> OrderWritePlan:
        if order.order_id == "113-0000000-0000002":
            raise KeyError("a mapping bug")
        return plan_order(order, *args)

    monkeypatch.setattr(order_sync, "plan_order", plan_or_fail)

    report = rig.handle(notification("m-1"), notification("m-2", order_id="113-0000000-0000002"))

    assert settled(report) == [("m-1", "complete", None), ("m-2", "abandon", "UnexpectedError")]
    assert rig.crm.written_ids == [ORDER_ID]


def test_a_notification_for_another_seller_is_dead_lettered_without_a_fetch(rig: Rig) -> None:
    """SPAPI_SELLER_ID set: a notification of another seller is dead-lettered ForeignSeller, nothing read."""
    report = rig.handle(notification("m-1", seller_id="A2OTHERSELLER"))

    assert settled(report) == [("m-1", "dead_letter", "ForeignSeller")]
    assert rig.amazon.get_order_calls == []
    assert rig.crm.written == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"NotificationType": "ORDER_CHANGE", "Payload": ', id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(body({**order_change(), "Payload": {}}), id="order-change-without-payload"),
        pytest.param(body({"NotificationType": "ORDER_CHANGE"}), id="no-envelope"),
    ],
)
def test_a_malformed_message_is_dead_lettered_on_first_delivery(rig: Rig, raw: bytes) -> None:
    """A body that is no readable ORDER_CHANGE notification is dead-lettered MalformedNotification, unread."""
    report = rig.handle(InboundMessage("m-1", raw))

    assert settled(report) == [("m-1", "dead_letter", "MalformedNotification")]
    assert report.counts == Counter(messages=1, malformed=1)
    assert rig.amazon.get_order_calls == []


def test_a_notification_of_another_type_is_completed_untouched(rig: Rig) -> None:
    """Order sync only handles ORDER_CHANGE: any other type is completed without reading anything."""
    envelope = {
        **order_change(),
        "NotificationType": "ANY_OFFER_CHANGED",
        "Payload": {"AnyOfferChangedNotification": {}},
    }

    report = rig.handle(InboundMessage("m-1", body(envelope)))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, ignored_type=1)
    assert rig.amazon.get_order_calls == []
    assert rig.state.rows == {}


# --- claims: crashes and other invocations -------------------------------------------------------------
EXPIRED = NOW - PENDING_LEASE - timedelta(seconds=1)  # a claim this old belongs to an invocation that died


def test_a_batch_that_crashed_after_writing_is_repaired_when_run_again_in_the_same_invocation(
    rig: Rig,
) -> None:
    """The flow crashes after the write, before the commit; run again in the same invocation (the glue retries
    a crashed batch message by message), it takes its own claim over as a repair: the CRM is read first, so
    the state already reached is not requested again, and the checkpoint is committed."""
    rig.state.failures["commit_all"] = RuntimeError("worker bug")
    with pytest.raises(RuntimeError):
        rig.handle(notification("m-1"), invocation_id="inv-1")
    del rig.state.failures["commit_all"]

    report = rig.handle(notification("m-1"), invocation_id="inv-1")

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, written=1)
    assert rig.crm.located == [(ORDER_ID, False), (ORDER_ID, True)]
    [(_, first), (_, repair)] = rig.crm.written
    assert first.operations[-1].body == {"statecode": 1, "statuscode": 3}
    assert not any("statecode" in (operation.body or {}) for operation in repair.operations)
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.pending is None
    assert checkpoint.applied is not None
    assert (checkpoint.applied.crm_state, checkpoint.applied.salesorder_id) == (
        SUBMITTED,
        rig.crm.salesorders[ORDER_ID].salesorder_id,
    )
    assert rig.sleeps == []


def test_a_claim_whose_lease_ran_out_is_repaired_from_the_crm_state(rig: Rig) -> None:
    """An invocation died half-way through its write: once the lease is over any delivery takes the claim
    over, reads the CRM first and writes no state change the CRM already has."""
    rig.crm.salesorders[ORDER_ID] = CrmSalesOrder(GUID, SUBMITTED)  # the dead invocation's write landed
    rig.state.put(OrderCheckpoint(ORDER_ID, pending=PendingWrite("half-written", "inv-dead", EXPIRED)))

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert rig.crm.located == [(ORDER_ID, True)]
    [(_, changeset)] = rig.crm.written
    assert not any("statecode" in (operation.body or {}) for operation in changeset.operations)
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.applied is not None
    assert (checkpoint.pending, checkpoint.applied.salesorder_id) == (None, GUID)
    assert rig.sleeps == []


def test_a_repair_that_finds_the_crm_order_closed_writes_nothing_and_completes(rig: Rig) -> None:
    """The dead invocation had already cancelled the order: closed orders are read-only, so nothing is sent
    and the checkpoint records the CRM's closed state."""
    rig.amazon.put(amazon_order(fulfillment={"fulfillmentStatus": "CANCELLED", "fulfilledBy": "MERCHANT"}))
    rig.crm.salesorders[ORDER_ID] = CrmSalesOrder(GUID, CrmState(2, 4))
    rig.state.put(OrderCheckpoint(ORDER_ID, pending=PendingWrite("half-written", "inv-dead", EXPIRED)))

    report = rig.handle(notification("m-1", status="Canceled"))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, closed_in_crm=1)
    assert rig.crm.located == [(ORDER_ID, True)]
    assert rig.crm.written == []
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.applied is not None
    assert (checkpoint.pending, checkpoint.applied.crm_state) == (None, CrmState(2, 4))


def test_a_failed_commit_is_rescheduled_and_repaired_once_the_claim_lease_is_over(rig: Rig) -> None:
    """Table Storage fails after the write: the message is rescheduled with the claim still pending; an
    attempt after the claim's lease reads the CRM, rewrites without a second state change, and commits."""
    rig.state.failures["commit_all"] = StateUnavailable("Table Storage checkpoint transaction failed")

    first = rig.handle(notification("m-1", notification_id="n-1"))

    assert settled(first) == [("m-1", "reschedule", "StateStorageUnavailable")]
    pending = rig.checkpoint()
    assert pending is not None
    assert pending.pending is not None

    del rig.state.failures["commit_all"]
    rig.now += PENDING_LEASE + timedelta(seconds=1)
    second = rig.handle(notification("m-1", notification_id="n-1"))

    assert settled(second) == [("m-1", "complete", None)]
    assert rig.crm.located == [(ORDER_ID, False), (ORDER_ID, True)]
    [_, (_, repair)] = rig.crm.written
    assert not any("statecode" in (operation.body or {}) for operation in repair.operations)
    committed = rig.checkpoint()
    assert committed is not None
    assert committed.pending is None
    assert committed.applied is not None
    assert rig.sleeps == []


def test_a_claim_another_invocation_covers_while_we_wait_completes_without_writing(rig: Rig) -> None:
    """Another invocation is writing the same content: we poll (sleeping on the injected clock) until it
    commits, then complete as stale without writing."""
    content_hash = rig.content_hash()
    live = rig.state.put(OrderCheckpoint(ORDER_ID, pending=PendingWrite(content_hash, "inv-other", NOW)))
    reads = 0

    def other_invocation_commits_on_the_second_read() -> None:
        nonlocal reads
        reads += 1
        if reads == 2:
            applied = AppliedOrder(CHANGED, OrderStatus.UNSHIPPED, content_hash, SUBMITTED, GUID)
            rig.state.rows[ORDER_ID] = replace(live, pending=None, applied=applied, etag='W/"other"')

    rig.state.on_read.append(other_invocation_commits_on_the_second_read)

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, stale=1)
    assert rig.sleeps == [CONTENTION_POLL_SECONDS]
    assert rig.crm.located == []
    assert rig.crm.written == []


def test_a_claim_another_invocation_keeps_is_given_back_for_after_its_lease(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another invocation is still writing when our wait is over: the message is rescheduled ConcurrentUpdate
    no sooner than the claim's lease ends, and nothing is written."""
    monkeypatch.setattr(order_claims, "CONTENTION_WAIT_SECONDS", 0.0)
    rig.state.put(OrderCheckpoint(ORDER_ID, pending=PendingWrite("other-content", "inv-other", NOW)))

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "reschedule", "ConcurrentUpdate")]
    assert [settlement.delay for settlement in report.settlements] == [PENDING_LEASE.total_seconds()]
    assert rig.crm.written == []


@pytest.mark.parametrize(
    ("other_wrote", "written"),
    [pytest.param("same", [], id="same-content"), pytest.param("older", [ORDER_ID], id="older-version")],
)
def test_losing_the_claim_race_rereads_the_checkpoint_and_writes_only_what_is_not_covered(
    rig: Rig, other_wrote: str, written: list[str]
) -> None:
    """Another invocation commits between our read and our claim: our claim loses on the ETag, the checkpoint
    is read again, and we write only if what it holds does not cover our version."""
    content_hash = rig.content_hash()
    if other_wrote == "same":
        other = applied_at(CHANGED, content_hash=content_hash)
    else:
        other = applied_at(CHANGED - timedelta(minutes=30))
    get_order = rig.amazon.get_order

    def get_order_while_another_invocation_commits(order_id: str) -> Order:
        rig.state.put(other)
        return get_order(order_id)

    rig.amazon.get_order = get_order_while_another_invocation_commits  # type: ignore[method-assign]

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert rig.crm.written_ids == written
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.applied is not None
    assert (checkpoint.pending, checkpoint.applied.amazon_updated, checkpoint.applied.content_hash) == (
        None,
        CHANGED,
        content_hash,
    )


def test_an_order_closed_by_hand_in_dynamics_is_left_alone(rig: Rig) -> None:
    """Our checkpoint says Submitted but someone cancelled the order in Dynamics: Dataverse refuses the write,
    the retry reads the CRM, finds it closed, writes nothing and completes."""
    rig.state.put(applied_at(CHANGED - timedelta(minutes=30)))
    rig.crm.salesorders[ORDER_ID] = CrmSalesOrder(GUID, CrmState(2, 4))

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "complete", None)]
    assert report.counts == Counter(messages=1, amazon_get_order=1, closed_in_crm=1)
    assert rig.crm.located == [(ORDER_ID, False), (ORDER_ID, True)]
    assert rig.crm.written == []
    checkpoint = rig.checkpoint()
    assert checkpoint is not None
    assert checkpoint.applied is not None
    assert checkpoint.applied.crm_state == CrmState(2, 4)


def test_waiting_for_another_invocation_ends_after_the_contention_wait_on_the_injected_clock(
    rig: Rig,
) -> None:
    """Another invocation holds the claim throughout: after CONTENTION_WAIT_SECONDS on the injected clock the
    message is rescheduled (ConcurrentUpdate), nothing written."""
    rig.state.put(OrderCheckpoint(ORDER_ID, pending=PendingWrite("other-content", "inv-other", NOW)))

    report = rig.handle(notification("m-1"))

    assert settled(report) == [("m-1", "reschedule", "ConcurrentUpdate")]
    assert sum(rig.sleeps) <= CONTENTION_WAIT_SECONDS
    assert rig.crm.written == []


def test_the_copy_of_a_message_whose_write_was_throttled_does_not_wait_for_its_own_claim(rig: Rig) -> None:
    """Dataverse throttles the write (the claim stays for a repair); the rescheduled copy, arriving when the
    settlement glue schedules it, repairs the order without sleeping on the claim its first attempt left."""
    rig.crm.failures[ORDER_ID] = DataverseThrottled("429 service protection", status=429, retry_after=30)
    first = rig.handle(notification("m-1", notification_id="n-1"))
    [rescheduled] = first.settlements
    del rig.crm.failures[ORDER_ID]

    rig.now += timedelta(seconds=RetrySchedule().delay(1, at_least=rescheduled.delay, rng=random.Random(1)))
    copy = rig.handle(notification("m-1-copy", notification_id="n-1"))

    assert settled(copy) == [("m-1-copy", "complete", None)]
    assert rig.sleeps == []


def test_remembering_applied_notifications_may_fail_without_failing_the_messages(rig: Rig) -> None:
    """The dedupe write is best effort: the message still completes, and a redelivery is caught by the
    checkpoint as stale instead (no second fetch)."""
    rig.state.failures["mark_notifications"] = StateUnavailable("Table Storage dedupe write failed")

    first = rig.handle(notification("m-1", notification_id="n-1"))
    again = rig.handle(notification("m-1", notification_id="n-1"))

    assert settled(first) == [("m-1", "complete", None)]
    assert settled(again) == [("m-1", "complete", None)]
    assert again.counts == Counter(messages=1, stale=1)
    assert rig.amazon.get_order_calls == [ORDER_ID]
    assert rig.crm.written_ids == [ORDER_ID]


def test_a_notification_for_another_application_is_dead_lettered_when_ours_is_configured(rig: Rig) -> None:
    """SPAPI_APPLICATION_ID set: a notification addressed to another application is dead-lettered
    ForeignApplication without an Amazon call; one for ours is applied."""
    rig.application_id = "amzn1.sp.solution.ours"
    foreign = order_change(notification_id="n-foreign")
    foreign["NotificationMetadata"]["ApplicationId"] = "amzn1.sp.solution.someone-else"
    ours = order_change(notification_id="n-ours")
    ours["NotificationMetadata"]["ApplicationId"] = "amzn1.sp.solution.ours"

    report = rig.handle(InboundMessage("m-foreign", body(foreign)), InboundMessage("m-ours", body(ours)))

    assert sorted(settled(report)) == [
        ("m-foreign", "dead_letter", "ForeignApplication"),
        ("m-ours", "complete", None),
    ]
    assert rig.amazon.get_order_calls == [ORDER_ID]
