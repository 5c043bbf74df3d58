"""How many orders order sync wrote, per hour and minute, and how far behind Amazon the CRM was (sync lag),
for the status endpoint and the dashboard.

One row per UTC hour and shard (partition `s-orders-synced`, row key `YYYYMMDDHH-<shard>`), merged per batch
of written orders: read, add, write back conditional on the ETag. A batch costs two Table Storage calls,
whatever its size. Each process writes to a shard of its own (drawn at start, one of SHARDS) and merges one
batch at a time, so instances seldom meet on a row; one that loses a race reads again, and after two losses
moves to another shard. Readers add an hour's shards up. Columns:
- `Synced` and `M00`..`M59`: orders written in the hour and in each minute (a rolling "last 60 minutes" is
  read from two rows);
- `L00`..`L20`: the sync lag (CRM write time minus Amazon's lastUpdatedTime) as a histogram over fixed
  buckets (`LAG_BUCKETS`), so rows from many instances and hours add up exactly; percentiles are read back as
  the upper bound of their bucket (never lower than the truth), `LagMax` is exact.

Recording is best effort: a statistics row that cannot be written is logged and skipped, and never fails
the orders it describes.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.store import ConcurrentUpdate, table_client
from shared.state.table_rows import TableRows
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

PARTITION = "s-orders-synced"
# Upper bounds (seconds) of the lag buckets: fine where live traffic lands (seconds to minutes), coarse
# beyond (a backfill writes orders days after Amazon changed them).
LAG_BUCKETS = (
    1,
    2,
    5,
    10,
    15,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    21600,
    86400,
    604800,
)
MERGE_ATTEMPTS = 6  # tries per batch when other instances keep winning the ETag race
SHARDS = 8  # rows per hour: instances (up to a few dozen) seldom share one


@dataclass(frozen=True)
class SyncSample:
    """One order written to the CRM: when the write returned, and the Amazon version it wrote."""

    written_at: datetime
    amazon_updated: datetime

    @property
    def lag_seconds(self) -> float:
        return max(0.0, (as_utc(self.written_at) - as_utc(self.amazon_updated)).total_seconds())


@dataclass(frozen=True)
class HourStats:
    hour: datetime  # the hour's start, UTC
    synced: int = 0
    per_minute: Mapping[int, int] = field(default_factory=dict)
    lag: LagHistogram = field(default_factory=lambda: LagHistogram())


@dataclass(frozen=True)
class LagHistogram:
    counts: tuple[int, ...] = (0,) * (len(LAG_BUCKETS) + 1)  # the last bucket: above the largest bound
    max_seconds: float | None = None

    @property
    def samples(self) -> int:
        return sum(self.counts)

    def __add__(self, other: LagHistogram) -> LagHistogram:
        maxima = [m for m in (self.max_seconds, other.max_seconds) if m is not None]
        return LagHistogram(
            tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)), max(maxima, default=None)
        )

    def percentile(self, share: float) -> float | None:
        """The upper bound of the bucket holding the `share` quantile (capped by the exact maximum)."""
        total = self.samples
        if total == 0 or self.max_seconds is None:
            return None
        wanted = math.ceil(share * total)
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= wanted and count:
                bound = LAG_BUCKETS[index] if index < len(LAG_BUCKETS) else math.inf
                return min(float(bound), self.max_seconds)
        return self.max_seconds


def hour_of(moment: datetime) -> datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


class SyncStats:
    def __init__(self, rows: TableRows, *, rng: random.Random | None = None) -> None:
        self._rows = rows
        self._rng = rng or random.Random()
        self._shard = self._rng.randrange(SHARDS)
        self._lock = (
            threading.Lock()
        )  # one merge at a time per process: its invocations never race each other

    @classmethod
    def from_settings(cls, settings: Settings, *, breaker: CircuitBreaker | None = None) -> SyncStats:
        return cls(TableRows(table_client(settings), breaker=breaker))

    def close(self) -> None:
        self._rows.close()

    def record(self, samples: Sequence[SyncSample]) -> None:
        """Add written orders to their hours' rows; never raises (statistics must not fail an order)."""
        if not samples:
            return
        by_hour: dict[datetime, list[SyncSample]] = defaultdict(list)
        for sample in samples:
            by_hour[hour_of(sample.written_at)].append(sample)
        try:
            with self._lock:
                for hour, items in by_hour.items():
                    self._merge(hour, items)
        except Exception as exc:  # noqa: BLE001 - best effort by design, see the module docstring
            log.warning("Sync statistics not recorded for %d orders (%s)", len(samples), type(exc).__name__)

    def hours(self, first: datetime, last: datetime) -> list[HourStats]:
        """The hours from `first` to `last` (both included) that have any orders, shards added; in hour order."""
        entities = self._rows.query(
            "PartitionKey eq @pk and RowKey ge @first and RowKey lt @after",
            {
                "pk": PARTITION,
                "first": _hour_key(hour_of(first)),
                "after": _hour_key(hour_of(last) + timedelta(hours=1)),
            },
        )
        by_hour: dict[datetime, HourStats] = {}
        for entity in entities:
            shard = _hour_stats(entity)
            found = by_hour.get(shard.hour)
            by_hour[shard.hour] = shard if found is None else _added(found, shard)
        return [by_hour[hour] for hour in sorted(by_hour)]

    def _merge(self, hour: datetime, samples: Sequence[SyncSample]) -> None:
        for attempt in range(MERGE_ATTEMPTS):
            if attempt and attempt % 2 == 0:  # two lost races on this shard: another instance writes here too
                self._shard = self._rng.randrange(SHARDS)
            key = f"{_hour_key(hour)}-{self._shard}"
            current = self._rows.get(PARTITION, key)
            try:
                self._rows.put(
                    _merged(hour, key, current, samples), etag=current["etag"] if current else None
                )
                return
            except ConcurrentUpdate:
                continue
        log.warning("Sync statistics of %s: lost the row to other instances %d times", hour, MERGE_ATTEMPTS)


