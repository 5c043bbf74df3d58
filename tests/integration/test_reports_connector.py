"""The Reports API connector over real sockets, against the SP-API emulator: request, follow and download a
report (gzip or plain), a document URL that expired, a download cut short, and the notification's payload."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.amazon_samples import OrderFactory
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.notification_samples import report_processing_finished_notification
from sandbox.order_report import all_orders_lines
from sandbox.spapi_emulator import SpApiEmulator
from sandbox.spapi_emulator.documents import DOWNLOAD
from shared.amazon.notifications import MalformedNotification, parse_envelope
from shared.amazon.order_report import ALL_ORDERS_BY_LAST_UPDATE
from shared.amazon.reports import DocumentUrlRefused, ReportsApi, parse_report_finished
from tests.integration.test_spapi_connector import session_for
from tests.sweep_support import expire_first_document_url

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"


@pytest.fixture
def emulator() -> Iterator[SpApiEmulator]:
    with SpApiEmulator() as running:
        yield running


def _report_with_orders(emulator: SpApiEmulator, count: int, *, compress: bool) -> tuple[str, list[str]]:
    now = emulator.now()
    orders = [
        o.to_api()
        for o in OrderFactory(seed=5, start=now - timedelta(days=3)).orders(count, marketplace_id=US)
    ]
    lines = list(all_orders_lines(orders))
    report_id = emulator.reports.add_report_lines(
        ALL_ORDERS_BY_LAST_UPDATE,
        lines,
        marketplace_ids=[US],
        data_start=now - timedelta(days=4),
        data_end=now,
        compress=compress,
    )
    return report_id, lines


def _document_id(emulator: SpApiEmulator, report_id: str) -> str:
    job = emulator.reports.queue.get(report_id)
    assert job is not None
    assert job.document_id is not None
    return job.document_id


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_a_document_is_read_line_by_line_whether_gzip_or_plain(
    emulator: SpApiEmulator, compress: bool
) -> None:
    """getReportDocument, then one streamed download, gunzipped when Amazon says GZIP: the same lines."""
    report_id, lines = _report_with_orders(emulator, 30, compress=compress)
    reports = ReportsApi(session_for(emulator))
    with reports.open_document(_document_id(emulator, report_id)) as document:
        assert list(document) == lines
    assert reports.downloads == {"get": 1}
    assert emulator.requests.snapshot().get("getReportDocument") == 1


def test_an_expired_document_url_is_asked_for_again(emulator: SpApiEmulator) -> None:
    """S3 refuses a URL older than 5 minutes (403 AccessDenied): the connector calls getReportDocument for a
    fresh one and downloads with it."""
    report_id, lines = _report_with_orders(emulator, 5, compress=True)
    expire_first_document_url(emulator)
    reports = ReportsApi(session_for(emulator))
    with reports.open_document(_document_id(emulator, report_id)) as document:
        assert list(document) == lines
    assert reports.downloads == {"get": 2, "url_refreshed": 1}
    assert emulator.requests.snapshot().get("getReportDocument") == 2


def test_a_url_refused_again_and_again_is_a_permanent_error(emulator: SpApiEmulator) -> None:
    """Three URLs refused in a row: no endless loop, a permanent error that names the document."""
    report_id, _ = _report_with_orders(emulator, 2, compress=False)
    refused = f"{emulator.base_url}/_documents/{{}}?expires=1&signature=x"
    emulator.documents.url = lambda document_id, **options: refused.format(document_id)  # type: ignore[method-assign]
    reports = ReportsApi(session_for(emulator))
    with pytest.raises(DocumentUrlRefused), reports.open_document(_document_id(emulator, report_id)):
        pass


def test_a_download_cut_off_is_downloaded_again(emulator: SpApiEmulator) -> None:
    """The connection drops during the download (and S3 answers 503 once): the connector tries again within
    its retry budget, and the reader gets the whole document."""
    report_id, lines = _report_with_orders(emulator, 10, compress=True)
    emulator.faults = FaultPlan(operations=frozenset({DOWNLOAD}))
    emulator.faults.script(Fault.DROP, Fault.UNAVAILABLE)
    reports = ReportsApi(session_for(emulator))
    with reports.open_document(_document_id(emulator, report_id)) as document:
        assert list(document) == lines
    assert reports.downloads["get"] == 3


def test_create_and_follow_a_report_until_it_is_done(emulator: SpApiEmulator) -> None:
    """createReport gives a report id; getReport shows it queued, then DONE with its document."""
    now = emulator.now()
    orders = OrderFactory(seed=8, start=now - timedelta(days=2)).orders(3, marketplace_id=US)
    emulator.put_orders(order.to_api() for order in orders)
    reports = ReportsApi(session_for(emulator))
    report_id = reports.create_report(
        ALL_ORDERS_BY_LAST_UPDATE, marketplace_ids=[US], data_start=now - timedelta(days=3), data_end=now
    )
    queued = reports.get_report(report_id)
    emulator.reports.finish_now(report_id)
    done = reports.get_report(report_id)
    listed = list(reports.get_reports([ALL_ORDERS_BY_LAST_UPDATE], marketplace_ids=[US]))

    assert (queued.processing_status, queued.finished) == ("IN_QUEUE", False)
    assert (done.processing_status, done.finished) == ("DONE", True)
    assert done.document_id is not None
    with reports.open_document(done.document_id) as document:
        text = "".join(document)
    assert {order.order_id for order in orders} <= {line.split("\t")[0] for line in text.splitlines()[1:]}
    assert [report.report_id for report in listed] == [report_id]


def test_report_processing_finished_is_read_from_its_camel_case_payload(emulator: SpApiEmulator) -> None:
    """The notification names the report, its type, its status and its document."""
    envelope = report_processing_finished_notification(
        report_id="123",
        report_type=ALL_ORDERS_BY_LAST_UPDATE,
        processing_status="DONE",
        event_time=emulator.now(),
        report_document_id="amzn1.spdoc.1",
    )
    finished = parse_report_finished(parse_envelope(json.dumps(envelope)))
    assert (finished.report.report_id, finished.report.processing_status) == ("123", "DONE")
    assert finished.report.document_id == "amzn1.spdoc.1"
    del envelope["payload"]["reportProcessingFinishedNotification"]["reportId"]
    with pytest.raises(MalformedNotification, match="reportId"):
        parse_report_finished(parse_envelope(json.dumps(envelope)))


def test_gzip_bytes_are_recognised_even_when_amazon_does_not_say_so(emulator: SpApiEmulator) -> None:
    """A document stored gzip without compressionAlgorithm (its first bytes are gzip's magic) is gunzipped."""
    emulator.documents.create("doc-1", "text/tab-separated-values", gzip.compress(b"a\tb\n1\t2\n"))
    reports = ReportsApi(session_for(emulator))
    with reports.open_document("doc-1") as document:
        assert list(document) == ["a\tb\n", "1\t2\n"]
