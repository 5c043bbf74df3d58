"""Reports API 2021-06-30: create/list/get reports and hand out their documents.

After ``reports_2021-06-30.json`` and Amazon's report-type rules:

- ``createReport`` (202) for the all-orders flat files; the report moves IN_QUEUE -> IN_PROGRESS -> DONE on
  the emulated clock (``finish_now`` skips the wait); a report with no data ends CANCELLED ("an automatic
  cancellation if there is no data to return"), without a document;
- settlement reports cannot be requested: createReport answers Amazon's own refusal, "Request for report
  type 1118 is not allowed at this time"; Amazon schedules them, they only appear in getReports
  (``add_settlement_report``) and are downloaded like any other;
- ``getReports`` filters (reportTypes or nextToken required; nextToken alone), newest first;
- ``getReportDocument`` returns a presigned ``url`` (5 minutes, see ``documents``) and
  ``compressionAlgorithm: GZIP`` for compressed documents;
- when a report finishes, REPORT_PROCESSING_FINISHED goes to whoever subscribed (``notifications.outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sandbox.finance_ledger import Settlement
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.notification_samples import report_processing_finished_notification
from sandbox.order_report import all_orders_lines
from sandbox.settlement_report import settlement_lines
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.documents import DocumentStore
from sandbox.spapi_emulator.errors import invalid_input, not_found
from sandbox.spapi_emulator.jobs import Job, JobPager, JobQueue, job_times, listing_parameters
from sandbox.spapi_emulator.notifications import NotificationsApi
from sandbox.spapi_emulator.orders import OrderStore
from sandbox.spapi_emulator.params import (
    iso,
    json_body,
    parse_time,
    require_fields,
    string_list,
    time_value,
)
from sandbox.spapi_emulator.routes import Access, Route

BASE: Final = "/reports/2021-06-30"
ALL_ORDERS_BY_LAST_UPDATE: Final = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
ALL_ORDERS_BY_ORDER_DATE: Final = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
SETTLEMENT_V2: Final = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
# Report types Amazon schedules itself, with the internal number its refusal message quotes.
SCHEDULED_ONLY: Final[Mapping[str, str]] = {
    "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE": "1117",
    SETTLEMENT_V2: "1118",
    "GET_V2_SETTLEMENT_REPORT_DATA_XML": "GET_V2_SETTLEMENT_REPORT_DATA_XML",
}
# The order field each all-orders report selects by.
ORDER_REPORTS: Final[Mapping[str, str]] = {
    ALL_ORDERS_BY_LAST_UPDATE: "lastUpdatedTime",
    ALL_ORDERS_BY_ORDER_DATE: "createdTime",
}
TEXT: Final = "text/tab-separated-values"


class ReportsApi:
    def __init__(
        self,
        ctx: EmulatorContext,
        documents: DocumentStore,
        orders: OrderStore,
        notifications: NotificationsApi,
    ) -> None:
        self._ctx = ctx
        self._documents = documents
        self._orders = orders
        self._notifications = notifications
        self.queue = JobQueue(ctx, self._complete)
        self._pager = JobPager(ctx, "reportTypes")
        self.gzip_report_types: set[str] = set(ORDER_REPORTS)  # compressed documents (GZIP)

    def routes(self) -> list[Route]:
        reports = BASE + "/reports"
        return [
            Route(
                "getReports",
                "GET",
                reports,
                Access.SELLER,
                self.get_reports,
                listing_parameters("reportTypes"),
            ),
            Route("createReport", "POST", reports, Access.SELLER, self.create_report),
            Route("cancelReport", "DELETE", reports + "/{reportId}", Access.SELLER, self.cancel_report),
            Route("getReport", "GET", reports + "/{reportId}", Access.SELLER, self.get_report),
            Route(
                "getReportDocument",
                "GET",
                BASE + "/documents/{reportDocumentId}",
                Access.SELLER,
                self.get_report_document,
                ("enableContentEncodingUrlHeader",),
            ),
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self.queue.jobs.clear()
            self.gzip_report_types = set(ORDER_REPORTS)
        self._pager.reset()

    # --- test hooks -------------------------------------------------------------------------------------
    def finish_now(self, report_id: str | None = None) -> None:
        """Finish one report (or all) at the current emulated time."""
        self.queue.finish_now(report_id)

    def add_settlement_report(
        self, settlement: Settlement, *, grouping: bool = True, created: datetime | None = None
    ) -> str:
        """Publish a ledger settlement as Amazon does after the period ends; returns the reportId."""
        return self.add_report_lines(
            SETTLEMENT_V2,
            settlement_lines(settlement, grouping=grouping),
            marketplace_ids=[settlement.marketplace_id],
            data_start=settlement.start,
            data_end=settlement.end,
            created=created or settlement.end,
            compress=False,
        )

    def add_report_lines(
        self,
        report_type: str,
        lines: Iterable[str],
        *,
        marketplace_ids: Sequence[str],
        data_start: datetime,
        data_end: datetime,
        created: datetime | None = None,
        compress: bool = True,
    ) -> str:
        """A DONE report whose document is `lines` (gzip-compressed while read when `compress`)."""
        document_id = self._document_id()
        if compress:
            self._documents.create_from_lines(document_id, TEXT, lines)
        else:
            self._documents.create(document_id, TEXT, "".join(lines).encode("utf-8"))
        job = self.queue.add_finished(
            report_type, marketplace_ids, created or self._ctx.now(), data_start=data_start, data_end=data_end
        )
        job.outcome = "DONE"
        job.document_id = document_id
        return job.job_id

    def document_text(self, report_id: str) -> str | None:
        """The finished report's content, decompressed."""
        job = self.queue.get(report_id)
        document = self._documents.get(job.document_id) if job is not None and job.document_id else None
        return document.text() if document is not None else None

    # --- operations -------------------------------------------------------------------------------------
    def create_report(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        body = json_body(request)
        require_fields(body, "reportType", "marketplaceIds")
        report_type = body["reportType"]
        marketplace_ids = string_list(body["marketplaceIds"], "marketplaceIds", min_items=1, max_items=25)
        if report_type in SCHEDULED_ONLY:
            # Why this matters: settlement data must be found with getReports; asking for it fails.
            raise invalid_input(
                f"Request for report type {SCHEDULED_ONLY[report_type]} is not allowed at this time"
            )
        if report_type not in ORDER_REPORTS:
            raise invalid_input(
                f"Invalid reportType {report_type!r}: the emulator produces {', '.join(sorted(ORDER_REPORTS))}."
            )
        now = self._ctx.now()
        start = time_value(body["dataStartTime"], "dataStartTime") if body.get("dataStartTime") else now
        end = time_value(body["dataEndTime"], "dataEndTime") if body.get("dataEndTime") else now
        if start > now or end > now:
            raise invalid_input(
                "dataStartTime and dataEndTime must be prior to or equal to the current date and time."
            )
        if start > end:
            raise invalid_input("dataStartTime must be before dataEndTime.")
        options = body.get("reportOptions")
        if options is not None and (
            not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values())
        ):
            raise invalid_input("reportOptions must map names to strings.")
        job = self.queue.add(report_type, marketplace_ids, data_start=start, data_end=end)
        return EmulatorResponse.json(202, {"reportId": job.job_id})

    def get_report(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        job = self.queue.get(path["reportId"])
        if job is None:
            raise not_found(f"Report {path['reportId']} was not found.")
        return EmulatorResponse.json(200, self._render(job))

    def get_reports(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        return EmulatorResponse.json(200, self._pager.listing(request, self.queue, "reports", self._render))

    def cancel_report(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        with self._ctx.lock:
            job = self.queue.get(path["reportId"])
            if job is None:
                raise not_found(f"Report {path['reportId']} was not found.")
            status = job.status(self._ctx.now())
            if status != "IN_QUEUE":
                raise invalid_input(f"Only reports in IN_QUEUE can be cancelled; this one is {status}.")
            job.cancelled_at = self._ctx.now()
        return EmulatorResponse(200)

    def get_report_document(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        return self._documents.describe(
            request, "reportDocumentId", path["reportDocumentId"], "Report document"
        )

    # --- processing -------------------------------------------------------------------------------------
    def _complete(self, job: Job) -> None:
        """Runs once, when the report's processing time is over: select the data, write the document."""
        field = ORDER_REPORTS.get(job.job_type)
        if field is not None:
            start, end = job.extra["data_start"], job.extra["data_end"]
            wanted = set(job.marketplace_ids)
            orders = [
                order
                for order in self._orders.all()
                if start <= parse_time(str(order[field])) <= end
                and order["salesChannel"]["marketplaceId"] in wanted
            ]
            if orders:
                job.document_id = self._document_id()
                content = "".join(all_orders_lines(orders)).encode("utf-8")
                self._documents.create(
                    job.document_id, TEXT, content, gzip_it=job.job_type in self.gzip_report_types
                )
                job.outcome = "DONE"
            else:
                job.outcome = "CANCELLED"
        self._announce(job)

    def _announce(self, job: Job) -> None:
        outcome = job.outcome or "DONE"
        envelope = report_processing_finished_notification(
            report_id=job.job_id,
            report_type=job.job_type,
            processing_status=outcome,
            event_time=job.ends,
            report_document_id=job.document_id,
            seller_id=self._ctx.seller_id,
            application_id=self._notifications.application_id,
        )
        self._notifications.publish(envelope)

    def _render(self, job: Job) -> dict[str, Any]:
        now = self._ctx.now()
        report: dict[str, Any] = {
            "marketplaceIds": job.marketplace_ids,
            "reportId": job.job_id,
            "reportType": job.job_type,
        }
        if "data_start" in job.extra:
            report["dataStartTime"] = iso(job.extra["data_start"])
            report["dataEndTime"] = iso(job.extra["data_end"])
        report["createdTime"] = iso(job.created)
        report["processingStatus"] = job.status(now)
        report.update(job_times(job, now))
        if job.document_id and job.status(now) == "DONE":
            report["reportDocumentId"] = job.document_id
        return report

    def _document_id(self) -> str:
        return f"amzn1.spdoc.1.4.na.{self._ctx.uuid()}.T{self._ctx.token(14).upper()}"
