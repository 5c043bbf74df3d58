"""Feeds API 2021-06-30 with ``JSON_LISTINGS_FEED``: upload a document, create a feed, poll, read the report.

The flow Amazon documents: ``createFeedDocument`` (201, an upload URL valid 5 minutes) -> ``PUT`` the JSON to
that URL with the same Content-Type -> ``createFeed`` (202, feedId) -> ``getFeed`` until DONE ->
``getFeedDocument`` of ``resultFeedDocumentId`` -> the processing report. The feed is checked the way
``listings-feed-schema-v2.json`` describes it (header ``sellerId``/``version: "2.0"``; messages with
``messageId``, ``sku``, ``operationType`` and the fields each operation needs) and applied to the same
listing state patchListingsItem uses. A feed that is not JSON or has a bad header ends FATAL; a bad message
only makes that message invalid (the report says which, by messageId).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.documents import DocumentStore
from sandbox.spapi_emulator.errors import ApiError, invalid_input, not_found
from sandbox.spapi_emulator.jobs import Job, JobPager, JobQueue, job_times, listing_parameters
from sandbox.spapi_emulator.listing_rules import check_patches
from sandbox.spapi_emulator.listing_store import GET_INCLUDED_DATA, ListingStore, Submission
from sandbox.spapi_emulator.params import (
    iso,
    json_body,
    require_fields,
    string_list,
)
from sandbox.spapi_emulator.routes import Access, Route

BASE: Final = "/feeds/2021-06-30"
JSON_LISTINGS_FEED: Final = "JSON_LISTINGS_FEED"
SUPPORTED_FEED_TYPES: Final = frozenset({JSON_LISTINGS_FEED})
OPERATION_TYPES: Final = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")
MAX_MESSAGES: Final = 25000
MAX_MESSAGE_ID: Final = 2_147_483_647
# Which message fields each operationType requires and forbids (the schema's oneOf branches).
REQUIRED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "UPDATE": ("productType", "attributes"),
    "PARTIAL_UPDATE": ("productType", "attributes"),
    "PATCH": ("productType", "patches"),
    "DELETE": (),
}
FORBIDDEN_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "UPDATE": ("patches",),
    "PARTIAL_UPDATE": ("requirements", "patches"),
    "PATCH": ("requirements", "attributes"),
    "DELETE": ("requirements", "attributes", "productType", "patches"),
}


class FeedError(Exception):
    """The whole feed cannot be processed (not JSON, bad header): the feed ends FATAL."""


class FeedsApi:
    def __init__(self, ctx: EmulatorContext, documents: DocumentStore, listings: ListingStore) -> None:
        self._ctx = ctx
        self._documents = documents
        self._listings = listings
        self.queue = JobQueue(ctx, self._process)
        self._pager = JobPager(ctx, "feedTypes")

    def routes(self) -> list[Route]:
        return [
            Route(
                "getFeeds",
                "GET",
                BASE + "/feeds",
                Access.SELLER,
                self.get_feeds,
                listing_parameters("feedTypes"),
            ),
            Route("createFeed", "POST", BASE + "/feeds", Access.SELLER, self.create_feed),
            Route("getFeed", "GET", BASE + "/feeds/{feedId}", Access.SELLER, self.get_feed),
            Route(
                "createFeedDocument", "POST", BASE + "/documents", Access.SELLER, self.create_feed_document
            ),
            Route(
                "getFeedDocument",
                "GET",
                BASE + "/documents/{feedDocumentId}",
                Access.SELLER,
                self.get_feed_document,
                ("enableContentEncodingUrlHeader",),
            ),
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self.queue.jobs.clear()
        self._pager.reset()

    # --- test helpers -----------------------------------------------------------------------------------
    def finish_now(self, feed_id: str | None = None) -> None:
        """Process one feed (or all) now instead of waiting for emulated time to pass."""
        self.queue.finish_now(feed_id)

    def report(self, feed_id: str) -> dict[str, Any] | None:
        """The processing report of a finished feed, parsed."""
        job = self.queue.get(feed_id)
        if job is None or job.document_id is None:
            return None
        document = self._documents.get(job.document_id)
        return json.loads(document.text()) if document is not None else None

    # --- documents ----------------------------------------------------------------------------------------
    def create_feed_document(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        body = json_body(request)
        require_fields(body, "contentType")
        if not isinstance(body["contentType"], str):
            raise invalid_input("contentType must be a string.")
        document_id = f"amzn1.tortuga.4.na.{self._ctx.uuid()}.T{self._ctx.token(13).upper()}"
        self._documents.create(document_id, body["contentType"])
        return EmulatorResponse.json(
            201, {"feedDocumentId": document_id, "url": self._documents.url(document_id)}
        )

    def get_feed_document(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        return self._documents.describe(request, "feedDocumentId", path["feedDocumentId"], "Feed document")

    # --- feeds --------------------------------------------------------------------------------------------
    def create_feed(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        body = json_body(request)
        require_fields(body, "feedType", "marketplaceIds", "inputFeedDocumentId")
        feed_type = body["feedType"]
        marketplace_ids = string_list(body["marketplaceIds"], "marketplaceIds", min_items=1, max_items=25)
        if feed_type not in SUPPORTED_FEED_TYPES:
            raise invalid_input(
                f"Invalid feedType {feed_type!r}: the emulator processes {', '.join(sorted(SUPPORTED_FEED_TYPES))}."
            )
        if self._documents.get(str(body["inputFeedDocumentId"])) is None:
            raise invalid_input(f"inputFeedDocumentId {body['inputFeedDocumentId']} does not exist.")
        options = body.get("feedOptions")
        job = self.queue.add(
            feed_type, marketplace_ids, input=str(body["inputFeedDocumentId"]), options=options
        )
        return EmulatorResponse.json(202, {"feedId": job.job_id})

    def get_feed(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        job = self.queue.get(path["feedId"])
        if job is None:
            raise not_found(f"Feed {path['feedId']} was not found.")
        return EmulatorResponse.json(200, self._render(job))

    def get_feeds(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        return EmulatorResponse.json(200, self._pager.listing(request, self.queue, "feeds", self._render))

    def _render(self, job: Job) -> dict[str, Any]:
        now = self._ctx.now()
        feed: dict[str, Any] = {
            "feedId": job.job_id,
            "feedType": job.job_type,
            "marketplaceIds": job.marketplace_ids,
            "createdTime": iso(job.created),
            "processingStatus": job.status(now),
            **job_times(job, now),
        }
        if job.document_id and job.status(now) in ("DONE", "FATAL"):
            feed["resultFeedDocumentId"] = job.document_id
        return feed

    # --- processing -----------------------------------------------------------------------------------------
    def _process(self, job: Job) -> None:
        """Runs once, when the feed's processing time is over: apply messages, write the report."""
        source = self._documents.get(str(job.extra["input"]))
        report_id = f"amzn1.tortuga.4.na.{self._ctx.uuid()}.T{self._ctx.token(13).upper()}"
        try:
            if source is None or source.content is None:
                raise FeedError("The feed document was never uploaded.")
            try:
                text = source.text()
            except UnicodeDecodeError:
                raise FeedError("The feed document is not UTF-8 text.") from None
            feed = _parse_feed(text, self._ctx.seller_id)
            report = self._apply(job, feed)
            job.outcome = "DONE"
        except FeedError as problem:
            report = {
                "header": {"sellerId": self._ctx.seller_id, "version": "2.0", "feedId": job.job_id},
                "issues": [{"code": "4000000", "severity": "ERROR", "message": str(problem)}],
                "summary": {
                    "errors": 1,
                    "warnings": 0,
                    "messagesProcessed": 0,
                    "messagesAccepted": 0,
                    "messagesInvalid": 0,
                },
            }
            job.outcome = "FATAL"
        self._documents.create(report_id, "application/json", json.dumps(report).encode("utf-8"))
        job.document_id = report_id

    def _apply(self, job: Job, feed: Mapping[str, Any]) -> dict[str, Any]:
        issues: list[dict[str, Any]] = []
        accepted, invalid = 0, 0
        items = []
        included: Sequence[str] = feed["header"].get("report", {}).get("includedData", [])
        for message in feed["messages"]:
            problems = _message_problems(message)
            if problems:
                outcome: Submission | None = None
                message_issues = [{"code": "4000001", "severity": "ERROR", "message": p} for p in problems]
            else:
                outcome = self._submit(message, job.marketplace_ids)
                message_issues = [_report_issue(issue) for issue in outcome.issues]
            for issue in message_issues:
                issues.append({"messageId": message.get("messageId"), "sku": message.get("sku"), **issue})
            if outcome is not None and outcome.status == "ACCEPTED":
                accepted += 1
                listing = self._listings.get(str(message["sku"]))
                if included and listing is not None:
                    items.append(self._listings.render(listing, job.marketplace_ids, included))
            else:
                invalid += 1
        header: dict[str, Any] = {
            "sellerId": feed["header"]["sellerId"],
            "version": "2.0",
            "feedId": job.job_id,
        }
        summary: dict[str, Any] = {
            "errors": sum(1 for issue in issues if issue["severity"] == "ERROR"),
            "warnings": sum(1 for issue in issues if issue["severity"] == "WARNING"),
            "messagesProcessed": len(feed["messages"]),
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        }
        report: dict[str, Any] = {"header": header, "issues": issues, "summary": summary}
        if included:
            header["report"] = feed["header"]["report"]
            summary["itemSummary"] = {"items": len(items), "errors": 0, "warnings": 0}
            report["items"] = items
        return report

    def _submit(self, message: Mapping[str, Any], marketplace_ids: Sequence[str]) -> Submission:
        sku, operation = str(message["sku"]), message["operationType"]
        if operation == "DELETE":
            return self._listings.delete(sku)
        if operation == "PATCH":
            return self._listings.patch(
                sku, message["productType"], message["patches"], marketplace_ids, source="JSON_LISTINGS_FEED"
            )
        return self._listings.replace(
            sku,
            str(message["productType"]),
            message["attributes"],
            marketplace_ids,
            partial=operation == "PARTIAL_UPDATE",
        )


