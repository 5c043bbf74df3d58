"""Order sync: ORDER_CHANGE notifications in, Dynamics sales orders out, each change applied exactly once.

    parse -> dedupe -> group by order -> skip stale -> fetch from Amazon -> map -> claim -> write -> commit

- Dedupe by NotificationId (SQS and Service Bus both deliver at least once) costs no Amazon or Dataverse
  call. A notification older than what the CRM already holds (its TimeOfOrderChange is not after the
  checkpoint's Amazon lastUpdatedTime) is stale and costs nothing either.
- Several notifications of one order in a batch become one fetch and one write. Many orders at once are
  fetched with searchOrders (100 per page) while its small quota lasts; the rest with getOrder.
- An Amazon snapshot older than the checkpoint, or with a lower status, never overwrites a newer one.
- Identical content (same hash as the last write) costs no Dataverse write.
- The checkpoint is claimed (ETag-conditional) before writing and committed after: two instances cannot
  both write one change, and a claim left behind by a crash makes the next delivery repair the order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.amazon.notifications import (
    ORDER_CHANGE,
    MalformedNotification,
    NotificationEnvelope,
    OrderChange,
    parse_envelope,
    parse_order_change,
)
from shared.amazon.orders import OrdersApi
from shared.canonical import NOTIFICATION_STATUSES, Order, OrderStatus
from shared.dataverse.catalog import CrmCatalog
from shared.errors import PermanentError, SyncError, TransientError
from shared.flows.order_claims import ClaimDesk, Claimed, ClaimRequest, Covered
from shared.flows.order_fetch import FetchRequest, OrderFetcher
from shared.flows.order_writer import OrderWriter, WriteJob, WriteOutcome
from shared.mapping.amazon_to_canonical import to_canonical
from shared.mapping.config import MappingConfig
from shared.mapping.salesorder import OrderWritePlan, plan_order
from shared.messaging import InboundMessage, Settlement
from shared.state.store import NotificationRef, OrderCheckpoint, StateStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


class ForeignSeller(PermanentError):
    reason = "ForeignSeller"


class SnapshotLagging(TransientError):
    """Amazon's getOrder still shows an older state than the notification announced; ask again later."""

    reason = "AmazonSnapshotLagging"


class UnknownSku(PermanentError):
    reason = "UnknownSku"


@dataclass
class SyncReport:
    settlements: list[Settlement] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    applied: list[NotificationRef] = field(default_factory=list)
    unknown_skus: Counter[str] = field(default_factory=Counter)


@dataclass
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


@dataclass
class _OrderWork:
    order_id: str
    notices: list[_Notice]
    checkpoint: OrderCheckpoint | None = None
    raw: dict[str, Any] | None = None
    order: Order | None = None
    plan: OrderWritePlan | None = None
    claim: Claimed | None = None

    @property
    def owner(self) -> str:
        """Who claims the order: the first message; its redelivery recognises the claim as its own."""
        return self.notices[0].message.message_id

    @property
    def content_hash(self) -> str:
        assert self.plan is not None
        return self.plan.content_hash()

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


