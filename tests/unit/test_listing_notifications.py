"""Listing notifications over in-memory fakes (Amazon's Listings API, Table Storage with ETags, the topic):
a listing that appears gets the CRM's values, a deleted one is not patched, issues and Amazon's quantity are
recorded, late and repeated notifications change nothing, foreign sellers and bad payloads are dead-lettered."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID
from sandbox.listing_notification_samples import (
    listing_issues_notification,
    listing_mfn_quantity_notification,
    listing_status_notification,
)
from shared.errors import TransientError
from shared.flows.inventory_publish import InventoryPublisher
from shared.flows.listing_notifications import ListingNotifications
from shared.flows.listing_sender import ListingSender
from shared.flows.listings_sync import Done, ListingsOptions, ListingsSync
from shared.messaging import InboundMessage, Outcome
from shared.model.crm_events import VersionStamp
from shared.model.listings import NOT_LISTED, Field, ListingChange, ListingKey
from tests.unit.test_listings_sync import T0, WINDOW, Clock, FakeListings, FakeStore, FakeTopic

US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"
SKU = "MUG-1"
KEY = ListingKey(SKU, US)


class Amazon(FakeListings):
    """Amazon's Listings API with a listing that exists only once `listed` is set."""

    listed = False

    def product_type(self, key: ListingKey) -> str | None:
        self.reads += 1
        return "MUG" if self.listed else None


class Rig:
    def __init__(self) -> None:
        self.clock = Clock()
        self.amazon = Amazon()
        self.store = FakeStore()
        self.topic = FakeTopic()
        sender = ListingSender(self.amazon, self.store, InventoryPublisher(self.topic), clock=self.clock)  # type: ignore[arg-type]
        self.sync = ListingsSync(sender, options=ListingsOptions(coalesce=WINDOW), clock=self.clock)
        self.flow = ListingNotifications(
            sender=sender,
            listings=self.sync,
            publisher=InventoryPublisher(self.topic),
            seller_id=DEFAULT_SELLER_ID,
            marketplace_ids=(US, UK),
        )

    def crm_stock(self, quantity: int, second: int = 1) -> Any:
        """A CRM stock change through the listings sync, as dataverse_events would send it."""
        message = InboundMessage(f"crm-{quantity}-{second}", b"{}")
        items = [
            (
                message,
                ListingChange(
                    ListingKey(SKU, m), Field.QUANTITY, quantity, VersionStamp(T0 + timedelta(seconds=second))
                ),
            )
            for m in (US, UK)
        ]
        return self.sync.apply(items, owner="crm")

    def deliver(self, *envelopes: dict[str, Any]) -> list[Any]:
        messages = [InboundMessage(f"n-{i}", json.dumps(e).encode()) for i, e in enumerate(envelopes)]
        return self.flow.handle(messages, invocation_id="inv").settlements


@pytest.fixture
def rig() -> Rig:
    return Rig()


def status(statuses: tuple[str, ...], minute: int, **kw: Any) -> dict[str, Any]:
    return listing_status_notification(SKU, US, statuses, event_time=T0 + timedelta(minutes=minute), **kw)


def test_a_listing_that_appears_while_believed_unlisted_gets_the_crms_stock_now(rig: Rig) -> None:
    """Stock for a SKU Amazon has no listing for is not sent; its BUYABLE status clears the belief and sends it."""
    rig.crm_stock(7)
    assert rig.amazon.patches == []
    assert rig.store.get(KEY).rejected == NOT_LISTED
    rig.amazon.listed = True
    rig.clock.advance(60)
    [settled] = rig.deliver(status(("BUYABLE", "DISCOVERABLE"), 1))
    assert settled.outcome is Outcome.COMPLETE
    assert rig.amazon.patches == [(KEY, 7, None)]
    state = rig.store.get(KEY)
    assert (state.not_listed_until, state.rejected, state.amazon_status) == (
        None,
        None,
        frozenset({"BUYABLE", "DISCOVERABLE"}),
    )
    assert rig.flow.totals[Done.SENT.value] == 1


