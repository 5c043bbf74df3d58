"""Per-listing state (SKU x marketplace) in Table Storage: wanted and sent values with their versions, the
flush claim, the coalescing duty, the cached productType. See shared/model/listings.py for what it means.

Row key `<marketplaceId>|<sku>` in `lst-<n>` partitions; versions' RowVersion parts are stored as text (Table
Storage's integers are 32-bit and Dataverse row versions outgrow that).

`AmazonFlagged` (true, or absent) marks a row whose listing Amazon reports DELETED or with ERROR issues, so the
operations status finds them with a filter Table Storage can answer (its statuses and severities are stored as
comma-joined text, which a filter cannot search). It is derived on every write: a row written before the column
existed is read as before and is found once its next notification or change rewrites it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.model.crm_events import VersionStamp
from shared.model.listings import (
    FlaggedListing,
    FlushClaim,
    Lane,
    ListingKey,
    ListingState,
    Price,
    Stamped,
)
from shared.state.rows import Rows, etag_of
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PREFIX = "lst"


def row_name(key: ListingKey) -> str:
    return f"{key.marketplace_id}|{key.sku}"


class ListingStore:
    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self.rows = Rows(table, PREFIX, breaker=breaker)

    def get_many(self, keys: Iterable[ListingKey]) -> dict[ListingKey, ListingState]:
        """The state of each listing (a fresh one for a listing never seen)."""
        wanted = {row_name(key): key for key in keys}
        found = self.rows.read(wanted)
        return {key: _state(key, found.get(name)) for name, key in wanted.items()}

    def get(self, key: ListingKey) -> ListingState:
        return self.get_many([key])[key]

    def save(self, state: ListingState) -> ListingState:
        """Write `state` if the row is still as read (ConcurrentUpdate otherwise); returns it with its new ETag."""
        etag = self.rows.write(row_name(state.key), _entity(state), state.etag)
        return _with_etag(state, etag)

    def in_lane(self, lane: Lane) -> Iterator[ListingState]:
        for entity in self.rows.where("Lane eq @lane", {"lane": lane.value}):
            key = ListingKey(str(entity["Sku"]), str(entity["MarketplaceId"]))
            yield _state(key, entity)

    def flagged_by_amazon(self, limit: int) -> tuple[list[FlaggedListing], bool]:
        """Up to `limit` listings Amazon flags (DELETED, ERROR issues), and whether there are more: a bounded
        query on `AmazonFlagged` reading only the columns that say why."""
        rows = self.rows.where(
            "AmazonFlagged eq @flagged", {"flagged": True}, select=_FLAG_COLUMNS, limit=limit + 1
        )
        flagged = []
        for entity in rows:
            key = ListingKey(str(entity["Sku"]), str(entity["MarketplaceId"]))
            problems = _state(key, entity).amazon_problems()
            if problems:
                flagged.append(FlaggedListing(key, problems))
        return flagged[:limit], len(flagged) > limit


_FLAG_COLUMNS = ("Sku", "MarketplaceId", "AmazonStatus", "IssueSeverities")


def _with_etag(state: ListingState, etag: str) -> ListingState:
    return replace(state, etag=etag)


# --- the row format (column names are the stored format: keep them when the types change) -------------------
def _entity(state: ListingState) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "Sku": state.key.sku,
        "MarketplaceId": state.key.marketplace_id,
        "Lane": state.lane.value,
    }
    _put_quantity(entity, "WantQty", state.want_quantity)
    _put_quantity(entity, "SentQty", state.sent_quantity)
    _put_price(entity, "WantPrice", state.want_price)
    _put_price(entity, "SentPrice", state.sent_price)
    _put_quantity(entity, "SendingQty", state.sending_quantity)
    _put_price(entity, "SendingPrice", state.sending_price)
    _put_version(entity, "Published", state.published)
    optional = {
        "Rejected": state.rejected[:4000] if state.rejected else None,
        "ProductType": state.product_type,
        "NotListedUntil": state.not_listed_until,
        "DutyUntil": state.duty_until,
        "ClaimOwner": state.claim.owner if state.claim else None,
        "ClaimSince": state.claim.since if state.claim else None,
        "FeedId": state.feed_id,
        "FeedMessageId": state.feed_message_id,
        "LastSentAt": state.last_sent_at,
        "ResyncAsked": state.resync_asked,
        "Resynced": state.resynced,
        "SendingResync": state.sending_resync,
        "AmazonStatus": _put_words(state.amazon_status),
        "StatusAsOf": state.status_as_of,
        "IssueSeverities": _put_words(state.issue_severities),
        "IssuesAsOf": state.issues_as_of,
        "AmazonQty": state.amazon_quantity,
        "AmazonQtyAsOf": state.amazon_quantity_as_of,
        "AmazonQtyPublished": state.amazon_quantity_published,
        "AmazonFlagged": True if state.amazon_problems() else None,
    }
    entity.update({name: value for name, value in optional.items() if value is not None})
    return entity


def _state(key: ListingKey, entity: Any) -> ListingState:
    if entity is None:
        return ListingState(key)
    owner, since = entity.get("ClaimOwner"), _time(entity.get("ClaimSince"))
    return ListingState(
        key,
        want_quantity=_quantity(entity, "WantQty"),
        want_price=_price(entity, "WantPrice"),
        sent_quantity=_quantity(entity, "SentQty"),
        sent_price=_price(entity, "SentPrice"),
        published=_version(entity, "Published"),
        rejected=entity.get("Rejected"),
        product_type=entity.get("ProductType"),
        not_listed_until=_time(entity.get("NotListedUntil")),
        duty_until=_time(entity.get("DutyUntil")),
        claim=FlushClaim(str(owner), since) if owner and since else None,
        sending_quantity=_quantity(entity, "SendingQty"),
        sending_price=_price(entity, "SendingPrice"),
        lane=Lane(entity.get("Lane") or Lane.LIVE.value),
        feed_id=entity.get("FeedId"),
        feed_message_id=entity.get("FeedMessageId"),
        last_sent_at=_time(entity.get("LastSentAt")),
        resync_asked=_time(entity.get("ResyncAsked")),
        resynced=_time(entity.get("Resynced")),
        sending_resync=_time(entity.get("SendingResync")),
        amazon_status=_words(entity.get("AmazonStatus")),
        status_as_of=_time(entity.get("StatusAsOf")),
        issue_severities=_words(entity.get("IssueSeverities")),
        issues_as_of=_time(entity.get("IssuesAsOf")),
        amazon_quantity=entity.get("AmazonQty") if isinstance(entity.get("AmazonQty"), int) else None,
        amazon_quantity_as_of=_time(entity.get("AmazonQtyAsOf")),
        amazon_quantity_published=_time(entity.get("AmazonQtyPublished")),
        etag=etag_of(entity),
    )


def _put_version(entity: dict[str, Any], prefix: str, version: VersionStamp | None) -> None:
    if version is not None:
        entity[f"{prefix}Time"] = version.time
        entity[f"{prefix}Seq"] = str(version.sequence)


def _version(entity: Any, prefix: str) -> VersionStamp | None:
    moment, sequence = _time(entity.get(f"{prefix}Time")), entity.get(f"{prefix}Seq")
    if moment is None:
        return None
    return VersionStamp(moment, int(sequence) if isinstance(sequence, str) and sequence.isdigit() else 0)


def _put_quantity(entity: dict[str, Any], prefix: str, value: Stamped[int] | None) -> None:
    if value is not None:
        entity[prefix] = value.value
        _put_version(entity, prefix, value.version)


def _quantity(entity: Any, prefix: str) -> Stamped[int] | None:
    version, value = _version(entity, prefix), entity.get(prefix)
    return Stamped(int(value), version) if version is not None and isinstance(value, int) else None


def _put_price(entity: dict[str, Any], prefix: str, value: Stamped[Price] | None) -> None:
    if value is not None:
        entity[prefix] = str(value.value.amount)  # text: Table Storage has no decimal type
        entity[f"{prefix}Currency"] = value.value.currency
        _put_version(entity, prefix, value.version)


def _price(entity: Any, prefix: str) -> Stamped[Price] | None:
    version, amount, currency = _version(entity, prefix), entity.get(prefix), entity.get(f"{prefix}Currency")
    if version is None or not isinstance(amount, str) or not isinstance(currency, str):
        return None
    return Stamped(Price(Decimal(amount), currency), version)


def _put_words(words: frozenset[str] | None) -> str | None:
    """A set of Amazon's words (statuses, severities) as sorted text; an empty set is "" (not absent)."""
    return ",".join(sorted(words)) if words is not None else None


def _words(value: Any) -> frozenset[str] | None:
    if not isinstance(value, str):
        return None
    return frozenset(word for word in value.split(",") if word)


def _time(value: Any) -> datetime | None:
    return as_utc(value) if isinstance(value, datetime) else None
