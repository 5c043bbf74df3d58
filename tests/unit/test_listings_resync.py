"""Resync jobs by SKU over fakes (the CRM's values, Amazon's listings, Table Storage): what each SKU message
sends, how it ends in its job, and how its message is settled. No sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest

from shared.dataverse.listing_values import ListingValuesReader, PriceItem, ProductStock
from shared.dataverse.products import PriceListRef, ProductDirectory
from shared.errors import SyncError, TransientError
from shared.flows.inventory_publish import InventoryPublisher
from shared.flows.listing_sender import ListingSender
from shared.flows.listings_resync import ListingsResync
from shared.flows.listings_sync import ListingsOptions, ListingsSync
from shared.flows.orders_backfill import OrdersBackfill
from shared.flows.resync import JobState, Resync
from shared.flows.resync_messages import MalformedResyncMessage, SkuResync, read_message, sku_message
from shared.mapping.config import ListingsMapping, load_mapping
from shared.messaging import InboundMessage
from shared.model.crm_events import VersionStamp
from shared.model.listings import Field as ListingField
from shared.model.listings import ListingChange, ListingKey, Price
from shared.servicebus.sender import NotificationSender
from shared.state.resync_jobs import ResyncJobStore
from tests.unit.test_listings_sync import FakeListings, FakeStore, FakeTopic
from tests.unit.test_resync_worker import JOB, FakeBackfill, MemoryJobs, RecordingQueue, WorkerRig

US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"
SKU, PRODUCT = "MUG-1", "7b0c5b1e-5a8e-4d0e-9a4c-0d8e1f2a3b4c"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ASKED = T0 + timedelta(hours=1)
NOW = ASKED + timedelta(seconds=5)
LISTS = {"list-us": PriceListRef("Amazon US", "USD"), "list-uk": PriceListRef("Amazon UK", "GBP")}


@dataclass
class FakeCrm:
    """ListingValuesReader and ProductDirectory in one: a product per SKU and its price list items."""

    products: dict[str, ProductStock] = field(default_factory=dict)
    items: dict[str, list[PriceItem]] = field(default_factory=dict)
    fail: SyncError | None = None

    def product(self, sku: str, *, read_at: datetime) -> ProductStock | None:
        if self.fail is not None:
            raise self.fail
        return self.products.get(sku)

    def price_items(self, product_id: str, *, read_at: datetime) -> list[PriceItem]:
        return self.items.get(product_id, [])

    def price_list_of_item(self, price_list_id: str, currency_id: str | None) -> PriceListRef | None:
        return LISTS.get(price_list_id)


@dataclass
class SkuRig:
    crm: FakeCrm = field(default_factory=FakeCrm)
    amazon: FakeListings = field(default_factory=FakeListings)
    store: FakeStore = field(default_factory=FakeStore)
    jobs: MemoryJobs = field(default_factory=MemoryJobs)
    now: datetime = NOW

    def sync(self) -> ListingsSync:
        sender = ListingSender(
            self.amazon,  # type: ignore[arg-type]
            self.store,  # type: ignore[arg-type]
            InventoryPublisher(FakeTopic()),
            clock=lambda: self.now,
        )
        return ListingsSync(
            sender, options=ListingsOptions(coalesce=timedelta(seconds=3)), clock=lambda: self.now
        )

    def handle(self, *skus: str, asked: datetime = ASKED) -> list[tuple[str, str | None]]:
        mapping = load_mapping()
        mapping = mapping.model_copy(
            update={"listings": ListingsMapping(price_lists={US: "Amazon US", UK: "Amazon UK"})}
        )
        listings = ListingsResync(
            listings=self.sync(),
            reader=cast(ListingValuesReader, self.crm),
            directory=cast(ProductDirectory, self.crm),
            mapping=mapping,
            marketplace_ids=(US, UK),
            jobs=cast(ResyncJobStore, self.jobs),
            clock=lambda: self.now,
        )
        rig = WorkerRig(jobs=self.jobs, listings=listings)
        messages = [sku_message(JOB, sku, asked) for sku in skus]
        report = rig.worker().handle(
            [InboundMessage(message.message_id, message.body) for message in messages], invocation_id="inv-1"
        )
        return [(settlement.outcome.value, settlement.reason) for settlement in report.settlements]

    def outcomes(self) -> dict[str, tuple[bool, str]]:
        return {outcome.item: (outcome.applied, outcome.detail) for outcome in self.jobs.outcomes(JOB)}


def stamp(minutes: int, sequence: int) -> VersionStamp:
    return VersionStamp(T0 + timedelta(minutes=minutes), sequence)


@pytest.fixture
def rig() -> SkuRig:
    """The CRM: MUG-1 with 7 on hand and a price in the US and the UK list; Amazon was sent those already."""
    rig = SkuRig()
    rig.crm.products[SKU] = ProductStock(PRODUCT, Decimal("7.9"), stamp(0, 100))
    rig.crm.items[PRODUCT] = [
        PriceItem("list-us", None, Decimal("19.99"), stamp(0, 101)),
        PriceItem("list-uk", None, Decimal("16.50"), stamp(0, 102)),
        PriceItem("list-elsewhere", None, Decimal("1"), stamp(0, 103)),  # no marketplace's: not Amazon's
    ]
    return rig


def sent_before(rig: SkuRig) -> None:
    """What the events flow sent earlier, by the same rows' versions."""
    sync = rig.sync()
    changes = [
        ListingChange(ListingKey(SKU, US), ListingField.QUANTITY, 7, stamp(0, 100)),
        ListingChange(ListingKey(SKU, UK), ListingField.QUANTITY, 7, stamp(0, 100)),
        ListingChange(ListingKey(SKU, US), ListingField.PRICE, Price(Decimal("19.99"), "USD"), stamp(0, 101)),
        ListingChange(ListingKey(SKU, UK), ListingField.PRICE, Price(Decimal("16.50"), "GBP"), stamp(0, 102)),
    ]
    sync.apply([(InboundMessage("event", b"{}"), change) for change in changes], owner="events")
    rig.amazon.patches.clear()
    rig.now += timedelta(minutes=1)  # past the coalescing window of that send


