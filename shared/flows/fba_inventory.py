"""FBA stock -> CRM: Amazon's fulfillable FBA quantity per product and marketplace, from the
FBA_INVENTORY_AVAILABILITY_CHANGES notification (routed here by NotificationType) and a daily sweep of
getInventorySummaries (the safety net for notifications that never came).

    quantities -> skip older and unchanged (Table Storage) -> products by SKU (cached) -> upsert rows ($batch)
      -> record what was written -> publish to the inventory-changes topic

The notification's EventTime (the sweep: each summary's lastUpdatedTime) is the version: a late or repeated
notification, or a sweep reading an older summary, never overwrites a newer quantity; an equal quantity is
not written again. A SKU with no CRM product is skipped with a log line (there is no product to show it on).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from shared.amazon.fba_inventory import (
    FBA_INVENTORY_AVAILABILITY_CHANGES,
    FbaInventoryApi,
    parse_fba_availability,
)
from shared.amazon.notifications import check_versions, parse_envelope
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.fba_stock import CrmFbaStock, StockWritten
from shared.errors import PermanentError, SyncError
from shared.flows.inventory_publish import InventoryPublisher
from shared.mapping.config import MappingConfig
from shared.mapping.fba_stock import fba_stock_record
from shared.messaging import BatchReport, InboundMessage, Settlement
from shared.model.crm import RecordWrite
from shared.model.inventory import ChangeSource, FbaQuantity, InventoryChange
from shared.state.fba_stock import AppliedStock, FbaStockStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)
SWEEP_CHUNK = 100  # quantities per apply: one Table lookup round, one $batch


class ForeignSeller(PermanentError):
    reason = "ForeignSeller"


class Stocked(StrEnum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"  # the CRM shows this quantity already
    STALE = "stale"  # older than the quantity the CRM shows
    UNKNOWN_SKU = "unknown_sku"  # no CRM product has this SKU


Key = tuple[str, str]  # (sku, marketplace id)


class FbaInventorySync:
    def __init__(
        self,
        *,
        inventory: FbaInventoryApi,
        catalog: CrmCatalog,
        crm: CrmFbaStock,
        store: FbaStockStore,
        publisher: InventoryPublisher,
        mapping: MappingConfig,
        seller_id: str,
        marketplace_ids: Sequence[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._inventory = inventory
        self._catalog = catalog
        self._crm = crm
        self._store = store
        self._publisher = publisher
        self._mapping = mapping
        self._seller_id = seller_id
        self._marketplace_ids = tuple(marketplace_ids)
        self._clock = clock
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    # --- notifications (a NotificationRouter handler) -----------------------------------------------------
    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> BatchReport:
        report = BatchReport()
        read: list[tuple[InboundMessage, list[FbaQuantity]]] = []
        for message in messages:
            try:
                read.append((message, self._read(message)))
            except SyncError as exc:
                log.warning("FBA notification %s dead-lettered: %s", message.message_id, exc)
                report.counts["malformed"] += 1
                report.settlements.append(Settlement.dead_letter(message, exc.reason, str(exc)))
        outcomes = self.apply([quantity for _, quantities in read for quantity in quantities])
        for message, quantities in read:
            results = [outcomes[(q.sku, q.marketplace_id)] for q in quantities]
            report.settlements.append(_settlement(message, results))
            report.counts.update(r.value if isinstance(r, Stocked) else "failed" for r in results)
        return report

    def _read(self, message: InboundMessage) -> list[FbaQuantity]:
        envelope = parse_envelope(message.body)
        check_versions(envelope)
        seller_id, quantities = parse_fba_availability(envelope)
        if seller_id != self._seller_id:
            raise ForeignSeller(
                f"{FBA_INVENTORY_AVAILABILITY_CHANGES} {envelope.notification_id} is for another seller than "
                "SPAPI_SELLER_ID"
            )
        return quantities

    # --- the daily sweep ------------------------------------------------------------------------------------
    def sweep(self) -> Counter[str]:
        """Read every marketplace's summaries and apply what changed; returns counts by outcome."""
        counts: Counter[str] = Counter()
        for marketplace_id in self._marketplace_ids:
            quantities = list(self._inventory.summaries(marketplace_id))  # pages back to back: tokens expire
            for start in range(0, len(quantities), SWEEP_CHUNK):
                chunk = quantities[start : start + SWEEP_CHUNK]
                outcomes = self.apply(chunk)
                failures = [r for r in outcomes.values() if isinstance(r, SyncError)]
                counts.update(r.value for r in outcomes.values() if isinstance(r, Stocked))
                counts["failed"] += len(failures)
        log.info("FBA sweep: %s", dict(counts))
        return counts

    # --- both ---------------------------------------------------------------------------------------------------
    def apply(self, quantities: Sequence[FbaQuantity]) -> dict[Key, Stocked | SyncError]:
        """Write what is newer than the CRM's quantity; the outcome per (SKU, marketplace)."""
        latest: dict[Key, FbaQuantity] = {}
        for quantity in quantities:
            key = (quantity.sku, quantity.marketplace_id)
            if key not in latest or quantity.as_of > latest[key].as_of:
                latest[key] = quantity
        outcomes: dict[Key, Stocked | SyncError] = {}
        try:
            applied = self._store.get_many(latest)
            fresh = self._fresh(latest, applied, outcomes)
            products = self._catalog.lookups(
                currencies=(), price_lists=(), skus={k[0] for k in fresh}
            ).products
        except SyncError as exc:
            return dict.fromkeys(latest, exc)
        writes = []
        for key, quantity in fresh.items():
            product = products.get(quantity.sku)
            if product is None:
                log.warning(
                    "FBA stock of SKU %s: no CRM product has this productnumber; skipped", quantity.sku
                )
                outcomes[key] = Stocked.UNKNOWN_SKU
            else:
                writes.append((key, fba_stock_record(quantity, product.product_id, self._mapping)))
        self._write(writes, latest, applied, outcomes)
        with self._lock:
            self.totals.update(r.value if isinstance(r, Stocked) else r.reason for r in outcomes.values())
        return outcomes

    def _fresh(
        self,
        latest: dict[Key, FbaQuantity],
        applied: dict[Key, AppliedStock],
        outcomes: dict[Key, Stocked | SyncError],
    ) -> dict[Key, FbaQuantity]:
        fresh = {}
        for key, quantity in latest.items():
            known = applied[key]
            if known.as_of is not None and quantity.as_of <= known.as_of:
                outcomes[key] = Stocked.STALE
                if known.published is None or known.published < known.as_of:
                    self._publish(known, outcomes, key)  # written before, but its publish failed
            elif known.fulfillable == quantity.fulfillable:
                self._record(replace(known, as_of=quantity.as_of, published=quantity.as_of), outcomes, key)
                outcomes.setdefault(key, Stocked.UNCHANGED)
            else:
                fresh[key] = quantity
        return fresh

    def _write(
        self,
        writes: list[tuple[Key, RecordWrite]],
        latest: dict[Key, FbaQuantity],
        applied: dict[Key, AppliedStock],
        outcomes: dict[Key, Stocked | SyncError],
    ) -> None:
        if not writes:
            return
        try:
            results = self._crm.write([record for _, record in writes])
        except SyncError as exc:
            outcomes.update((key, exc) for key, _ in writes)
            return
        for (key, _), result in zip(writes, results, strict=True):
            if not isinstance(result, StockWritten):
                outcomes[key] = result
                continue
            quantity = latest[key]
            saved = self._record(
                replace(applied[key], fulfillable=quantity.fulfillable, as_of=quantity.as_of), outcomes, key
            )
            if saved is not None:
                outcomes[key] = Stocked.WRITTEN
                self._publish(saved, outcomes, key)

    def _record(
        self, stock: AppliedStock, outcomes: dict[Key, Stocked | SyncError], key: Key
    ) -> AppliedStock | None:
        try:
            return self._store.save(stock)
        except SyncError as exc:
            outcomes[key] = exc
            return None

    def _publish(self, stock: AppliedStock, outcomes: dict[Key, Stocked | SyncError], key: Key) -> None:
        """Publish the quantity written, then record that it was (a failure is tried again next delivery)."""
        if stock.fulfillable is None or stock.as_of is None:
            return
        change = InventoryChange(
            stock.sku, stock.marketplace_id, stock.fulfillable, ChangeSource.AMAZON_FBA, stock.as_of
        )
        try:
            self._publisher.publish([change])
            self._store.save(replace(stock, published=stock.as_of))
        except SyncError as exc:
            outcomes[key] = exc


def _settlement(message: InboundMessage, results: list[Stocked | SyncError]) -> Settlement:
    errors = [r for r in results if isinstance(r, SyncError)]
    permanent = [e for e in errors if not e.transient]
    if permanent:
        return Settlement.dead_letter(message, permanent[0].reason, str(permanent[0]))
    if errors:
        return Settlement.reschedule(message, errors[0].reason, str(errors[0]), delay=errors[0].retry_after)
    return Settlement.complete(message)