def _parse_feed(text: str, seller_id: str) -> dict[str, Any]:
    try:
        feed = json.loads(text)
    except ValueError:
        raise FeedError("The feed is not valid JSON.") from None
    if (
        not isinstance(feed, dict)
        or not isinstance(feed.get("header"), dict)
        or not isinstance(feed.get("messages"), list)
    ):
        raise FeedError("The feed must be an object with a header and messages.")
    header = feed["header"]
    if header.get("version") != "2.0":
        raise FeedError(f'header.version must be "2.0", not {header.get("version")!r}.')
    # Why this matters: a feed for another seller id is refused as a whole, nothing is applied.
    if header.get("sellerId") != seller_id:
        raise FeedError(f"header.sellerId {header.get('sellerId')!r} is not the authorized seller.")
    report = header.get("report")
    if report is not None and (
        not isinstance(report, dict)
        or report.get("apiVersion") != "2021-08-01"
        or not isinstance(report.get("includedData"), list)
        or not report["includedData"]
        or any(value not in GET_INCLUDED_DATA for value in report["includedData"])
    ):
        raise FeedError(
            "header.report needs includedData (Listings Items data sets) and apiVersion 2021-08-01."
        )
    if not 1 <= len(feed["messages"]) <= MAX_MESSAGES:
        raise FeedError(f"A feed holds 1 to {MAX_MESSAGES} messages.")
    ids = [m.get("messageId") for m in feed["messages"] if isinstance(m, dict)]
    if len(ids) != len(set(map(str, ids))):
        raise FeedError("messageId must be unique within the feed.")
    return feed