def test_a_sku_sends_the_crms_stock_and_prices_again_and_counts_as_applied(rig: SkuRig) -> None:
    """Values Amazon was sent already go out again (Amazon may differ), one patch per marketplace."""
    sent_before(rig)
    assert rig.handle(SKU) == [("complete", None)]
    assert sorted(rig.amazon.patches) == sorted(
        [
            (ListingKey(SKU, US), 7, Price(Decimal("19.99"), "USD")),
            (ListingKey(SKU, UK), 7, Price(Decimal("16.50"), "GBP")),
        ]
    )
    assert rig.outcomes() == {SKU: (True, "sent")}


def test_a_redelivered_sku_message_sends_nothing_more(rig: SkuRig) -> None:
    rig.handle(SKU)
    rig.amazon.patches.clear()
    rig.now += timedelta(minutes=1)
    assert rig.handle(SKU) == [("complete", None)]
    assert rig.amazon.patches == []
    assert rig.outcomes() == {SKU: (True, "covered")}


def test_a_newer_crm_value_wins_over_what_the_resync_read(rig: SkuRig) -> None:
    """An event newer than the row the resync read (12 on hand) was sent: the resync re-sends 12, not 7."""
    sync = rig.sync()
    newer = [ListingChange(ListingKey(SKU, m), ListingField.QUANTITY, 12, stamp(5, 200)) for m in (US, UK)]
    sync.apply([(InboundMessage("event", b"{}"), change) for change in newer], owner="events")
    rig.amazon.patches.clear()
    rig.now += timedelta(minutes=1)
    rig.handle(SKU)
    assert {patch[1] for patch in rig.amazon.patches} == {12}


def test_an_unknown_sku_fails_in_its_job_and_its_message_completes(rig: SkuRig) -> None:
    assert rig.handle("NOPE-1", SKU) == [("complete", None), ("complete", None)]
    applied, detail = rig.outcomes()["NOPE-1"]
    assert not applied
    assert detail.startswith("UnknownSku: ")
    assert rig.outcomes()[SKU] == (True, "sent")


