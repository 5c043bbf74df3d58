"""What the dashboard shows (GET /api/status): orders synced and their sync lag, the timers' last runs, the
circuit breakers, the dead letters by reason, and the listings Amazon flags (DELETED, or with ERROR issues).

Each part is read on its own: one that cannot be read (Table Storage down, Service Bus unreachable) is left
empty and named in `errors`, and the rest is still shown, because a status page matters most when something
is down.

Timers: a timer that keeps a progress row is listed with the row it keeps (`TimerProgress`, given by the
composition root). Its last run is the row's `Updated` column (or when the row last changed), and its last
outcome the row's `LastOutcome` column when the timer writes one; a watermark row says how far it got.

Listings: the listing state rows Amazon's notifications flagged, read with one bounded query (at most
LISTINGS_READ rows: beyond that the counts are a floor and `truncated` says so); the first LISTINGS_SHOWN are
listed by SKU and marketplace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from shared.breakers import Breakers, BreakerSnapshot
from shared.flows.failures import Failures, FailureSummary
from shared.flows.health import failure_detail
from shared.model.listings import AmazonProblem, FlaggedListing
from shared.state.sync_stats import HourStats, LagHistogram, SyncStats, hour_of, synced_since
from shared.state.watermarks import ProgressRow, ProgressStore
from shared.timeutil import as_utc, iso_z, utc_now

log = logging.getLogger(__name__)
T = TypeVar("T")

HOURS_SHOWN = 24
LISTINGS_READ = 1000  # flagged listing rows read per status request at most (one page of Table Storage)
LISTINGS_SHOWN = 50


class FlaggedListings(Protocol):
    def flagged_by_amazon(self, limit: int) -> tuple[list[FlaggedListing], bool]: ...


@dataclass(frozen=True)
class TimerProgress:
    """A timer function, the progress row it keeps, and the column holding how far it got."""

    name: str
    kind: str
    row: str
    position_column: str = "Position"


@dataclass(frozen=True)
class TimerStatus:
    name: str
    last_run: datetime | None
    last_outcome: str
    position: datetime | None = None  # a watermark: everything changed up to here is applied


@dataclass(frozen=True)
class OrdersStatus:
    synced_last_hour: int
    per_hour: tuple[tuple[datetime, int], ...]  # the last 24 hours, oldest first, the current one included
    lag: LagHistogram


@dataclass(frozen=True)
class ListingsStatus:
    """Listings Amazon flags: how many have ERROR issues, how many are DELETED, and the first of them."""

    errors: int
    deleted: int
    truncated: bool  # more flagged listings than were read: the counts are at least these
    shown: tuple[FlaggedListing, ...]


@dataclass(frozen=True)
class OpsSnapshot:
    generated_at: datetime
    orders: OrdersStatus | None
    timers: tuple[TimerStatus, ...]
    breakers: tuple[BreakerSnapshot, ...]
    failures: FailureSummary | None
    errors: dict[str, str] = field(default_factory=dict)  # part -> why it could not be read
    listings: ListingsStatus | None = None


class OpsStatus:
    def __init__(
        self,
        *,
        stats: SyncStats,
        progress: ProgressStore,
        breakers: Breakers,
        failures: Failures,
        timers: Sequence[TimerProgress],
        listings: FlaggedListings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._stats = stats
        self._listings = listings
        self._progress = progress
        self._breakers = breakers
        self._failures = failures
        self._timers = tuple(timers)
        self._clock = clock

    def snapshot(self) -> OpsSnapshot:
        now = self._clock()
        errors: dict[str, str] = {}
        orders = _part("orders", lambda: self._orders(now), errors)
        timers = _part("timers", self._timer_statuses, errors) or ()
        failures = _part("failures", self._failures.summary, errors)
        listings = _part("listings", self._flagged_listings, errors)
        breakers = tuple(self._breakers.snapshot())
        return OpsSnapshot(now, orders, timers, breakers, failures, errors, listings)

    def _flagged_listings(self) -> ListingsStatus:
        flagged, truncated = self._listings.flagged_by_amazon(LISTINGS_READ)
        return ListingsStatus(
            errors=sum(AmazonProblem.ERROR in listing.problems for listing in flagged),
            deleted=sum(AmazonProblem.DELETED in listing.problems for listing in flagged),
            truncated=truncated,
            shown=tuple(flagged[:LISTINGS_SHOWN]),
        )

    def _orders(self, now: datetime) -> OrdersStatus:
        current = hour_of(now)
        first = current - timedelta(hours=HOURS_SHOWN - 1)
        found = {stats.hour: stats for stats in self._stats.hours(first, current)}
        shown = [
            found.get(first + timedelta(hours=offset), HourStats(first + timedelta(hours=offset)))
            for offset in range(HOURS_SHOWN)
        ]
        lag = LagHistogram()
        for stats in shown:
            lag += stats.lag
        return OrdersStatus(
            synced_since(shown[-2:], now - timedelta(hours=1)),
            tuple((stats.hour, stats.synced) for stats in shown),
            lag,
        )

    def _timer_statuses(self) -> tuple[TimerStatus, ...]:
        return tuple(
            _timer_status(timer, self._progress.read(timer.kind, timer.row)) for timer in self._timers
        )


def _timer_status(timer: TimerProgress, row: ProgressRow | None) -> TimerStatus:
    if row is None:
        return TimerStatus(timer.name, None, "no run recorded yet")
    fields = row.fields
    updated = fields.get("Updated")
    last_run = as_utc(updated) if isinstance(updated, datetime) else row.updated_at
    position = fields.get(timer.position_column)
    position = as_utc(position) if isinstance(position, datetime) else None
    outcome = fields.get("LastOutcome")
    if isinstance(outcome, str) and outcome:
        text = outcome
    elif position is not None:
        under_way = " (a window under way)" if isinstance(fields.get("WindowStart"), datetime) else ""
        text = f"applied up to {iso_z(position)}{under_way}"
    else:
        text = "progress saved"
    return TimerStatus(timer.name, last_run, text, position)


def _part(name: str, read: Callable[[], T], errors: dict[str, str]) -> T | None:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - one unreadable part must not hide the others
        log.warning("Status: %s not read (%s)", name, type(exc).__name__)
        errors[name] = failure_detail(exc)
        return None
