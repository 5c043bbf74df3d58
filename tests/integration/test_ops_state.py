"""The operations stores on Azurite: sync statistics merged by many writers at once, resync jobs and their
outcome rows."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.state.resync_jobs import ItemOutcome, ResyncJobRecord, ResyncJobStore
from shared.state.sync_stats import SyncSample, SyncStats
from shared.state.table_rows import TableRows

pytestmark = pytest.mark.sockets

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
JOB = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def rows(table_client):
    table = TableRows(table_client)
    yield table
    table.close()


def test_instances_and_invocations_merging_one_hour_lose_no_order(rows: TableRows) -> None:
    """Six instances, each running four invocations at once, record 80 batches of 5 orders into the same
    hour: shards, the per-process lock and the ETag merge count all 400, each exactly once."""
    instances = [SyncStats(rows, rng=random.Random(seed)) for seed in range(6)]

    def batch(index: int) -> None:
        written = NOON + timedelta(minutes=index % 60)
        samples = [SyncSample(written, written - timedelta(seconds=index)) for _ in range(5)]
        instances[index % len(instances)].record(samples)

    with ThreadPoolExecutor(max_workers=24) as pool:
        list(pool.map(batch, range(80)))

    stats = instances[0]
    [hour] = stats.hours(NOON, NOON)
    assert hour.synced == 400
    assert sum(hour.per_minute.values()) == 400
    assert hour.lag.samples == 400
    assert hour.lag.max_seconds == 79


def test_a_job_and_its_outcomes_round_trip_and_a_repeated_outcome_counts_once(rows: TableRows) -> None:
    """The job row comes back as created; an order recorded twice (a redelivered message) is one row; a
    failure note is merged into the job without losing its other columns."""
    jobs = ResyncJobStore(rows)
    jobs.create(ResyncJobRecord(JOB, "orders", 2, NOON))
    first = ItemOutcome("113-1234567-1234567", True, "written", NOON)
    jobs.record_outcomes(JOB, [first])
    jobs.record_outcomes(JOB, [first, ItemOutcome("113-7654321-7654321", False, "AmazonOrderNotFound", NOON)])
    jobs.mark_failed(JOB, "1 of 2 messages queued", at=NOON + timedelta(minutes=1))

    job = jobs.read(JOB)
    assert job is not None
    assert (job.kind, job.queued, job.created_at, job.failure) == (
        "orders",
        2,
        NOON,
        "1 of 2 messages queued",
    )
    assert job.updated_at == NOON + timedelta(minutes=1)
    assert sorted((o.item, o.applied, o.detail) for o in jobs.outcomes(JOB)) == [
        ("113-1234567-1234567", True, "written"),
        ("113-7654321-7654321", False, "AmazonOrderNotFound"),
    ]
    assert jobs.read("f" * 32) is None