def test_a_repeated_appearance_sends_nothing_more(rig: Rig) -> None:
    """The same status notification delivered again after Amazon answered costs no call."""
    rig.crm_stock(7)
    rig.amazon.listed = True
    rig.clock.advance(60)
    envelope = status(("BUYABLE",), 1)
    rig.deliver(envelope)
    [again] = rig.deliver(envelope)
    assert again.outcome is Outcome.COMPLETE
    assert len(rig.amazon.patches) == 1


def test_a_status_change_of_a_listing_amazon_already_has_sends_nothing(rig: Rig) -> None:
    """A listed SKU whose values were accepted: its status is recorded, no patch."""
    rig.amazon.listed = True
    rig.crm_stock(7)
    rig.clock.advance(60)
    rig.deliver(status((), 1))
    assert len(rig.amazon.patches) == 2  # the CRM's own change, once per marketplace
    assert rig.store.get(KEY).amazon_status == frozenset()


def test_a_deleted_listing_is_recorded_and_not_patched_until_it_exists_again(rig: Rig) -> None:
    """DELETED stops patches for that marketplace; the listing's reappearance sends the CRM's newest value."""
    rig.amazon.listed = True
    rig.deliver(status(("DELETED",), 1))
    rig.clock.advance(60)
    rig.crm_stock(9, second=90)
    assert [patch[0] for patch in rig.amazon.patches] == [ListingKey(SKU, UK)]
    rig.clock.advance(60)
    rig.deliver(status(("BUYABLE",), 3))
    assert rig.amazon.patches[-1] == (KEY, 9, None)


def test_a_late_status_never_overwrites_a_newer_one(rig: Rig) -> None:
    """An older DELETED arriving after a newer BUYABLE changes nothing and is completed."""
    rig.deliver(status(("BUYABLE",), 5))
    [late] = rig.deliver(status(("DELETED",), 2))
    assert late.outcome is Outcome.COMPLETE
    assert rig.store.get(KEY).amazon_status == frozenset({"BUYABLE"})
    assert rig.flow.totals["stale"] == 1


