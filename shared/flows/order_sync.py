"""Order sync: ORDER_CHANGE notifications in, Dynamics sales orders out, each change applied exactly once.

    parse -> dedupe -> group by order -> skip stale -> fetch from Amazon -> plan -> claim -> write -> commit

- Dedupe by NotificationId (SQS and Service Bus both deliver at least once) costs no Amazon or Dataverse
  call. Whether a change is stale is one rule (`AppliedOrder.covers`), asked with what is known at each
  step: a notification announcing no newer version than the CRM's costs nothing; a fetched snapshot that
  is older or behind is not written; identical content is not written again.
- Several notifications of one order in a batch become one fetch and one write. Many orders at once are
  fetched with searchOrders (100 per page) while its small quota lasts; the rest with getOrder.
- The checkpoint is claimed (ETag-conditional) before writing and committed after: two instances cannot
  both write one change, and a claim left behind by a crash makes the next delivery repair the order.

Each order moves through typed stages (`_Announced` -> `_Fetched` -> `_Planned` -> `_Claimed`) and ends
with one outcome; the notification path turns outcomes into settlements, one per message.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared import telemetry
from shared.amazon.notifications import (
    ORDER_CHANGE,
    NotificationEnvelope,
    OrderChange,
    UnknownNotificationType,
    check_versions,
    near_miss,
    parse_envelope,
    parse_order_change,
)
from shared.amazon.orders import OrdersApi
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.changesets import OrderWritten
from shared.errors import PermanentError, SyncError, TransientError
from shared.flows.order_claims import ClaimDesk, Claimed, ClaimRequest, Covered
from shared.flows.order_fetch import FetchRequest, OrderFetcher
from shared.flows.order_writer import ClosedInCrm, OrderWriter, WriteJob
from shared.mapping.config import MappingConfig
from shared.mapping.salesorder import order_currency, plan_order
from shared.messaging import InboundMessage, Settlement
from shared.model.applied import AppliedOrder, OrderVersion
from shared.model.crm import CrmState, OrderWritePlan
from shared.model.order import NOTIFICATION_STATUSES, Order
from shared.state.store import NotificationRef, OrderCheckpoint, StateStore
from shared.state.sync_stats import SyncSample, SyncStats
from shared.telemetry.orders import OrderTrace, record_orders
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


class ForeignSeller(PermanentError):
    reason = "ForeignSeller"


class ForeignApplication(PermanentError):
    reason = "ForeignApplication"


class SnapshotLagging(TransientError):
    """Amazon's getOrder still shows an older state than the notification announced; ask again later."""

    reason = "AmazonSnapshotLagging"


class UnknownSku(PermanentError):
    reason = "UnknownSku"


class UnexpectedFailure(SyncError):
    """A bug met one order (an exception nobody raised on purpose). Its messages are delivered again and,
    if it keeps failing, dead-lettered by Service Bus; the batch's other orders settle by their own outcome."""

    reason = "UnexpectedError"

    @classmethod
    def of(cls, order_id: str, exc: BaseException) -> UnexpectedFailure:
        return cls(f"order {order_id}: unexpected {type(exc).__name__}")


class Done(StrEnum):
    """How an order's sync ended when nothing went wrong."""

    WRITTEN = "written"
    CLOSED_IN_CRM = "closed_in_crm"  # the CRM order is canceled/fulfilled/invoiced: nothing to write
    STALE = "stale"  # the CRM already holds this version or a newer one
    UNCHANGED = "unchanged"  # same content as the last write


Outcome = Done | SyncError


@dataclass
class SyncReport:
    settlements: list[Settlement] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    applied: list[NotificationRef] = field(default_factory=list)
    unknown_skus: Counter[str] = field(default_factory=Counter)
    committed: dict[str, AppliedOrder] = field(default_factory=dict)  # checkpoints committed by this run