def test_amazons_invalid_answer_is_the_skus_failure_with_amazons_issues(rig: SkuRig) -> None:
    rig.amazon.answer = "INVALID"
    assert rig.handle(SKU) == [("complete", None)]
    applied, detail = rig.outcomes()[SKU]
    assert not applied
    assert detail.startswith("ListingRejected: ")
    assert "4000001" in detail


def test_passing_trouble_reschedules_the_message_and_records_nothing(rig: SkuRig) -> None:
    rig.crm.fail = TransientError("Dataverse is busy", retry_after=30.0)
    assert rig.handle(SKU) == [("reschedule", "Transient")]
    assert rig.outcomes() == {}


def test_a_sku_with_nothing_to_send_fails_in_its_job(rig: SkuRig) -> None:
    rig.crm.products[SKU] = ProductStock(PRODUCT, None, stamp(0, 100))
    rig.crm.items[PRODUCT] = []
    rig.handle(SKU)
    assert rig.outcomes()[SKU][1].startswith("NothingToSend: ")


def test_a_sku_amazon_lists_nowhere_fails_as_not_listed(rig: SkuRig) -> None:
    rig.amazon.product_type = lambda key: None  # type: ignore[method-assign]
    rig.handle(SKU)
    assert rig.outcomes()[SKU][1].startswith("NotListed: ")
    assert rig.amazon.patches == []


def test_a_job_of_skus_is_queued_one_message_each_and_reports_applied_and_failed(rig: SkuRig) -> None:
    """Start: one message per distinct SKU, ids derived from the job and the SKU; the status counts outcomes."""
    queue = RecordingQueue()
    resync = Resync(
        jobs=cast(ResyncJobStore, rig.jobs),
        queue=cast(NotificationSender, queue),
        backfill=cast(OrdersBackfill, FakeBackfill()),
        clock=lambda: ASKED,
        new_job_id=lambda: JOB,
    )
    started = resync.start_skus([SKU, "NOPE-1", SKU])
    assert (started.kind, started.state, started.queued) == ("listings", JobState.QUEUED, 2)
    assert [message.message_id for message in queue.sent] == [f"resync:{JOB}:{SKU}", f"resync:{JOB}:NOPE-1"]
    rig.handle(SKU, "NOPE-1")
    done = resync.status(JOB)
    assert done is not None
    assert (done.state, done.applied, done.failed) == (JobState.DONE, 1, 1)
    assert [item.item for item in done.failures] == ["NOPE-1"]


def test_right_after_a_send_the_resync_waits_for_the_window_then_sends(rig: SkuRig) -> None:
    """Usual pacing: within LISTINGS_COALESCE_SECONDS of the last send the message comes back, nothing recorded."""
    sent_before(rig)
    rig.now -= timedelta(minutes=1)  # still inside the window of that send
    assert rig.handle(SKU) == [("reschedule", "Coalescing")]
    assert rig.outcomes() == {}
    rig.now += timedelta(seconds=5)
    assert rig.handle(SKU) == [("complete", None)]
    assert rig.outcomes() == {SKU: (True, "sent")}
    assert len(rig.amazon.patches) == 2


def test_a_sku_message_reads_back_and_a_forged_sku_is_malformed() -> None:
    message = sku_message(JOB, "HB BOTTLE 750", ASKED)
    job = read_message(message.body)
    assert isinstance(job, SkuResync)
    assert (job.job_id, job.sku, job.asked_at) == (JOB, "HB BOTTLE 750", ASKED)
    forged = message.body.replace(b"HB BOTTLE 750", b"HB\\nBOTTLE")
    with pytest.raises(MalformedResyncMessage, match="sku"):
        read_message(forged)


def test_a_sku_believed_unlisted_is_asked_about_again_by_a_resync(rig: SkuRig) -> None:
    """A 404 is believed for an hour for events; an operator's resync asks Amazon again (it may be new)."""
    listed = rig.amazon.product_type
    rig.amazon.product_type = lambda key: None  # type: ignore[method-assign]
    rig.handle(SKU)
    rig.amazon.product_type = listed  # type: ignore[method-assign]
    rig.now += timedelta(minutes=1)
    rig.handle(SKU, asked=ASKED + timedelta(minutes=1))
    assert rig.outcomes()[SKU] == (True, "sent")
