"""Feeds API 2021-06-30 with JSON_LISTINGS_FEED: many listings' stock and price in one submission.

The flow Amazon documents: createFeedDocument (an upload URL valid 5 minutes) -> PUT the JSON there with the
same Content-Type -> createFeed -> getFeed until DONE (or FATAL/CANCELLED) -> the result document, a
processing report whose `issues` name the failing messages by `messageId`. A message with no ERROR issue was
accepted. Why this matters: createFeed allows one request per two minutes after a burst of 15, and Amazon takes
minutes to process a feed, so a feed pays off only for many listings at once (see the backlog flow).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.errors import SpApiPermanentError, SpApiTransientError
from shared.amazon.listings import ListingIssue, listing_patches
from shared.model.listings import ListingKey, Price

FEEDS_2021 = SpApi("sp_api.api.feeds.feeds_2021_06_30", "FeedsV20210630", "2021-06-30")
JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_MESSAGES = 10_000  # well under Amazon's per-feed limit; keeps a document a few MB at most

ProcessingStatus = Literal["IN_QUEUE", "IN_PROGRESS", "DONE", "FATAL", "CANCELLED"]
FINISHED: frozenset[str] = frozenset({"DONE", "FATAL", "CANCELLED"})


@dataclass(frozen=True)
class FeedMessage:
    message_id: int  # 1 .. MAX_MESSAGES, unique within the feed
    key: ListingKey
    product_type: str
    quantity: int | None = None
    price: Price | None = None


@dataclass(frozen=True)
class FeedStatus:
    feed_id: str
    status: str
    result_document_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class FeedReport:
    """Issues of the processing report by messageId; `fatal` when the feed as a whole was refused."""

    issues: dict[int, tuple[ListingIssue, ...]] = field(default_factory=dict)
    fatal: tuple[ListingIssue, ...] = ()

    def errors_of(self, message_id: int) -> tuple[ListingIssue, ...]:
        if self.fatal:
            return self.fatal
        return tuple(issue for issue in self.issues.get(message_id, ()) if issue.severity == "ERROR")


class FeedsApi:
    def __init__(self, session: SpApiSession, seller_id: str) -> None:
        self._session = session
        self._seller_id = seller_id

    def submit_listings(self, marketplace_id: str, messages: Sequence[FeedMessage]) -> str:
        """Upload one JSON_LISTINGS_FEED for one marketplace and create the feed; returns its feedId."""
        if not 0 < len(messages) <= MAX_MESSAGES:
            raise ValueError(f"a feed carries 1 to {MAX_MESSAGES} messages")
        document = json.dumps(self._feed(messages), ensure_ascii=False)

        def upload(client: Any) -> Any:
            from sp_api.base.exceptions import SellingApiException

            try:
                return client.create_feed_document(io.StringIO(document), CONTENT_TYPE)
            except SellingApiException as exc:  # the library raises this when the PUT to the URL fails
                raise SpApiTransientError(f"feed document upload failed ({type(exc).__name__})") from None

        created = self._session.call("createFeedDocument", FEEDS_2021, upload).payload or {}
        document_id = created.get("feedDocumentId")
        if not document_id:
            raise SpApiPermanentError("createFeedDocument answered without a feedDocumentId")
        feed = (
            self._session.call(
                "createFeed",
                FEEDS_2021,
                lambda client: client.create_feed(
                    JSON_LISTINGS_FEED, document_id, marketplaceIds=[marketplace_id]
                ),
            ).payload
            or {}
        )
        if not feed.get("feedId"):
            raise SpApiPermanentError("createFeed answered without a feedId")
        return str(feed["feedId"])

    def status(self, feed_id: str) -> FeedStatus:
        payload = (
            self._session.call("getFeed", FEEDS_2021, lambda client: client.get_feed(feed_id)).payload or {}
        )
        result = payload.get("resultFeedDocumentId")
        return FeedStatus(feed_id, str(payload.get("processingStatus", "")), str(result) if result else None)

    def report(self, status: FeedStatus) -> FeedReport:
        """The processing report of a finished feed (a feed that ended without one failed as a whole)."""
        if status.result_document_id is None:
            return FeedReport(
                fatal=(ListingIssue("FEED_" + status.status, "the feed ended without a report", "ERROR"),)
            )
        document_id = status.result_document_id
        text = self._session.call(
            "getFeedDocument", FEEDS_2021, lambda client: client.get_feed_result_document(document_id)
        )
        try:
            report = json.loads(text)
        except ValueError:
            raise SpApiTransientError("the feed's processing report could not be read") from None
        return _report(report, fatal=status.status != "DONE")

    def _feed(self, messages: Sequence[FeedMessage]) -> dict[str, Any]:
        return {
            "header": {"sellerId": self._seller_id, "version": "2.0"},
            "messages": [
                {
                    "messageId": message.message_id,
                    "sku": message.key.sku,
                    "operationType": "PATCH",
                    "productType": message.product_type,
                    "patches": listing_patches(
                        message.key.marketplace_id, quantity=message.quantity, price=message.price
                    ),
                }
                for message in messages
            ],
        }


def _report(report: Any, *, fatal: bool) -> FeedReport:
    raw_issues = report.get("issues") if isinstance(report, dict) else None
    by_message: dict[int, list[ListingIssue]] = {}
    general: list[ListingIssue] = []
    for item in raw_issues if isinstance(raw_issues, list) else []:
        if not isinstance(item, dict):
            continue
        issue = ListingIssue(
            str(item.get("code", "")), str(item.get("message", ""))[:300], str(item.get("severity", ""))
        )
        message_id = item.get("messageId")
        if isinstance(message_id, int):
            by_message.setdefault(message_id, []).append(issue)
        else:
            general.append(issue)
    fatal_issues = tuple(general) or (ListingIssue("FEED_FATAL", "the feed was refused", "ERROR"),)
    return FeedReport({key: tuple(value) for key, value in by_message.items()}, fatal_issues if fatal else ())