@dataclass(frozen=True)
class _Notice:
    message: InboundMessage
    envelope: NotificationEnvelope
    change: OrderChange

    @property
    def change_time(self) -> datetime:
        return self.change.trigger.time_of_order_change or self.envelope.event_time

    @property
    def ref(self) -> NotificationRef:
        return NotificationRef(
            self.envelope.notification_id, self.envelope.event_time, self.change.amazon_order_id
        )


# --- the stages an order passes through ---------------------------------------------------------------
@dataclass(frozen=True)
class _Announced:
    """An order some notifications announced a change of, with its checkpoint as read at the start."""

    order_id: str
    notices: tuple[_Notice, ...]
    checkpoint: OrderCheckpoint | None
    # Who claims the order: this invocation. A claim names the invocation, not the message, because two
    # live hosts can hold the same message at once (a lock that expired mid-run) and must not both write.
    owner: str

    @property
    def settled(self) -> AppliedOrder | None:
        return self.checkpoint.settled if self.checkpoint is not None else None

    @property
    def oldest_change(self) -> datetime:
        return min(notice.change_time for notice in self.notices)

    @property
    def newest_change(self) -> datetime:
        return max(notice.change_time for notice in self.notices)

    @property
    def announced_rank(self) -> int | None:
        ranks = [
            NOTIFICATION_STATUSES[notice.change.summary.order_status].rank
            for notice in self.notices
            if notice.change.summary.order_status in NOTIFICATION_STATUSES
        ]
        return max(ranks) if ranks else None


@dataclass(frozen=True)
class _Fetched:
    announced: _Announced
    order: Order


@dataclass(frozen=True)
class _Planned:
    announced: _Announced
    plan: OrderWritePlan


@dataclass(frozen=True)
class _Claimed:
    announced: _Announced
    plan: OrderWritePlan
    claim: Claimed


