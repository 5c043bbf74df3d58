"""The dashboard's status over fakes: 24 hourly buckets, the rolling hour, timers read from progress rows,
the listings Amazon flags, and parts that cannot be read left empty and named while the rest is shown. No
sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from shared.breakers import BreakerPolicy, Breakers
from shared.flows.failures import Failures, FailureSummary
from shared.flows.ops_status import LISTINGS_READ, OpsStatus, TimerProgress
from shared.http import views
from shared.model.listings import AmazonProblem, FlaggedListing, ListingKey
from shared.state.store import StateUnavailable
from shared.state.sync_stats import HourStats, LagHistogram, SyncStats
from shared.state.watermarks import ProgressRow, ProgressStore

NOW = datetime(2026, 11, 27, 12, 20, tzinfo=UTC)
HOUR = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
US = "ATVPDKIKX0DER"


class Stats:
    def __init__(self, hours: list[HourStats] | None = None, *, down: bool = False) -> None:
        self._hours = hours or []
        self.down = down

    def hours(self, first: datetime, last: datetime) -> list[HourStats]:
        if self.down:
            raise StateUnavailable("Table Storage down", status=503)
        return [hour for hour in self._hours if first <= hour.hour <= last]


class Progress:
    def __init__(self, rows: dict[tuple[str, str], ProgressRow]) -> None:
        self.rows = rows

    def read(self, kind: str, name: str) -> ProgressRow | None:
        return self.rows.get((kind, name))


class DeadLetterCounts:
    def __init__(self, summary: FailureSummary | None) -> None:
        self._summary = summary

    def summary(self) -> FailureSummary:
        if self._summary is None:
            raise ConnectionError("namespace unreachable")
        return self._summary


class Listings:
    """The listing store's bounded query of flagged rows over a list (None: Table Storage down)."""

    def __init__(self, flagged: list[FlaggedListing] | None = None) -> None:
        self.flagged = flagged
        self.limits: list[int] = []

    def flagged_by_amazon(self, limit: int) -> tuple[list[FlaggedListing], bool]:
        self.limits.append(limit)
        if self.flagged is None:
            raise StateUnavailable("Table Storage down", status=503)
        return self.flagged[:limit], len(self.flagged) > limit


def status(
    stats: Stats,
    progress: Progress,
    failures: DeadLetterCounts,
    timers: list[TimerProgress],
    listings: Listings | None = None,
) -> OpsStatus:
    return OpsStatus(
        stats=cast(SyncStats, stats),
        progress=cast(ProgressStore, progress),
        breakers=Breakers.create(BreakerPolicy()),
        failures=cast(Failures, failures),
        timers=timers,
        listings=listings or Listings([]),
        clock=lambda: NOW,
    )


def flagged(count: int, *problems: AmazonProblem) -> list[FlaggedListing]:
    return [FlaggedListing(ListingKey(f"SKU-{index}", US), frozenset(problems)) for index in range(count)]


def test_orders_fill_24_hours_and_the_last_hour_counts_from_two_rows() -> None:
    """Rows for 11:00 and 12:00: 24 buckets ending with the current hour; the rolling hour up to 12:20 takes
    11:21..12:20 (the 11:10 order is older)."""
    earlier = HourStats(HOUR - timedelta(hours=1), 3, {10: 1, 30: 2}, LagHistogram())
    current = HourStats(HOUR, 4, {5: 4}, LagHistogram())
    snapshot = status(
        Stats([earlier, current]), Progress({}), DeadLetterCounts(FailureSummary(0, {}, False, {})), []
    ).snapshot()
    assert snapshot.orders is not None
    assert len(snapshot.orders.per_hour) == 24
    assert snapshot.orders.per_hour[-2:] == ((HOUR - timedelta(hours=1), 3), (HOUR, 4))
    assert snapshot.orders.synced_last_hour == 6
    assert snapshot.errors == {}