def _message_problems(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return ["A message must be an object."]
    problems = []
    message_id = message.get("messageId")
    if (
        not isinstance(message_id, int)
        or isinstance(message_id, bool)
        or not 1 <= message_id <= MAX_MESSAGE_ID
    ):
        problems.append("messageId must be an integer from 1 to 2147483647.")
    if not isinstance(message.get("sku"), str) or not message["sku"]:
        problems.append("sku is required.")
    operation = message.get("operationType")
    if operation not in OPERATION_TYPES:
        return [*problems, f"operationType must be one of {', '.join(OPERATION_TYPES)}."]
    problems += [
        f"{name} is required for {operation}." for name in REQUIRED_FIELDS[operation] if name not in message
    ]
    problems += [
        f"{name} is not allowed for {operation}." for name in FORBIDDEN_FIELDS[operation] if name in message
    ]
    if "attributes" in message and (not isinstance(message["attributes"], dict) or not message["attributes"]):
        problems.append("attributes must be an object with at least one attribute.")
    if "patches" in message:
        try:
            check_patches(message["patches"])
        except ApiError as error:
            problems.append(error.details or error.message)
    return problems


def _report_issue(issue: Mapping[str, Any]) -> dict[str, Any]:
    """A Listings Items issue in the processing report's shape (one attributeName, no categories)."""
    rendered: dict[str, Any] = {
        "code": issue["code"],
        "severity": issue["severity"],
        "message": issue["message"],
    }
    if issue.get("attributeNames"):
        rendered["attributeName"] = issue["attributeNames"][0]
    return rendered
