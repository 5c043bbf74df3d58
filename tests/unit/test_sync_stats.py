"""Sync statistics: hour rows merged per batch, lag percentiles read from the histogram, the rolling last
hour, and recording that never fails the orders it describes. Over an in-memory table with ETags."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from shared.state.store import ConcurrentUpdate, StateUnavailable
from shared.state.sync_stats import LAG_BUCKETS, LagHistogram, SyncSample, SyncStats, synced_since
from shared.state.table_rows import TableRows

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class MemoryRows:
    """The TableRows calls SyncStats makes, in memory, with Table Storage's ETag rule; `lose_races` puts
    that many writes behind another instance's."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.etags = itertools.count(1)
        self.lose_races = 0
        self.down = False
        self.puts = 0

    def get(self, partition: str, row: str) -> dict[str, Any] | None:
        self._check()
        found = self.rows.get((partition, row))
        return None if found is None else dict(found)

    def put(self, entity: Mapping[str, Any], *, etag: str | None) -> str:
        self._check()
        self.puts += 1
        key = (entity["PartitionKey"], entity["RowKey"])
        current = self.rows.get(key)
        if self.lose_races:
            self.lose_races -= 1
            raise ConcurrentUpdate("another instance wrote first")
        if (current is None) != (etag is None) or (current is not None and current["etag"] != etag):
            raise ConcurrentUpdate("changed meanwhile")
        new = f"e{next(self.etags)}"
        self.rows[key] = {**entity, "etag": new}
        return new

    def query(
        self, query: str, parameters: Mapping[str, Any], *, select: list[str] | None = None
    ) -> list[Any]:
        self._check()
        return [
            row
            for (partition, key), row in self.rows.items()
            if partition == parameters["pk"] and parameters["first"] <= key < parameters["after"]
        ]

    def _check(self) -> None:
        if self.down:
            raise StateUnavailable("Table Storage down")


@pytest.fixture
def table() -> MemoryRows:
    return MemoryRows()


def stats_on(table: MemoryRows) -> SyncStats:
    return SyncStats(cast(TableRows, table))


def sample(written: datetime, lag_seconds: float) -> SyncSample:
    return SyncSample(written, written - timedelta(seconds=lag_seconds))


def test_a_batch_costs_one_read_and_one_write_per_hour_and_adds_up(table: MemoryRows) -> None:
    """Three orders written in one hour: one row, Synced 3, counted in their minutes, lag exact at the max."""
    stats = stats_on(table)
    stats.record([sample(NOON, 4), sample(NOON + timedelta(minutes=1), 40), sample(NOON, 400)])
    stats.record([sample(NOON + timedelta(minutes=59), 2)])

    [hour] = stats.hours(NOON, NOON)
    assert (hour.hour, hour.synced) == (NOON, 4)
    assert hour.per_minute == {0: 2, 1: 1, 59: 1}
    assert hour.lag.samples == 4
    assert hour.lag.max_seconds == 400
    assert table.puts == 2


def test_a_lost_race_is_read_again_and_nothing_is_counted_twice(table: MemoryRows) -> None:
    """Another instance wrote the hour's row between our read and write: we read again and add ours once."""
    stats = stats_on(table)
    stats.record([sample(NOON, 1)])
    table.lose_races = 2
    stats.record([sample(NOON, 1)])
    [hour] = stats.hours(NOON, NOON)
    assert hour.synced == 2


def test_recording_never_raises_when_table_storage_is_down(
    table: MemoryRows, caplog: pytest.LogCaptureFixture
) -> None:
    """Statistics are best effort: an outage is logged and the orders are not failed by it."""
    table.down = True
    stats_on(table).record([sample(NOON, 1)])
    assert "Sync statistics not recorded for 1 orders (StateUnavailable)" in caplog.text


def test_orders_of_two_hours_go_to_two_rows_and_the_window_reads_both(table: MemoryRows) -> None:
    """11:59 and 12:00 land in different rows; the rolling hour up to 12:30 counts both minutes after 11:30."""
    stats = stats_on(table)
    stats.record(
        [sample(NOON - timedelta(minutes=1), 5), sample(NOON, 5), sample(NOON - timedelta(minutes=45), 5)]
    )
    hours = stats.hours(NOON - timedelta(hours=1), NOON)
    assert [(hour.hour, hour.synced) for hour in hours] == [(NOON - timedelta(hours=1), 2), (NOON, 1)]
    assert synced_since(hours, NOON + timedelta(minutes=30) - timedelta(hours=1)) == 2


def test_percentiles_are_the_upper_bound_of_their_bucket_and_never_above_the_maximum() -> None:
    """90 samples of 3 s and 10 of 100 s: p50 is the 5 s bucket, p95 the 120 s bucket capped at 100 s."""
    counts = [0] * (len(LAG_BUCKETS) + 1)
    counts[LAG_BUCKETS.index(5)] = 90
    counts[LAG_BUCKETS.index(120)] = 10
    lag = LagHistogram(tuple(counts), 100.0)
    assert (lag.percentile(0.5), lag.percentile(0.95), lag.samples) == (5.0, 100.0, 100)
    assert LagHistogram().percentile(0.5) is None


def test_histograms_of_several_hours_add_up() -> None:
    """Adding two hours' histograms adds every bucket and keeps the larger maximum."""
    one = LagHistogram(tuple([1] + [0] * len(LAG_BUCKETS)), 0.5)
    two = LagHistogram(tuple([0] * len(LAG_BUCKETS) + [2]), 900_000.0)
    both = one + two
    assert (both.samples, both.max_seconds, both.percentile(1.0)) == (3, 900_000.0, 900_000.0)


def test_a_lag_below_zero_counts_as_none() -> None:
    """Amazon's clock ahead of ours by a little: the lag is 0, not negative."""
    assert sample(NOON, -3).lag_seconds == 0.0
