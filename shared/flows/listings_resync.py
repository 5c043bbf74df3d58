"""Resync jobs by SKU, the doing side: the CRM's current stock and prices of each SKU sent to its listings again.

    SKU -> product and its price list items (Dataverse, read now) -> the mapping's listing changes
        -> listings sync (as a resync's changes) -> the SKU's outcome in its job -> the message's settlement

- The values are read, not taken from an event, and go through the same mapping and the same listings sync as
  the events' (usage plan pacing, productType cached, coalescing window, claims, backlog). A resync's change is
  sent even when it equals the value last sent: Amazon may have drifted from it (see shared/model/listings.py).
- Each value carries the version of the row it was read from, so a CRM change made after the read wins: the
  resync then sends that newer value instead.
- A SKU no product has (UnknownSku), a SKU with nothing to send (NothingToSend), one Amazon lists nowhere
  (NotListed) and Amazon's INVALID answer (ListingRejected, with its issues) are the SKU's failure in its job,
  not dead letters: resyncing again fails the same way until someone fixes the cause. Passing trouble and
  waiting for the coalescing window or the backlog reschedule the message.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from shared.dataverse.listing_values import ListingValuesReader
from shared.dataverse.products import ProductDirectory
from shared.errors import PermanentError, SyncError
from shared.flows.listings_sync import Done, ListingsSync, Result, Wait, combine
from shared.flows.resync_messages import SkuResync
from shared.mapping.config import MappingConfig
from shared.mapping.listings import offer_changes, quantity_changes
from shared.messaging import InboundMessage, Settlement
from shared.model.listings import ListingChange
from shared.state.resync_jobs import ItemOutcome, ResyncJobStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

Wanted = tuple[InboundMessage, SkuResync]


class UnknownSku(PermanentError):
    reason = "UnknownSku"


class NothingToSend(PermanentError):
    reason = "NothingToSend"


class NotListed(PermanentError):
    reason = "NotListed"


class ListingsResync:
    def __init__(
        self,
        *,
        listings: ListingsSync,
        reader: ListingValuesReader,
        directory: ProductDirectory,
        mapping: MappingConfig,
        marketplace_ids: Sequence[str],
        jobs: ResyncJobStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._listings = listings
        self._reader = reader
        self._directory = directory
        self._mapping = mapping
        self._marketplace_ids = tuple(marketplace_ids)
        self._jobs = jobs
        self._clock = clock

    def run(self, wanted: Sequence[Wanted], *, owner: str) -> tuple[list[Settlement], Counter[str]]:
        """Each message's settlement, and counts by how its SKU ended."""
        outcomes: dict[InboundMessage, Result] = {}
        items: list[tuple[InboundMessage, ListingChange]] = []
        read_at = self._clock()  # before the reads: a row changed after this has a newer version
        for message, job in wanted:
            try:
                changes = self._changes(job.sku, read_at)
            except SyncError as exc:
                outcomes[message] = exc
                continue
            items += [(message, replace(change, resync_of=job.asked_at)) for change in changes]
        if items:
            by_message: dict[InboundMessage, list[Result]] = defaultdict(list)
            for message, results in self._listings.apply(items, owner=owner).items():
                by_message[message] += results
            outcomes.update((message, _outcome(results)) for message, results in by_message.items())
        unrecorded = self._record(wanted, outcomes)
        settlements: list[Settlement] = []
        counts: Counter[str] = Counter()
        for message, job in wanted:
            outcome = outcomes[message]
            if _finished(outcome) and job.job_id in unrecorded:
                outcome = unrecorded[job.job_id]  # the job must count it: run it again later
            settlements.append(_settlement(message, job, outcome))
            counts[_count_name(outcome)] += 1
        return settlements, counts

    def _changes(self, sku: str, read_at: datetime) -> list[ListingChange]:
        """What the CRM holds now for the SKU, as the listing changes an event of the same rows would make."""
        product = self._reader.product(sku, read_at=read_at)
        if product is None:
            raise UnknownSku(f"no CRM product has {self._mapping.columns.product.sku} {sku!r}")
        changes = quantity_changes(sku, product.stock, product.version, self._marketplace_ids)
        for item in self._reader.price_items(product.product_id, read_at=read_at):
            price_list = self._directory.price_list_of_item(item.price_list_id, item.currency_id)
            if price_list is None:
                continue
            changes += offer_changes(
                sku,
                item.amount,
                price_list.name,
                price_list.currency or "",
                item.version,
                self._mapping,
                self._marketplace_ids,
            )
        if not changes:
            raise NothingToSend(
                f"the CRM holds no stock on hand and no price in a mapped price list for SKU {sku!r}"
            )
        return changes

    def _record(
        self, wanted: Sequence[Wanted], outcomes: dict[InboundMessage, Result]
    ) -> dict[str, SyncError]:
        """Write the finished SKUs' outcomes into their jobs; the jobs whose rows could not be written."""
        now = self._clock()
        by_job: dict[str, dict[str, ItemOutcome]] = defaultdict(dict)
        for message, job in wanted:
            outcome = outcomes[message]
            if isinstance(outcome, Done):
                by_job[job.job_id][job.sku] = ItemOutcome(job.sku, True, outcome.value, now)
            elif isinstance(outcome, SyncError) and not outcome.transient:
                by_job[job.job_id][job.sku] = ItemOutcome(job.sku, False, f"{outcome.reason}: {outcome}", now)
        unrecorded: dict[str, SyncError] = {}
        for job_id, rows in by_job.items():
            try:
                self._jobs.record_outcomes(job_id, list(rows.values()))
            except SyncError as exc:
                log.warning(
                    "Resync job %s: outcomes of %d SKUs not recorded (%s)", job_id, len(rows), exc.reason
                )
                unrecorded[job_id] = exc
        return unrecorded


def _outcome(results: Sequence[Result]) -> Result:
    """The SKU's outcome over its listings. Unlike an event's message, one still waiting for a listing waits even
    if Amazon refused another (the refusal is in that listing's row and is read again when it comes back), so
    every listing of the SKU gets its send. Listed in no marketplace at all is worth the operator's attention."""
    unfinished = [r for r in results if isinstance(r, Wait) or (isinstance(r, SyncError) and r.transient)]
    if unfinished:
        return combine(unfinished)
    if results and all(result is Done.NOT_LISTED for result in results):
        return NotListed("Amazon has no listing for this SKU in any configured marketplace")
    return combine(results)


def _finished(outcome: Result) -> bool:
    return isinstance(outcome, Done) or (isinstance(outcome, SyncError) and not outcome.transient)


def _settlement(message: InboundMessage, job: SkuResync, outcome: Result) -> Settlement:
    if isinstance(outcome, Wait):
        return Settlement.reschedule(
            message, outcome.reason, "comes back to send what is wanted then", delay=outcome.seconds
        )
    if isinstance(outcome, SyncError):
        if outcome.transient:
            return Settlement.reschedule(message, outcome.reason, str(outcome), delay=outcome.retry_after)
        log.warning("Resync job %s: SKU %s failed: %s", job.job_id, job.sku, outcome.reason)
    return Settlement.complete(message)


def _count_name(outcome: Result) -> str:
    if isinstance(outcome, Done):
        return outcome.value
    if isinstance(outcome, Wait):
        return "waiting"
    return "rescheduled" if outcome.transient else "failed"