def _hour_key(hour: datetime) -> str:
    return hour.strftime("%Y%m%d%H")


def _bucket(lag_seconds: float) -> int:
    return next((index for index, bound in enumerate(LAG_BUCKETS) if lag_seconds <= bound), len(LAG_BUCKETS))


def _merged(
    hour: datetime, key: str, current: Mapping[str, Any] | None, samples: Iterable[SyncSample]
) -> dict[str, Any]:
    row = {name: value for name, value in (current or {}).items() if name not in ("etag", "Timestamp")}
    row.update(PartitionKey=PARTITION, RowKey=key, Hour=hour)
    for sample in samples:
        minute = f"M{as_utc(sample.written_at).minute:02d}"
        lag = sample.lag_seconds
        bucket = f"L{_bucket(lag):02d}"
        row["Synced"] = int(row.get("Synced", 0)) + 1
        row[minute] = int(row.get(minute, 0)) + 1
        row[bucket] = int(row.get(bucket, 0)) + 1
        row["LagMax"] = max(float(row.get("LagMax", 0.0)), lag)
    return row


def _hour_stats(entity: Mapping[str, Any]) -> HourStats:
    hour = entity.get("Hour")
    start = (
        as_utc(hour) if isinstance(hour, datetime) else datetime.strptime(entity["RowKey"][:10], "%Y%m%d%H")
    )
    per_minute = {
        int(name[1:]): int(value)
        for name, value in entity.items()
        if len(name) == 3 and name[0] == "M" and name[1:].isdigit()
    }
    counts = tuple(int(entity.get(f"L{index:02d}", 0)) for index in range(len(LAG_BUCKETS) + 1))
    lag_max = entity.get("LagMax")
    return HourStats(
        hour_of(start),
        int(entity.get("Synced", 0)),
        per_minute,
        LagHistogram(counts, float(lag_max) if lag_max is not None and any(counts) else None),
    )


def _added(one: HourStats, other: HourStats) -> HourStats:
    minutes = dict(one.per_minute)
    for minute, count in other.per_minute.items():
        minutes[minute] = minutes.get(minute, 0) + count
    return HourStats(one.hour, one.synced + other.synced, minutes, one.lag + other.lag)


def synced_since(hours: Iterable[HourStats], since: datetime) -> int:
    """Orders written after `since`, to the minute: the minute `since` falls in is left out, the current one
    counts (so "the last hour" is 60 minute buckets)."""
    start = as_utc(since).replace(second=0, microsecond=0)
    total = 0
    for stats in hours:
        for minute, count in stats.per_minute.items():
            if stats.hour + timedelta(minutes=minute) > start:
                total += count
    return total