def test_a_timer_shows_its_last_run_and_how_far_its_watermark_got() -> None:
    """A watermark row: last run from `Updated`, outcome from its position; a row with LastOutcome says it;
    a timer without a row has not run."""
    fields: dict[str, Any] = {"Position": HOUR - timedelta(minutes=2), "Updated": HOUR}
    rows = {
        ("orders-sweep", "orders-sweep"): ProgressRow("orders-sweep", "orders-sweep", fields),
        ("finance", "transactions"): ProgressRow(
            "finance", "transactions", {"LastOutcome": "failed: throttled"}, None, HOUR
        ),
    }
    timers = [
        TimerProgress("orders_sweep", "orders-sweep", "orders-sweep"),
        TimerProgress("finance_sync", "finance", "transactions"),
        TimerProgress("settlement_reports", "settlements", "reports"),
    ]
    snapshot = status(
        Stats(), Progress(rows), DeadLetterCounts(FailureSummary(0, {}, False, {})), timers
    ).snapshot()
    assert [(t.name, t.last_run, t.last_outcome) for t in snapshot.timers] == [
        ("orders_sweep", HOUR, "applied up to 2026-11-27T11:58:00Z"),
        ("finance_sync", HOUR, "failed: throttled"),
        ("settlement_reports", None, "no run recorded yet"),
    ]


def test_parts_that_cannot_be_read_are_empty_and_named_while_the_rest_is_shown() -> None:
    """Table Storage and Service Bus down: orders, listings and failures are None and named with their reason;
    the breakers (in memory) are still there."""
    snapshot = status(Stats(down=True), Progress({}), DeadLetterCounts(None), [], Listings(None)).snapshot()
    assert (snapshot.orders, snapshot.failures, snapshot.listings) == (None, None, None)
    assert snapshot.errors == {
        "orders": "StateStorageUnavailable (503)",
        "failures": "ConnectionError",
        "listings": "StateStorageUnavailable (503)",
    }
    assert [b.name for b in snapshot.breakers] == ["SP-API", "Dataverse", "Table Storage"]
    body = views.status(snapshot)
    assert body["listings"] is None
    assert "listings: StateStorageUnavailable (503)" in body["errors"]


def test_listings_amazon_flags_are_counted_and_the_first_50_shown_by_sku_marketplace_and_problem() -> None:
    """60 listings with ERROR issues, 5 DELETED (one of them with ERROR issues too): both counts, 50 shown, read
    with one bounded query; each shown listing carries its SKU, marketplace and problem, nothing more."""
    both = FlaggedListing(ListingKey("GONE-AND-BAD", US), frozenset(AmazonProblem))
    listings = Listings([*flagged(4, AmazonProblem.DELETED), both, *flagged(59, AmazonProblem.ERROR)])
    snapshot = status(Stats(), Progress({}), DeadLetterCounts(None), [], listings).snapshot()

    assert listings.limits == [LISTINGS_READ]
    assert snapshot.listings is not None
    assert (snapshot.listings.errors, snapshot.listings.deleted) == (60, 5)
    body = views.status(snapshot)["listings"]
    assert (body["errors"], body["deleted"], body["truncated"]) == (60, 5, False)
    assert len(body["shown"]) == 50
    assert body["shown"][3:6] == [
        {"sku": "SKU-3", "marketplaceId": US, "problem": "DELETED"},
        {"sku": "GONE-AND-BAD", "marketplaceId": US, "problem": "DELETED"},
        {"sku": "SKU-0", "marketplaceId": US, "problem": "ERROR"},
    ]
    assert all(set(row) == {"sku", "marketplaceId", "problem"} for row in body["shown"])


def test_more_flagged_listings_than_one_query_reads_are_counted_as_a_floor() -> None:
    """Beyond LISTINGS_READ rows the query stops: the counts are what was read, and `truncated` says so."""
    listings = Listings(flagged(LISTINGS_READ + 7, AmazonProblem.ERROR))
    body = views.status(status(Stats(), Progress({}), DeadLetterCounts(None), [], listings).snapshot())
    assert (body["listings"]["errors"], body["listings"]["truncated"]) == (LISTINGS_READ, True)