def test_issues_are_recorded_and_errors_counted_newest_first(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """Severities land on the row; ERROR is logged (SKU and marketplace only) and counted; a late one is ignored."""
    newer = listing_issues_notification(SKU, US, ["ERROR", "WARNING"], event_time=T0 + timedelta(minutes=5))
    older = listing_issues_notification(SKU, US, ["NONE"], event_time=T0, payload_version="1.0")
    settlements = rig.deliver(newer, older)
    assert [s.outcome for s in settlements] == [Outcome.COMPLETE, Outcome.COMPLETE]
    state = rig.store.get(KEY)
    assert state.issue_severities == frozenset({"ERROR", "WARNING"})
    assert (rig.flow.totals["listing_errors"], rig.flow.totals["stale"]) == (1, 1)
    assert any(
        "severity ERROR" in record.getMessage() and SKU in record.getMessage() for record in caplog.records
    )


def test_amazons_quantity_is_recorded_and_published_never_sent_back(rig: Rig) -> None:
    """A sale took 2 of the 7 sent: 5 is recorded per marketplace and published as amazon-mfn; nothing patched."""
    rig.amazon.listed = True
    rig.crm_stock(7)
    patches, published = len(rig.amazon.patches), len(rig.topic.sent)
    [settled] = rig.deliver(listing_mfn_quantity_notification(SKU, 5, event_time=T0 + timedelta(minutes=1)))
    assert settled.outcome is Outcome.COMPLETE
    assert len(rig.amazon.patches) == patches
    assert rig.store.get(KEY).amazon_quantity == 5
    mfn = [json.loads(m.body) for m in rig.topic.sent[published:]]
    assert sorted((m["marketplaceId"], m["quantity"], m["source"]) for m in mfn) == [
        (UK, 5, "amazon-mfn"),
        (US, 5, "amazon-mfn"),
    ]


def test_our_own_quantity_coming_back_is_an_echo_completed_silently(rig: Rig) -> None:
    """Amazon reports the 7 we sent: recorded, nothing published, nothing sent."""
    rig.amazon.listed = True
    rig.crm_stock(7)
    published = len(rig.topic.sent)
    [settled] = rig.deliver(listing_mfn_quantity_notification(SKU, 7, event_time=T0 + timedelta(minutes=1)))
    assert settled.outcome is Outcome.COMPLETE
    assert len(rig.topic.sent) == published
    assert rig.flow.totals["echo"] == 1


def test_a_late_or_repeated_quantity_never_overwrites_a_newer_one(rig: Rig) -> None:
    """5 at minute 3, then 9 from minute 1 and 5 again: 5 stays, published once per marketplace."""
    newer = listing_mfn_quantity_notification(SKU, 5, event_time=T0 + timedelta(minutes=3))
    older = listing_mfn_quantity_notification(SKU, 9, event_time=T0 + timedelta(minutes=1))
    rig.deliver(newer, older, newer)
    assert rig.store.get(KEY).amazon_quantity == 5
    assert len(rig.topic.sent) == 2


def test_a_failed_publish_reschedules_and_the_redelivery_publishes(rig: Rig) -> None:
    """The topic away: the message comes back, and then publishes the recorded quantity."""
    rig.topic.fail = True
    envelope = listing_mfn_quantity_notification(SKU, 5, event_time=T0)
    [settled] = rig.deliver(envelope)
    assert settled.outcome is Outcome.RESCHEDULE
    rig.topic.fail = False
    [again] = rig.deliver(envelope)
    assert again.outcome is Outcome.COMPLETE
    assert len(rig.topic.sent) == 2


def test_a_quantity_of_another_fulfillment_channel_is_completed_unrecorded(rig: Rig) -> None:
    """The CRM's stock goes to channel DEFAULT only; another channel's quantity is not ours to track."""
    [settled] = rig.deliver(listing_mfn_quantity_notification(SKU, 5, event_time=T0, channel="SFP_US"))
    assert settled.outcome is Outcome.COMPLETE
    assert rig.store.rows == {}


def test_a_foreign_sellers_notification_is_dead_lettered(rig: Rig) -> None:
    """Another seller's listing is none of ours: ForeignSeller, nothing recorded."""
    [settled] = rig.deliver(status(("BUYABLE",), 1, seller_id="A9OTHERSELLER"))
    assert (settled.outcome, settled.reason) == (Outcome.DEAD_LETTER, "ForeignSeller")
    assert rig.store.rows == {}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["Payload"].pop("MarketplaceId"), "Payload.MarketplaceId"),
        (lambda e: e["Payload"].update(Status="BUYABLE"), "Payload.Status"),
        (lambda e: e["Payload"].pop("Sku"), "Payload.Sku"),
        (lambda e: e.update(PayloadVersion="2099-01-01"), "PayloadVersion"),
    ],
)
def test_a_malformed_status_is_dead_lettered_naming_the_field(rig: Rig, mutate: Any, field: str) -> None:
    envelope = status(("BUYABLE",), 1)
    mutate(envelope)
    [settled] = rig.deliver(envelope)
    assert settled.outcome is Outcome.DEAD_LETTER
    assert field in (settled.description or "")


def test_malformed_issues_and_quantities_are_dead_lettered_naming_the_field(rig: Rig) -> None:
    issues = listing_issues_notification(SKU, US, ["FATAL"], event_time=T0)
    quantity = listing_mfn_quantity_notification(SKU, -1, event_time=T0)
    settlements = rig.deliver(issues, quantity)
    assert [(s.outcome, s.reason) for s in settlements] == [
        (Outcome.DEAD_LETTER, "MalformedNotification")
    ] * 2
    assert "Payload.Severities" in (settlements[0].description or "")
    assert "Payload.Quantity" in (settlements[1].description or "")


def test_table_storage_away_reschedules_the_notification(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passing trouble is no dead letter: the message comes back later."""

    def away(*_: Any) -> Any:
        raise TransientError("table storage unavailable", reason="StateStoreUnavailable")

    monkeypatch.setattr(rig.store, "get", away)
    [settled] = rig.deliver(status(("BUYABLE",), 1))
    assert (settled.outcome, settled.reason) == (Outcome.RESCHEDULE, "StateStoreUnavailable")