class OrderSync:
    def __init__(
        self,
        *,
        orders: OrdersApi,
        writer: OrderWriter,
        catalog: CrmCatalog,
        state: StateStore,
        mapping: MappingConfig,
        seller_id: str,
        application_id: str | None = None,
        stats: SyncStats | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher = OrderFetcher(orders, clock=clock)
        self._clock = clock
        self._stats = stats  # orders written per hour and their sync lag, for the status endpoint
        self._claims = ClaimDesk(state, clock=clock, sleep=sleep)
        self._writer = writer
        self._catalog = catalog
        self._state = state
        self._mapping = mapping
        self._seller_id = seller_id  # required: without it another seller's orders would be written
        self._application_id = application_id
        self.totals: Counter[str] = Counter()  # since the process started: for metrics and the benchmark
        self._totals_lock = threading.Lock()

    # --- the flow ---------------------------------------------------------------------------------
    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> SyncReport:
        """Sync the orders the messages announce; `invocation_id` (the Functions host's) names the claims."""
        started_ns = time.time_ns()
        report = SyncReport()
        notices = self._parse(messages, report)
        try:
            notices = self._drop_duplicates(notices, report)
            announced = self._announce(notices, invocation_id or uuid.uuid4().hex)
        except SyncError as exc:  # Table Storage cannot tell what was applied: every notice waits
            announced = [_Announced(n.change.amazon_order_id, (n,), None, "") for n in notices]
            outcomes: dict[str, Outcome] = {item.order_id: exc for item in announced}
        else:
            outcomes = self._sync(announced, report)
        settled_as = {
            item.order_id: self._settle(item, outcomes[item.order_id], report) for item in announced
        }
        self._remember_applied(report)
        if telemetry.enabled():
            traces = [
                _trace(item, outcomes[item.order_id], settled_as[item.order_id], report) for item in announced
            ]
            record_orders(traces, source="notification", started_ns=started_ns)
        with self._totals_lock:
            self.totals.update(report.counts)
        log.info(
            "Order sync: %s", ", ".join(f"{name}={count}" for name, count in sorted(report.counts.items()))
        )
        return report

    def apply(self, orders: Sequence[Order], *, invocation_id: str | None = None) -> dict[str, Outcome]:
        """Orders fetched elsewhere (the sweep's searchOrders pages, a backfill report's orders) through the same
        staleness, claim and write rules as notifications: a sweep and a late notification never write twice.
        Returns each order's outcome; the caller decides what a failure means for its run."""
        started_ns = time.time_ns()
        report = SyncReport()
        owner = invocation_id or uuid.uuid4().hex
        latest: dict[str, Order] = {}
        for order in orders:  # the same order twice in one call: its newest snapshot counts
            if order.order_id not in latest or order.last_updated > latest[order.order_id].last_updated:
                latest[order.order_id] = order
        checkpoints = self._state.get_orders(latest)
        outcomes: dict[str, Outcome] = {}
        fetched = []
        announced_all = []
        for order_id, order in latest.items():
            announced = _Announced(order_id, (), checkpoints.get(order_id), owner)
            announced_all.append(announced)
            settled = announced.settled
            if settled is not None and settled.covers(
                OrderVersion.snapshot(order.last_updated, order.status)
            ):
                outcomes[order_id] = Done.STALE
            else:
                fetched.append(_Fetched(announced, order))
        claimed = self._claim(self._plan(fetched, outcomes, report), outcomes)
        self._write(claimed, outcomes, report)
        for outcome in outcomes.values():
            report.counts[outcome.value if isinstance(outcome, Done) else "failed"] += 1
        if telemetry.enabled():
            traces = [
                _trace(item, outcome, outcome.value if isinstance(outcome, Done) else "failed", report)
                for item in announced_all
                for outcome in (outcomes[item.order_id],)
            ]
            record_orders(traces, source="bulk", started_ns=started_ns)
        with self._totals_lock:
            self.totals.update({f"snapshot_{name}": count for name, count in report.counts.items()})
        return outcomes

    def _sync(self, announced: list[_Announced], report: SyncReport) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        fresh = []
        for item in announced:
            settled = item.settled
            if settled is not None and settled.covers(OrderVersion.announced(item.newest_change)):
                outcomes[item.order_id] = Done.STALE
            else:
                fresh.append(item)
        fetched = self._fetch(fresh, outcomes, report)
        planned = self._plan(fetched, outcomes, report)
        claimed = self._claim(planned, outcomes)
        self._write(claimed, outcomes, report)
        return outcomes

    # --- steps ------------------------------------------------------------------------------------
    def _parse(self, messages: Sequence[InboundMessage], report: SyncReport) -> list[_Notice]:
        """Read each message on its own: whatever goes wrong with one is that message's dead letter."""
        notices = []
        for message in messages:
            report.counts["messages"] += 1
            try:
                notice = self._read(message)
            except SyncError as exc:
                log.warning("Message %s dead-lettered: %s", message.message_id, exc)
                report.counts["malformed"] += 1
                report.settlements.append(Settlement.dead_letter(message, exc.reason, str(exc)))
                continue
            except Exception as exc:  # a body that breaks the reader in a way nobody foresaw
                log.exception("Message %s could not be read", message.message_id)
                report.counts["malformed"] += 1
                report.settlements.append(
                    Settlement.dead_letter(
                        message, "UnreadableMessage", f"reading it raised {type(exc).__name__}"
                    )
                )
                continue
            if notice is None:
                report.counts["ignored_type"] += 1
                report.settlements.append(Settlement.complete(message))
            else:
                notices.append(notice)
        return notices

    def _read(self, message: InboundMessage) -> _Notice | None:
        """The ORDER_CHANGE in a message, None for a type order sync does not handle, or a SyncError."""
        envelope = parse_envelope(message.body)
        kind = envelope.notification_type
        if kind != ORDER_CHANGE:
            if near_miss(kind) == ORDER_CHANGE:
                raise UnknownNotificationType(f"notification type {kind[:40]!r} is not {ORDER_CHANGE}")
            # Amazon sends only the types this app subscribed to; other handlers read the others.
            log.info(
                "Notification %s of type %s is not for order sync; completed", envelope.notification_id, kind
            )
            return None
        check_versions(envelope)
        if self._application_id and envelope.metadata.application_id != self._application_id:
            raise ForeignApplication(
                f"notification {envelope.notification_id} was sent to another application, not SPAPI_APPLICATION_ID"
            )
        change = parse_order_change(envelope)
        if change.seller_id != self._seller_id:
            raise ForeignSeller(
                f"notification {envelope.notification_id} is for seller {change.seller_id}, "
                f"not SPAPI_SELLER_ID {self._seller_id}"
            )
        return _Notice(message, envelope, change)

    def _drop_duplicates(self, notices: list[_Notice], report: SyncReport) -> list[_Notice]:
        seen = self._state.seen_notifications(notice.ref for notice in notices)
        fresh: list[_Notice] = []
        in_batch: set[str] = set()
        for notice in notices:
            notification_id = notice.envelope.notification_id
            if notification_id in seen or notification_id in in_batch:
                report.counts["duplicate"] += 1
                report.settlements.append(Settlement.complete(notice.message))
                continue
            in_batch.add(notification_id)
            fresh.append(notice)
        return fresh

    def _announce(self, notices: list[_Notice], invocation_id: str) -> list[_Announced]:
        by_order: dict[str, list[_Notice]] = defaultdict(list)
        for notice in notices:
            by_order[notice.change.amazon_order_id].append(notice)
        checkpoints = self._state.get_orders(by_order)
        return [
            _Announced(order_id, tuple(items), checkpoints.get(order_id), invocation_id)
            for order_id, items in by_order.items()
        ]

    def _fetch(
        self, work: list[_Announced], outcomes: dict[str, Outcome], report: SyncReport
    ) -> list[_Fetched]:
        result = self._fetcher.fetch(
            [FetchRequest(item.order_id, item.oldest_change, item.newest_change) for item in work]
        )
        report.counts.update(result.counts)
        fetched = []
        for item in work:
            error = result.errors.get(item.order_id)
            order = result.orders.get(item.order_id)
            if error is not None or order is None:
                outcomes[item.order_id] = error or SnapshotLagging(f"order {item.order_id} was not fetched")
                continue
            announced = item.announced_rank
            if announced is not None and order.status.rank < announced:
                outcomes[item.order_id] = SnapshotLagging(
                    f"order {item.order_id}: Amazon still reports {order.amazon_status} after a newer notification"
                )
                continue
            settled = item.settled
            if settled is not None and settled.covers(
                OrderVersion.snapshot(order.last_updated, order.status)
            ):
                log.info("Order %s: Amazon snapshot older than the CRM's; nothing to do", item.order_id)
                outcomes[item.order_id] = Done.STALE
                continue
            fetched.append(_Fetched(item, order))
        return fetched

    def _plan(
        self, fetched: list[_Fetched], outcomes: dict[str, Outcome], report: SyncReport
    ) -> list[_Planned]:
        currencies = {order_currency(item.order, self._mapping) for item in fetched} - {None}
        price_lists = {self._mapping.salesorder.price_list_for(code) for code in currencies if code} - {None}
        try:
            lookups = self._catalog.lookups(
                currencies={code for code in currencies if code},
                price_lists={name for name in price_lists if name},
                skus={sku for item in fetched for sku in item.order.skus},
            )
        except SyncError as exc:
            outcomes.update((item.announced.order_id, exc) for item in fetched)
            return []
        planned = []
        for item in fetched:
            order_id = item.announced.order_id
            try:
                plan = plan_order(item.order, self._mapping, lookups)
            except SyncError as exc:
                outcomes[order_id] = exc
                continue
            except Exception as exc:  # a bug in the mapping must not take the batch's other orders
                log.exception("Order %s: mapping failed unexpectedly", order_id)
                outcomes[order_id] = UnexpectedFailure.of(order_id, exc)
                continue
            report.unknown_skus.update(plan.unknown_skus)
            if plan.unknown_skus:
                log.warning(
                    "Order %s: SKUs with no Dataverse product (productnumber): %s; %s",
                    order_id,
                    ", ".join(plan.unknown_skus),
                    "order held" if plan.hold else "written as write-in lines",
                )
            if plan.hold:
                report.counts["held"] += 1
                outcomes[order_id] = UnknownSku(
                    f"order {order_id} held: unknown SKUs {', '.join(plan.unknown_skus)}"
                )
                continue
            settled = item.announced.settled
            version = OrderVersion.snapshot(plan.amazon_updated, plan.status, plan.content_hash)
            if settled is not None and settled.covers(version):
                outcomes[order_id] = Done.UNCHANGED
                continue
            planned.append(_Planned(item.announced, plan))
        return planned

    def _claim(self, planned: list[_Planned], outcomes: dict[str, Outcome]) -> list[_Claimed]:
        """Claim the checkpoints of every order about to be written (see flows/order_claims.py)."""
        results = self._claims.claim_all(
            [
                ClaimRequest.of(
                    item.announced.order_id, item.announced.checkpoint, item.plan, item.announced.owner
                )
                for item in planned
            ]
        )
        claimed = []
        for item in planned:
            result = results[item.announced.order_id]
            if isinstance(result, Claimed):
                claimed.append(_Claimed(item.announced, item.plan, result))
            elif isinstance(result, Covered):
                outcomes[item.announced.order_id] = Done.STALE
            else:
                outcomes[item.announced.order_id] = result
        return claimed

    def _write(self, claimed: list[_Claimed], outcomes: dict[str, Outcome], report: SyncReport) -> None:
        if not claimed:
            return
        jobs = [
            WriteJob(item.plan, _crm_state_before(item.claim), repair=item.claim.repair) for item in claimed
        ]
        written: list[tuple[_Claimed, OrderWritten | ClosedInCrm]] = []
        for item, result in zip(claimed, self._writer.write(jobs), strict=True):
            if isinstance(result, SyncError):
                outcomes[item.announced.order_id] = result
                self._give_up_claim(item, result)
            else:
                written.append((item, result))
        self._commit(written, outcomes, report)

    def _commit(
        self,
        written: list[tuple[_Claimed, OrderWritten | ClosedInCrm]],
        outcomes: dict[str, Outcome],
        report: SyncReport,
    ) -> None:
        if not written:
            return
        commits = []
        applied_by_order: dict[str, AppliedOrder] = {}
        for item, result in written:
            salesorder_id = result.salesorder_id or _salesorder_id(item.claim)
            applied = AppliedOrder(
                item.plan.amazon_updated,
                item.plan.status,
                item.plan.content_hash,
                result.state,
                salesorder_id,
            )
            commits.append((item.claim.claimed, applied))
            applied_by_order[item.announced.order_id] = applied
        try:
            results = self._state.commit_all(commits)
        except SyncError as exc:
            outcomes.update((item.announced.order_id, exc) for item, _ in written)
            return
        written_at = self._clock()
        samples = []
        for item, result in written:
            committed = results[item.announced.order_id]
            if isinstance(committed, SyncError):
                outcomes[item.announced.order_id] = committed
                continue
            report.committed[item.announced.order_id] = applied_by_order[item.announced.order_id]
            if isinstance(result, ClosedInCrm):
                log.info("Order %s is closed in Dynamics; nothing written", item.announced.order_id)
                outcomes[item.announced.order_id] = Done.CLOSED_IN_CRM
            else:
                outcomes[item.announced.order_id] = Done.WRITTEN
                samples.append(SyncSample(written_at, item.plan.amazon_updated))
        if self._stats is not None:
            self._stats.record(samples)  # best effort: it never raises

    def _give_up_claim(self, item: _Claimed, error: SyncError) -> None:
        """After a failed write this invocation is done with the order. A permanent failure will not be
        retried: release the claim, so no repair is attempted. A passing one will, by a rescheduled copy in
        another invocation: end the claim's lease so the copy repairs at once instead of waiting for us.
        If this write fails too, the lease runs out on its own."""
        try:
            if error.transient:
                self._state.expire_claim(item.claim.claimed)
            else:
                self._state.release(item.claim.claimed)
        except SyncError:
            log.warning("Order %s: could not give up the checkpoint claim", item.announced.order_id)

    # --- settling ---------------------------------------------------------------------------------
    def _settle(self, item: _Announced, outcome: Outcome, report: SyncReport) -> str:
        """Settle the order's messages by its outcome; what became of them (for its trace)."""
        notices = item.notices
        if isinstance(outcome, Done):
            # Stale notifications count one by one (each was a message that needed nothing); the rest per order.
            report.counts[outcome.value] += len(notices) if outcome is Done.STALE else 1
            report.applied += [notice.ref for notice in notices]
            report.settlements += [Settlement.complete(notice.message) for notice in notices]
            return outcome.value
        if isinstance(outcome, UnexpectedFailure):
            report.counts["abandoned"] += len(notices)
            report.settlements += [
                Settlement.abandon(notice.message, outcome.reason, str(outcome)) for notice in notices
            ]
            return "abandoned"
        if outcome.transient:
            report.counts["rescheduled"] += len(notices)
            log.warning("Order %s: passing trouble, messages rescheduled: %s", item.order_id, outcome)
            report.settlements += [
                Settlement.reschedule(notice.message, outcome.reason, str(outcome), delay=outcome.retry_after)
                for notice in notices
            ]
            return "rescheduled"
        report.counts["dead_lettered"] += len(notices)
        log.error("Order %s: permanent failure, messages dead-lettered: %s", item.order_id, outcome)
        report.settlements += [
            Settlement.dead_letter(notice.message, outcome.reason, str(outcome)) for notice in notices
        ]
        return "dead_lettered"

    def _remember_applied(self, report: SyncReport) -> None:
        """Record applied NotificationIds. If this fails the messages are still completed: a redelivery is
        caught by the order checkpoint instead (the notification is stale by then)."""
        try:
            self._state.mark_notifications(report.applied)
        except SyncError as exc:
            log.warning(
                "Could not record %d notifications as applied (%s)", len(report.applied), type(exc).__name__
            )


def _trace(item: _Announced, outcome: Outcome, settled_as: str, report: SyncReport) -> OrderTrace:
    """The order's trail for telemetry: its ids, what became of it, and the write's Amazon time (sync lag)."""
    committed = report.committed.get(item.order_id)
    known = committed or item.settled
    failure = None if isinstance(outcome, Done) else outcome
    return OrderTrace(
        item.order_id,
        settled_as,
        notification_ids=tuple(notice.envelope.notification_id for notice in item.notices),
        crm_id=known.salesorder_id if known is not None else None,
        amazon_updated=committed.amazon_updated if committed and outcome is Done.WRITTEN else None,
        reason=failure.reason if failure is not None else None,
        description=str(failure) if failure is not None else None,
        transient=failure is not None and failure.transient,
    )


def _crm_state_before(claim: Claimed) -> CrmState | None:
    """Where our checkpoint says the CRM order was before this write (None: never written)."""
    applied = claim.basis.applied if claim.basis is not None else None
    return applied.crm_state if applied is not None else None


def _salesorder_id(claim: Claimed) -> str | None:
    applied = claim.claimed.applied
    return applied.salesorder_id if applied is not None else None
