"""Backfill end to end over real sockets: a small range through searchOrders pages, a large one through the
all-orders report (createReport -> REPORT_PROCESSING_FINISHED through the registered function -> a gzip
document whose first URL has expired -> orders in the CRM), and getReport polling when no notification comes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder
from sandbox.harness import Sandbox
from sandbox.notification_samples import report_processing_finished_notification
from shared.flows.backfill_job import BackfillOptions, BackfillRange, JobStatus, Mode
from shared.flows.order_search import Deadline
from shared.flows.orders_backfill import OrdersBackfill
from shared.runtime import Runtime
from tests.sweep_support import (
    US,
    assert_landed_once,
    expire_first_document_url,
    hours_ago,
    put_final_versions,
    recent_lifecycles,
)

pytestmark = pytest.mark.sockets


def _backfill(runtime: Runtime) -> OrdersBackfill:
    """The runtime's backfill for the US marketplace only (one report per segment)."""
    return runtime.orders_backfill.with_options(BackfillOptions(marketplaces=(US,)))


def _skewed_history(factory: OrderFactory, sandbox: Sandbox) -> dict[str, SampleOrder]:
    """110 orders in the first hours of a 20-day range and 60 spread over the rest: the first page covers a
    sliver of the range, so the backfill estimates many pages and takes the report."""
    early = recent_lifecycles(factory, 110, start=hours_ago(20 * 24), spacing=timedelta(minutes=1))
    later = recent_lifecycles(factory, 60, start=hours_ago(19 * 24), spacing=timedelta(hours=7))
    return put_final_versions(sandbox, early + later)


def test_a_small_range_is_backfilled_through_search_pages(sandbox: Sandbox, factory: OrderFactory) -> None:
    """150 orders over two hours: the first page covers most of the range, so the job stays on searchOrders
    and is done in one step; every order once, final state."""
    finals = put_final_versions(sandbox, recent_lifecycles(factory, 150, start=hours_ago(3)))
    backfill = _backfill(sandbox.runtime())

    job = backfill.backfill(BackfillRange(hours_ago(4), hours_ago(0)))

    assert (job.mode, job.status) == (Mode.SEARCH, JobStatus.DONE)
    assert job.counts["written"] == len(finals)
    assert_landed_once(sandbox, finals)
    assert sandbox.spapi.requests.snapshot().get("createReport") is None


def test_a_large_range_goes_through_the_report_and_its_notification(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """The first page covers a sliver of the range: createReport; Amazon's REPORT_PROCESSING_FINISHED reaches
    the registered function, which reads the gzip document (its first URL expired: a fresh one is asked for)
    and writes the orders; a handful of report calls for the whole range, every order once."""
    finals = _skewed_history(factory, sandbox)
    unshipped = factory.order(
        status="UNSHIPPED",
        marketplace_id=US,
        created_time=hours_ago(24 * 5),
        last_updated_time=hours_ago(24 * 5),
    )
    sandbox.spapi.put_order(unshipped.to_api())  # open in Amazon: read with getOrder, not from the report
    finals[unshipped.order_id] = unshipped
    runtime = sandbox.runtime()
    backfill = _backfill(runtime)
    expire_first_document_url(sandbox.spapi)

    job = backfill.backfill(BackfillRange(hours_ago(20 * 24 + 1), hours_ago(0)))
    assert (job.mode, job.report_status) == (Mode.REPORT, "IN_QUEUE")
    assert job.report_id is not None
    sandbox.spapi.reports.finish_now(job.report_id)
    report = sandbox.spapi.reports.queue.get(job.report_id)
    assert report is not None
    sandbox.publish(
        report_processing_finished_notification(
            report_id=job.report_id,
            report_type=report.job_type,
            processing_status="DONE",
            event_time=sandbox.spapi.now(),
            report_document_id=report.document_id,
        )
    )
    sandbox.deliver()

    done = backfill.job(job.job_id)
    assert done is not None
    assert done.status is JobStatus.DONE
    assert_landed_once(sandbox, finals)
    assert done.counts["fetched_with_get_order"] == 1
    assert sandbox.queue.dead_letters == []
    calls = sandbox.spapi.requests.snapshot()
    assert (calls["createReport"], calls["getReportDocument"], calls.get("getReport", 0)) == (1, 2, 0)
    assert calls["searchOrders"] == 1  # the probe
    assert runtime.reports.downloads == {"get": 2, "url_refreshed": 1}


def test_without_the_notification_the_timer_polls_the_report_and_a_crash_resumes_where_it_stood(
    sandbox: Sandbox, factory: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No REPORT_PROCESSING_FINISHED comes: the next timer step asks getReport, reads the document and applies
    it in chunks; a crash after the first chunk leaves the lines applied in the job, and the next step goes on
    from there without writing anything twice."""
    finals = _skewed_history(factory, sandbox)
    runtime = sandbox.runtime()
    backfill = _backfill(runtime)
    monkeypatch.setattr("shared.flows.orders_backfill.CHUNK_ORDERS", 40)
    job = backfill.backfill(BackfillRange(hours_ago(20 * 24 + 1), hours_ago(0)))
    assert job.report_id is not None
    sandbox.spapi.reports.finish_now(job.report_id)
    original_apply = runtime.order_pages.apply
    chunks: list[int] = []

    def crash_on_second_chunk(found, *, source, owner=None):
        chunks.append(len(found))
        if len(chunks) == 3:  # chunk 1's report orders, chunk 1's getOrder ones (none), then chunk 2
            raise RuntimeError("worker process killed")
        return original_apply(found, source=source, owner=owner)

    monkeypatch.setattr(runtime.order_pages, "apply", crash_on_second_chunk)
    with pytest.raises(RuntimeError):
        backfill.resume(Deadline(60))
    stopped = backfill.job(job.job_id)
    assert stopped is not None
    assert stopped.report_status == "DONE"
    assert stopped.lines_done > 0
    monkeypatch.setattr(runtime.order_pages, "apply", original_apply)
    # The dead worker's lease runs out (its budget and a minute's margin later).
    runtime.progress.save(stopped.to_row().with_fields(LeaseUntil=hours_ago(1)))
    sandbox.dataverse.requests.reset()

    [resumed] = backfill.resume(Deadline(60))

    assert resumed.status is JobStatus.DONE
    assert resumed.lines_done == 0  # the next segment's (there is none)
    assert_landed_once(sandbox, finals)
    assert sandbox.spapi.requests.snapshot()["getReport"] == 1
