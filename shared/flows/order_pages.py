"""Orders fetched in bulk (a searchOrders page, a chunk of a report) applied through order sync, with the
rule the sweep and the backfill share for what a failure means for their progress:

- every order landed, or was already there (stale, unchanged, closed in the CRM): the page is done;
- some failed *permanently* (an order Amazon sends in a form we cannot read, a SKU held, Dataverse refusing
  the record): each gets a failure row in the state table (reason, order id, where) and the run logs their
  count; the page is still done, because reading it again would fail the same way and hold up every order
  after it;
- some failed *transiently* (an outage, a throttle, a race with a notification writing the same order): the
  page is not done, and the caller does not move its progress past it. Reading it again costs nothing for
  the orders that landed: they are stale by then.

If the failure rows cannot be written, the page is not done either (an operator must be able to find them).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared import telemetry
from shared.amazon.order_translation import AmazonOrderInvalid
from shared.errors import SyncError
from shared.flows.order_sync import Done, OrderSync
from shared.model.order import Order
from shared.state.watermarks import FailureRecord, ProgressStore

log = logging.getLogger(__name__)

FAILURE_KIND = "orders"  # failure rows live in partition f-orders


@dataclass
class PageResult:
    counts: Counter[str] = field(default_factory=Counter)
    transient: dict[str, SyncError] = field(default_factory=dict)  # order id -> why it must be read again
    permanent: list[FailureRecord] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """The caller may move its progress past these orders."""
        return not self.transient

    def merge(self, other: PageResult) -> None:
        self.counts.update(other.counts)
        self.transient.update(other.transient)
        self.permanent += other.permanent


class PageApplier:
    def __init__(self, sync: OrderSync, progress: ProgressStore) -> None:
        self._sync = sync
        self._progress = progress

    def apply(
        self, found: Sequence[Order | AmazonOrderInvalid], *, source: str, owner: str | None = None
    ) -> PageResult:
        """Apply `found` (orders, or the errors of entries Amazon sent in a form we cannot read)."""
        result = PageResult()
        orders = [item for item in found if isinstance(item, Order)]
        for index, invalid in enumerate(item for item in found if not isinstance(item, Order)):
            # An entry without a usable id still gets a row: an operator must learn that one was skipped.
            item_id = invalid.order_id or f"unreadable entry {index + 1} of {source}"
            result.permanent.append(FailureRecord(item_id, invalid.reason, str(invalid), source))
        if orders:
            try:
                outcomes = self._sync.apply(orders, invocation_id=owner)
            except SyncError as exc:  # Table Storage could not even be read: nothing of the page landed
                result.transient.update((order.order_id, exc) for order in orders)
                outcomes = {}
            for order_id, outcome in outcomes.items():
                if isinstance(outcome, Done):
                    result.counts[outcome.value] += 1
                elif outcome.transient:
                    result.transient[order_id] = outcome
                else:
                    result.permanent.append(FailureRecord(order_id, outcome.reason, str(outcome), source))
        self.record(result, source=source)
        return result

    def record(self, result: PageResult, *, source: str) -> None:
        """Write the permanent failures' rows and log the page; a failed write makes the page not done."""
        result.counts["failed"] += len(result.permanent)
        result.counts["retry_later"] += len(result.transient)
        if result.permanent:
            try:
                self._progress.record_failures(FAILURE_KIND, result.permanent)
            except SyncError as exc:
                log.warning(
                    "%s: could not record %d failed orders (%s); the page will be read again",
                    source,
                    len(result.permanent),
                    type(exc).__name__,
                )
                result.transient.update((failure.item_id, exc) for failure in result.permanent)
            else:
                reasons = Counter(failure.reason for failure in result.permanent)
                telemetry.add_each(telemetry.FAILURES, reasons, "reason", outcome="recorded")
                log.error(
                    "%s: %d orders failed permanently and were recorded in the state table (partition f-%s): %s",
                    source,
                    len(result.permanent),
                    FAILURE_KIND,
                    ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items())),
                )
        if result.transient:
            reasons = Counter(error.reason for error in result.transient.values())
            telemetry.add_each(telemetry.FAILURES, reasons, "reason", outcome="retry_later")
            log.warning(
                "%s: %d orders met passing trouble and will be read again: %s",
                source,
                len(result.transient),
                ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items())),
            )
