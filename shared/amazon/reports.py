"""Reports API 2021-06-30: request a report, follow it, and read its document; any report type.

    create_report -> (REPORT_PROCESSING_FINISHED notification | get_report polling) -> open_document

Amazon's quirks, each handled here so callers (order backfill now, the settlement timer later) never see them:
- a report document lives behind a presigned S3 URL that expires 5 minutes after getReportDocument; S3 then
  answers 403 in XML, not SP-API JSON. Why this matters: a large document, or one read after a slow step,
  meets an expired URL; we ask getReportDocument for a fresh one (its quota is 15 at once) and go on;
- documents may be gzip (`compressionAlgorithm: GZIP`, no Content-Encoding header): we gunzip what says so,
  or starts with gzip's magic bytes, while it streams in;
- a truncated download (connection cut, a gzip stream without its end) would look like a shorter report:
  it is refused as transient, never handed on;
- REPORT_PROCESSING_FINISHED is camelCase (`payload.reportProcessingFinishedNotification`).

Downloads stream to a temporary file (uncompressed), so memory stays flat for any report size and the
reader can take its time: the URL only has to live for the download itself.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.errors import SpApiPermanentError, SpApiTransientError
from shared.amazon.notifications import MalformedNotification, NotificationEnvelope
from shared.resilience import Sleep, call_with_retries, is_transient

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

REPORTS = SpApi("sp_api.api.reports.reports", "Reports")
REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED"
FINISHED_STATUSES = frozenset({"DONE", "CANCELLED", "FATAL"})
# A 403 from S3 on a document URL means it expired (or its signature is off); a fresh URL fixes both. Bounded,
# because a URL that is refused again at once points at something no fresh URL will fix.
URL_REFRESHES = 2
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024


class DocumentIncomplete(SpApiTransientError):
    """The document download ended early (cut connection, gzip without its end); download it again."""

    reason = "ReportDocumentIncomplete"


class DocumentUrlRefused(SpApiPermanentError):
    """S3 kept refusing the document URL, fresh ones included."""

    reason = "ReportDocumentRefused"


@dataclass(frozen=True)
class Report:
    report_id: str
    report_type: str
    processing_status: str  # IN_QUEUE, IN_PROGRESS, DONE, CANCELLED, FATAL
    document_id: str | None = None  # DONE reports only (and FATAL ones, with an error document)
    created: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.processing_status in FINISHED_STATUSES


@dataclass(frozen=True)
class ReportDocument:
    document_id: str
    url: str
    compression: str | None  # "GZIP" or None

    def __repr__(self) -> str:  # the URL is a bearer credential for 5 minutes
        return f"ReportDocument({self.document_id!r}, compression={self.compression!r})"


class ReportsApi:
    def __init__(self, session: SpApiSession, *, sleep: Sleep = time.sleep) -> None:
        self._session = session
        self._sleep = sleep
        self.downloads: Counter[str] = Counter()  # document GETs (not SP-API operations): tries and refreshes
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    # --- operations ---------------------------------------------------------------------------------
    def create_report(
        self,
        report_type: str,
        *,
        marketplace_ids: Sequence[str],
        data_start: datetime | None = None,
        data_end: datetime | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str:
        """Request a report; returns its reportId."""
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if data_start is not None:
            body["dataStartTime"] = _iso(data_start)
        if data_end is not None:
            body["dataEndTime"] = _iso(data_end)
        if options:
            body["reportOptions"] = dict(options)
        response = self._session.call("createReport", REPORTS, lambda client: client.create_report(**body))
        report_id = (response.payload or {}).get("reportId")
        if not isinstance(report_id, str) or not report_id:
            raise SpApiPermanentError("createReport answered without a reportId")
        return report_id

    def get_report(self, report_id: str) -> Report:
        response = self._session.call("getReport", REPORTS, lambda client: client.get_report(report_id))
        return _report(response.payload or {})

    def get_reports(
        self,
        report_types: Sequence[str],
        *,
        marketplace_ids: Sequence[str],
        processing_statuses: Sequence[str] = (),
        created_since: datetime | None = None,
    ) -> Iterator[Report]:
        """Reports of these types, newest first, every page (a nextToken must be sent alone)."""
        params: dict[str, Any] = {
            "reportTypes": ",".join(report_types),
            "marketplaceIds": ",".join(marketplace_ids),
            "pageSize": 100,
        }
        if processing_statuses:
            params["processingStatuses"] = ",".join(processing_statuses)
        if created_since is not None:
            params["createdSince"] = _iso(created_since)
        while True:
            response = self._session.call(
                "getReports", REPORTS, functools.partial(_get_reports, params=dict(params))
            )
            for raw in (response.payload or {}).get("reports") or []:
                if isinstance(raw, dict):
                    yield _report(raw)
            token = response.next_token
            if not token:
                return
            params = {"nextToken": token}

    def get_report_document(self, document_id: str) -> ReportDocument:
        response = self._session.call(
            "getReportDocument", REPORTS, lambda client: client.get_report_document(document_id)
        )
        payload = response.payload or {}
        url = payload.get("url")
        if not isinstance(url, str) or not url:
            raise SpApiPermanentError("getReportDocument answered without a url")
        compression = payload.get("compressionAlgorithm")
        return ReportDocument(document_id, url, str(compression) if compression else None)

    # --- documents ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def open_document(self, document_id: str) -> Iterator[DocumentLines]:
        """The document's lines, downloaded (streamed, gunzipped) to a temporary file first."""
        with tempfile.TemporaryFile() as file:
            charset = self._download(document_id, file)
            file.seek(0)
            yield DocumentLines(file, charset)

    def _download(self, document_id: str, file: IO[bytes]) -> str:
        document = self.get_report_document(document_id)
        refreshes = 0
        while True:
            try:
                return call_with_retries(
                    functools.partial(self._fetch, document, file),
                    policy=self._session.retry,
                    retryable=is_transient,
                    sleep=self._sleep,
                )
            except _UrlRefused:
                if refreshes >= URL_REFRESHES:
                    raise DocumentUrlRefused(
                        f"report document {document_id}: S3 refused {refreshes + 1} URLs in a row"
                    ) from None
                refreshes += 1
                self.downloads["url_refreshed"] += 1
                log.info("Report document %s: URL refused (expired); asking for a fresh one", document_id)
                document = self.get_report_document(document_id)

    def _fetch(self, document: ReportDocument, file: IO[bytes]) -> str:
        """One streamed GET of the document into `file` (from its start); returns the text's charset."""
        import httpx

        file.seek(0)
        file.truncate()
        self.downloads["get"] += 1
        gunzip: Any = None
        try:
            with self._client().stream("GET", document.url) as response:
                if response.status_code == 403:
                    raise _UrlRefused()
                if response.status_code >= 500 or response.status_code == 429:
                    raise SpApiTransientError(
                        f"report document download answered {response.status_code}",
                        status=response.status_code,
                    )
                if response.status_code >= 400:
                    raise SpApiPermanentError(
                        f"report document download answered {response.status_code}",
                        status=response.status_code,
                    )
                for chunk in response.iter_raw(_CHUNK):
                    if gunzip is None:
                        compressed = document.compression == "GZIP" or chunk.startswith(_GZIP_MAGIC)
                        gunzip = zlib.decompressobj(wbits=31) if compressed else False
                    file.write(gunzip.decompress(chunk) if gunzip else chunk)
                charset = response.charset_encoding or "utf-8"
            if gunzip:
                file.write(gunzip.flush())
        except httpx.TimeoutException:
            raise SpApiTransientError("report document download timed out") from None
        except httpx.TransportError as exc:  # includes a body shorter than its Content-Length
            raise DocumentIncomplete(f"report document download failed: {type(exc).__name__}") from None
        except zlib.error:
            raise DocumentIncomplete("report document is not readable gzip") from None
        if gunzip and not gunzip.eof:
            raise DocumentIncomplete("report document ended before the end of its gzip stream")
        return charset

    def _client(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                import httpx

                # S3, not SP-API: no access token, no usage plan; a longer read timeout for big documents.
                self._http = httpx.Client(timeout=httpx.Timeout(self._session.config.timeout, read=60.0))
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None


class _UrlRefused(Exception):
    """S3 answered 403 to the presigned URL: it expired, or its signature no longer matches."""


class DocumentLines:
    """A downloaded document, read line by line (split on "\\n" only: a stray "\\r" inside a product name
    must not split a row)."""

    def __init__(self, file: IO[bytes], charset: str) -> None:
        self._file = file
        self._charset = charset

    def __iter__(self) -> Iterator[str]:
        for raw in self._file:
            yield raw.decode(self._charset, errors="replace")


# --- REPORT_PROCESSING_FINISHED ---------------------------------------------------------------------------
class _Finished(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)

    seller_id: str = Field(alias="sellerId", max_length=64)
    report_id: str = Field(alias="reportId", min_length=1, max_length=64)
    report_type: str = Field(alias="reportType", min_length=1, max_length=128)
    processing_status: str = Field(alias="processingStatus", max_length=32)
    report_document_id: str | None = Field(None, alias="reportDocumentId", max_length=256)


@dataclass(frozen=True)
class ReportFinished:
    """What REPORT_PROCESSING_FINISHED says: which report, of what type, how it ended, its document."""

    seller_id: str
    report: Report


def parse_report_finished(envelope: NotificationEnvelope) -> ReportFinished:
    payload = envelope.payload.get("reportProcessingFinishedNotification")
    if not isinstance(payload, dict):
        raise MalformedNotification(
            "REPORT_PROCESSING_FINISHED payload has no reportProcessingFinishedNotification"
        )
    try:
        finished = _Finished.model_validate(payload)
    except ValidationError as exc:
        fields = "; ".join(
            ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise MalformedNotification(f"invalid REPORT_PROCESSING_FINISHED payload: {fields}") from None
    report = Report(
        finished.report_id, finished.report_type, finished.processing_status, finished.report_document_id
    )
    return ReportFinished(finished.seller_id, report)


def _get_reports(client: Any, *, params: dict[str, Any]) -> Any:
    return client.get_reports(**params)


def _report(raw: Mapping[str, Any]) -> Report:
    report_id, report_type, status = raw.get("reportId"), raw.get("reportType"), raw.get("processingStatus")
    if not (isinstance(report_id, str) and isinstance(report_type, str) and isinstance(status, str)):
        raise SpApiPermanentError("a report without reportId, reportType or processingStatus")
    document_id = raw.get("reportDocumentId")
    created = raw.get("createdTime")
    return Report(
        report_id,
        report_type,
        status,
        document_id if isinstance(document_id, str) and document_id else None,
        _parse_time(created) if isinstance(created, str) else None,
    )


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