class OrderSync:
    def __init__(
        self,
        *,
        orders: OrdersApi,
        writer: OrderWriter,
        catalog: CrmCatalog,
        state: StateStore,
        mapping: MappingConfig,
        seller_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher = OrderFetcher(orders, clock=clock)
        self._claims = ClaimDesk(state, clock=clock, sleep=sleep)
        self._writer = writer
        self._catalog = catalog
        self._state = state
        self._mapping = mapping
        self._seller_id = seller_id
        self.totals: Counter[str] = Counter()  # since the process started: for metrics and the benchmark
        self._totals_lock = threading.Lock()

    # --- the flow ---------------------------------------------------------------------------------
    def handle(self, messages: Sequence[InboundMessage]) -> SyncReport:
        report = SyncReport()
        notices = self._parse(messages, report)
        notices = self._drop_duplicates(notices, report)
        work = self._group(notices)
        checkpoints = self._state.get_orders(item.order_id for item in work)
        for item in work:
            item.checkpoint = checkpoints.get(item.order_id)
        work = [item for item in work if not self._stale_before_fetch(item, report)]
        self._fetch(work, report)
        work = [item for item in work if item.raw is not None and self._mapped(item, report)]
        self._plan(work, report)
        work = self._claim_all([item for item in work if item.plan is not None], report)
        self._write(work, report)
        self._remember_applied(report)
        with self._totals_lock:
            self.totals.update(report.counts)
        log.info(
            "Order sync: %s", ", ".join(f"{name}={count}" for name, count in sorted(report.counts.items()))
        )
        return report

    # --- steps ------------------------------------------------------------------------------------
    def _parse(self, messages: Sequence[InboundMessage], report: SyncReport) -> list[_Notice]:
        notices = []
        for message in messages:
            report.counts["messages"] += 1
            try:
                envelope = parse_envelope(message.body)
                if envelope.notification_type != ORDER_CHANGE:
                    log.info(
                        "Notification %s of type %s is not handled by order sync; completed",
                        envelope.notification_id,
                        envelope.notification_type,
                    )
                    report.counts["ignored_type"] += 1
                    report.settlements.append(Settlement.complete(message))
                    continue
                change = parse_order_change(envelope)
                if self._seller_id and change.seller_id != self._seller_id:
                    raise ForeignSeller(
                        f"notification {envelope.notification_id} is for seller {change.seller_id}, "
                        f"not SPAPI_SELLER_ID {self._seller_id}"
                    )
            except (MalformedNotification, ForeignSeller) as exc:
                log.warning("Message %s dead-lettered: %s", message.message_id, exc)
                report.counts["malformed"] += 1
                report.settlements.append(Settlement.dead_letter(message, exc.reason, str(exc)))
                continue
            notices.append(_Notice(message, envelope, change))
        return notices

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

    def _group(self, notices: list[_Notice]) -> list[_OrderWork]:
        by_order: dict[str, list[_Notice]] = defaultdict(list)
        for notice in notices:
            by_order[notice.change.amazon_order_id].append(notice)
        return [_OrderWork(order_id, items) for order_id, items in by_order.items()]

    def _stale_before_fetch(self, item: _OrderWork, report: SyncReport) -> bool:
        checkpoint = item.checkpoint
        if checkpoint is None or checkpoint.is_pending or checkpoint.applied_updated is None:
            return False
        if item.newest_change > checkpoint.applied_updated:
            return False
        report.counts["stale"] += len(item.notices)
        self._finish(item, report)
        return True

    def _fetch(self, work: list[_OrderWork], report: SyncReport) -> None:
        result = self._fetcher.fetch(
            [FetchRequest(item.order_id, item.oldest_change, item.newest_change) for item in work]
        )
        report.counts.update(result.counts)
        for item in work:
            item.raw = result.orders.get(item.order_id)
            error = result.errors.get(item.order_id)
            if error is not None:
                self._fail(item, error, report)

    def _mapped(self, item: _OrderWork, report: SyncReport) -> bool:
        try:
            order = to_canonical(item.raw or {})
            announced = item.announced_rank
            if announced is not None and order.status.rank < announced:
                raise SnapshotLagging(
                    f"order {item.order_id}: Amazon still reports {order.amazon_status} after a newer notification"
                )
        except SyncError as exc:
            self._fail(item, exc, report)
            return False
        checkpoint = item.checkpoint
        if checkpoint is not None and not checkpoint.is_pending and checkpoint.applied_updated is not None:
            older = order.last_updated < checkpoint.applied_updated
            backwards = checkpoint.status is not None and order.status.rank < _rank(checkpoint.status)
            if older or backwards:
                log.info("Order %s: Amazon snapshot older than the CRM's; nothing to do", item.order_id)
                report.counts["stale"] += len(item.notices)
                self._finish(item, report)
                return False
        item.order = order
        return True

    def _plan(self, work: list[_OrderWork], report: SyncReport) -> None:
        orders = [item.order for item in work if item.order is not None]
        currencies = {order.currency or self._marketplace_currency(order) for order in orders} - {None}
        price_lists = {self._mapping.salesorder.price_list_for(code) for code in currencies if code} - {None}
        try:
            lookups = self._catalog.lookups(
                currencies={code for code in currencies if code},
                price_lists={name for name in price_lists if name},
                skus={sku for order in orders for sku in order.skus},
            )
        except SyncError as exc:
            for item in work:
                self._fail(item, exc, report)
            return
        for item in work:
            if item.order is None:
                continue
            try:
                plan = plan_order(item.order, self._mapping, lookups)
            except SyncError as exc:
                self._fail(item, exc, report)
                continue
            for sku in plan.unknown_skus:
                report.unknown_skus[sku] += 1
            if plan.unknown_skus:
                log.warning(
                    "Order %s: SKUs with no Dataverse product (productnumber): %s; %s",
                    item.order_id,
                    ", ".join(plan.unknown_skus),
                    "order held" if plan.hold else "written as write-in lines",
                )
            if plan.hold:
                report.counts["held"] += 1
                self._fail(
                    item,
                    UnknownSku(f"order {item.order_id} held: unknown SKUs {', '.join(plan.unknown_skus)}"),
                    report,
                )
                continue
            checkpoint = item.checkpoint
            if checkpoint and not checkpoint.is_pending and checkpoint.content_hash == plan.content_hash():
                report.counts["unchanged"] += 1
                self._finish(item, report)
                continue
            item.plan = plan

    def _claim_all(self, work: list[_OrderWork], report: SyncReport) -> list[_OrderWork]:
        """Claim the checkpoints of every order about to be written (see flows/order_claims.py)."""
        requests = []
        for item in work:
            assert item.plan is not None
            requests.append(
                ClaimRequest(
                    item.order_id, item.checkpoint, item.content_hash, item.owner, item.plan.amazon_updated
                )
            )
        outcomes = self._claims.claim_all(requests)
        claimed = []
        for item in work:
            outcome = outcomes[item.order_id]
            if isinstance(outcome, Claimed):
                item.claim = outcome
                claimed.append(item)
            elif isinstance(outcome, Covered):
                report.counts["stale"] += len(item.notices)
                self._finish(item, report)
            else:
                self._fail(item, outcome, report)
        return claimed

    def _write(self, work: list[_OrderWork], report: SyncReport) -> None:
        if not work:
            return
        jobs = [
            WriteJob(item.plan, _crm_state(item.claim.basis), repair=item.claim.repair)
            for item in work
            if item.plan and item.claim
        ]
        by_order = {item.order_id: item for item in work}
        written: list[tuple[_OrderWork, WriteOutcome]] = []
        for outcome in self._writer.write(jobs):
            item = by_order[outcome.job.plan.order_id]
            if outcome.error is not None:
                self._fail(item, outcome.error, report)
            else:
                written.append((item, outcome))
        self._commit_all(written, report)

    def _commit_all(self, written: list[tuple[_OrderWork, WriteOutcome]], report: SyncReport) -> None:
        commits = []
        for item, outcome in written:
            assert item.plan is not None
            assert item.claim is not None
            statecode, statuscode = outcome.state or (None, None)
            applied = {
                "applied_updated": item.plan.amazon_updated,
                "status": item.plan.status.value,
                "content_hash": item.content_hash,
                "statecode": statecode,
                "statuscode": statuscode,
                "salesorder_id": outcome.salesorder_id or item.claim.claimed.salesorder_id,
            }
            commits.append((item.claim.claimed, applied))
        try:
            results = self._state.commit_all(commits)
        except SyncError as exc:
            for item, _ in written:
                self._fail(item, exc, report)
            return
        for item, outcome in written:
            result = results[item.order_id]
            if isinstance(result, SyncError):
                self._fail(item, result, report)
                continue
            if outcome.closed_in_crm:
                log.info("Order %s is closed in Dynamics; nothing written", item.order_id)
                report.counts["closed_in_crm"] += 1
            else:
                report.counts["written"] += 1
            self._finish(item, report)

    # --- settling ---------------------------------------------------------------------------------
    def _finish(self, item: _OrderWork, report: SyncReport) -> None:
        """Complete the order's messages; their NotificationIds are recorded at the end of the batch."""
        report.applied += [notice.ref for notice in item.notices]
        report.settlements += [Settlement.complete(notice.message) for notice in item.notices]

    def _remember_applied(self, report: SyncReport) -> None:
        """Record applied NotificationIds. If this fails the messages are still completed: a redelivery is
        caught by the order checkpoint instead (the notification is stale by then)."""
        try:
            self._state.mark_notifications(report.applied)
        except SyncError as exc:
            log.warning(
                "Could not record %d notifications as applied (%s)", len(report.applied), type(exc).__name__
            )

    def _fail(self, item: _OrderWork, error: SyncError, report: SyncReport) -> None:
        if error.transient and _out_of_quota(error):
            report.counts["retry_later"] += len(item.notices)
            log.warning(
                "Order %s: out of quota, messages wait for their lock to expire: %s", item.order_id, error
            )
            report.settlements += [
                Settlement.retry_later(notice.message, error.reason, str(error)) for notice in item.notices
            ]
            return
        if error.transient:
            report.counts["abandoned"] += len(item.notices)
            log.warning("Order %s: transient failure, messages abandoned: %s", item.order_id, error)
            report.settlements += [
                Settlement.abandon(notice.message, error.reason, str(error)) for notice in item.notices
            ]
            return
        if item.claim is not None:
            try:
                self._state.release(item.claim.claimed)
            except SyncError:
                log.warning("Order %s: could not release the checkpoint claim", item.order_id)
        report.counts["dead_lettered"] += len(item.notices)
        log.error("Order %s: permanent failure, messages dead-lettered: %s", item.order_id, error)
        report.settlements += [
            Settlement.dead_letter(notice.message, error.reason, str(error)) for notice in item.notices
        ]

    def _marketplace_currency(self, order: Order) -> str | None:
        marketplace = self._mapping.marketplaces.get(order.marketplace_id or "")
        return marketplace.currency if marketplace else None


# A server (or our own bucket) asking for a pause longer than this means quota, not a blip.
QUOTA_PAUSE_SECONDS = 5.0


def _out_of_quota(error: SyncError) -> bool:
    retry_after = getattr(error, "retry_after", None)
    return isinstance(retry_after, int | float) and retry_after > QUOTA_PAUSE_SECONDS


def _rank(status: str) -> int:
    try:
        return OrderStatus(status).rank
    except ValueError:
        return -1


def _crm_state(checkpoint: OrderCheckpoint | None) -> tuple[int, int] | None:
    if checkpoint is None or checkpoint.statecode is None or checkpoint.statuscode is None:
        return None
    return (checkpoint.statecode, checkpoint.statuscode)
