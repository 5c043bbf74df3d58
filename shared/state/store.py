"""Processing state on Azure Table Storage: notification dedupe and per-order checkpoints.

One table, two kinds of rows:
- `n-<yyyymmdd>` partitions (the notification's EventTime day): one row per NotificationId already
  applied. SQS delivers at least once and Service Bus may redeliver; a redelivery carries the same
  envelope, so it lands in the same partition. Day partitions also make clean-up a matter of dropping
  old partitions.
- `o-<n>` partitions (four, by hash of the order id): one checkpoint per Amazon order: the Amazon
  `lastUpdatedTime` last written to the CRM, the content hash of that write, the CRM state, and a
  *pending* claim while a write is under way.

Every checkpoint change is conditional on the ETag read before it, so two function instances cannot both
apply the same change: the loser gets ConcurrentUpdate (transient) and its message comes back later. A
pending claim that outlives its write marks a write that failed half-way; the next delivery repairs it.

Calls are batched per function invocation: lookups read up to 14 rows per query (Table Storage allows 15
comparisons in a filter, one is the partition), writes go as entity-group transactions of up to 100
rows per partition, each row still guarded by its own ETag. Every call (with the SDK's own retries) goes
through the Table Storage circuit breaker (shared/breakers.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from shared.breakers import CircuitBreaker
from shared.errors import TransientError
from shared.model.applied import AppliedOrder
from shared.model.crm import CrmState
from shared.model.order import OrderStatus
from shared.timeutil import as_utc, utc_now

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from shared.config import Settings

log = logging.getLogger(__name__)

# Table keys may not contain / \ # ? or control characters: those (and %, the escape) are percent-encoded,
# every other printable ASCII character stays readable in Storage Explorer.
_KEY_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in "/\\#?%")
_TRANSACTION_LIMIT = 100  # entities per Table Storage transaction (same partition)
_KEYS_PER_QUERY = 14  # Table Storage allows 15 comparisons per $filter; one is the partition
ORDER_PARTITIONS = 4  # spreads checkpoint writes over partitions (each takes ~2000 entity ops/s)


class ConcurrentUpdate(TransientError):
    """Another instance changed the order's checkpoint first; retry after it finishes."""

    reason = "ConcurrentUpdate"


class StateUnavailable(TransientError):
    """Table Storage could not be reached or answered with an error (`status` when it answered)."""

    reason = "StateStorageUnavailable"


# Statuses that mean the storage service is struggling; any other answer (403 for a wrong key, 404 for a
# deleted table) shows it up and answering, so it does not count against the breaker.
_UNAVAILABLE_STATUSES = frozenset({408, 429})


def _storage_answered(exc: BaseException) -> bool:
    """Transient errors that are the storage service working: a lost ETag race, or a 4xx answer."""
    if isinstance(exc, ConcurrentUpdate):
        return True
    status = exc.status if isinstance(exc, StateUnavailable) else None
    return status is not None and status < 500 and status not in _UNAVAILABLE_STATUSES


@contextlib.contextmanager
def table_call(breaker: CircuitBreaker, what: str) -> Iterator[None]:
    """One Table Storage call (with the SDK's own retries) behind the Table Storage breaker; Azure SDK
    failures become StateUnavailable, transient, with the status when the service answered."""
    from azure.core.exceptions import AzureError, HttpResponseError

    with breaker.guard(answered=_storage_answered):
        try:
            yield
        except AzureError as exc:
            status = exc.status_code if isinstance(exc, HttpResponseError) else None
            raise StateUnavailable(
                f"Table Storage {what} failed ({type(exc).__name__})", status=status
            ) from None


def create_table(table: TableClient, breaker: CircuitBreaker) -> None:
    """Create the state table unless it exists: one call behind the Table Storage breaker."""
    from azure.core.exceptions import ResourceExistsError

    with table_call(breaker, "create table"), contextlib.suppress(ResourceExistsError):
        table.create_table()


# Azure limits PartitionKey and RowKey to 1 KiB each (Azurite does not check). A longer id (a hostile
# NotificationId, say) is stored under its hash: still one row per id, so it still dedupes.
MAX_READABLE_KEY = 255


def table_client(settings: Settings) -> TableClient:
    """The state table: STATE_STORAGE_CONNECTION (or AzureWebJobsStorage), or the endpoint with the app's
    identity."""
    from azure.data.tables import TableServiceClient

    connection = settings.state_connection_string
    if connection:
        service = TableServiceClient.from_connection_string(connection)
    else:
        from azure.identity import DefaultAzureCredential

        endpoint = settings.state_storage_table_endpoint or ""
        service = TableServiceClient(endpoint=endpoint, credential=DefaultAzureCredential())
    return service.get_table_client(settings.state_table)


def row_key(value: str) -> str:
    key = quote(value, safe=_KEY_SAFE, errors="backslashreplace")
    if len(key) <= MAX_READABLE_KEY:
        return key
    return "~sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def order_partition(order_id: str) -> str:
    digest = hashlib.sha1(order_id.encode("utf-8"), usedforsecurity=False).digest()
    return f"o-{digest[0] % ORDER_PARTITIONS}"


class NotificationRef(NamedTuple):
    notification_id: str
    event_time: datetime
    order_id: str

    @property
    def partition(self) -> str:
        return "n-" + as_utc(self.event_time).strftime("%Y%m%d")


@dataclass(frozen=True)
class PendingWrite:
    """A write under way: set by the claim before writing, cleared by the commit after."""

    content_hash: str
    owner: str  # who started it (a redelivery of the same message repairs at once)
    since: datetime | None  # None only in rows of older versions: treated as expired


@dataclass(frozen=True)
class OrderCheckpoint:
    order_id: str
    applied: AppliedOrder | None = None  # the last write that reached the CRM
    pending: PendingWrite | None = None
    etag: str | None = None
    updated_at: datetime | None = field(default=None, compare=False)  # Table Storage's Timestamp, as read

    @property
    def is_pending(self) -> bool:
        return self.pending is not None

    @property
    def settled(self) -> AppliedOrder | None:
        """What the CRM holds for sure: nothing is known while a write is pending (it may be half-done)."""
        return None if self.pending else self.applied


class Claim(NamedTuple):
    current: OrderCheckpoint | None  # as read; None when the order has no checkpoint yet
    order_id: str
    content_hash: str
    owner: str


class StateStore:
    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self._table = table
        self.breaker = breaker or CircuitBreaker("Table Storage")
        self._table_ready = False
        self._lock = threading.Lock()
        self._requests = 0
        self._requests_lock = threading.Lock()

    @property
    def requests(self) -> int:
        """Table Storage calls made (the benchmark prints them per order)."""
        return self._requests

    @contextlib.contextmanager
    def _storage(self, what: str) -> Iterator[None]:
        """One counted Table Storage call (see `table_call`)."""
        with table_call(self.breaker, what):
            with self._requests_lock:
                self._requests += 1
            yield

    @classmethod
    def from_settings(cls, settings: Settings, *, breaker: CircuitBreaker | None = None) -> StateStore:
        return cls(table_client(settings), breaker=breaker)

    def close(self) -> None:
        self._table.close()

    def ensure_table(self) -> None:
        with self._lock:
            if self._table_ready:
                return
            from azure.core.exceptions import ResourceExistsError

            with self._storage("create table"), contextlib.suppress(ResourceExistsError):
                self._table.create_table()
            self._table_ready = True

    # --- notification dedupe ----------------------------------------------------------------------
    def seen_notifications(self, notifications: Iterable[NotificationRef]) -> set[str]:
        """Which of these notifications were already applied."""
        by_partition: dict[str, dict[str, str]] = defaultdict(dict)
        for notification in notifications:
            by_partition[notification.partition][row_key(notification.notification_id)] = (
                notification.notification_id
            )
        seen = set()
        for partition, ids in by_partition.items():
            for entity in self._lookup(partition, list(ids), select=["RowKey"]):
                seen.add(ids[entity["RowKey"]])
        return seen

    def mark_notifications(self, notifications: Iterable[NotificationRef]) -> None:
        """Record notifications as applied."""
        now = utc_now()
        by_partition: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for notification in notifications:
            by_partition[notification.partition].append(
                {
                    "PartitionKey": notification.partition,
                    "RowKey": row_key(notification.notification_id),
                    "OrderId": notification.order_id,
                    "AppliedAt": now,
                }
            )
        self.ensure_table()
        for entities in by_partition.values():
            for chunk in _chunks(entities, _TRANSACTION_LIMIT):
                with self._storage("dedupe write"):
                    self._table.submit_transaction([("upsert", entity) for entity in chunk])

    # --- order checkpoints ----------------------------------------------------------------------------
    def get_order(self, order_id: str) -> OrderCheckpoint | None:
        return self.get_orders([order_id]).get(order_id)

    def get_orders(self, order_ids: Iterable[str]) -> dict[str, OrderCheckpoint]:
        """The checkpoints that exist for these orders, by order id."""
        by_partition: dict[str, dict[str, str]] = defaultdict(dict)
        for order_id in order_ids:
            by_partition[order_partition(order_id)][row_key(order_id)] = order_id
        found: dict[str, OrderCheckpoint] = {}
        for partition, ids in by_partition.items():
            for entity in self._lookup(partition, list(ids)):
                order_id = ids[entity["RowKey"]]
                found[order_id] = _checkpoint(order_id, entity)
        return found

    def claim(
        self, current: OrderCheckpoint | None, order_id: str, *, content_hash: str, owner: str
    ) -> OrderCheckpoint:
        """Mark one write as under way, conditional on `current` being what is stored."""
        return _one(self.claim_all([Claim(current, order_id, content_hash, owner)])[order_id])

    def claim_all(self, claims: Sequence[Claim]) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        """Claim many orders at once; each succeeds or fails on its own ETag."""
        now = utc_now()
        writes = []
        for claim in claims:
            base = claim.current or OrderCheckpoint(order_id=claim.order_id)
            claimed = replace(base, pending=PendingWrite(claim.content_hash, claim.owner, now))
            writes.append((claimed, claim.current is None))
        return self._save_all(writes)

    def commit_all(
        self, commits: Sequence[tuple[OrderCheckpoint, AppliedOrder]]
    ) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        """Record each claimed write as done and clear its claim."""
        return self._save_all(
            [(replace(claimed, applied=applied, pending=None), False) for claimed, applied in commits]
        )

    def expire_claim(self, claimed: OrderCheckpoint) -> OrderCheckpoint:
        """Keep the claim pending (the CRM may be half-written, so the next attempt repairs) but end its
        lease now: whoever tries next repairs at once instead of waiting for an owner that has given up."""
        assert claimed.pending is not None
        return _one(
            self._save_all([(replace(claimed, pending=replace(claimed.pending, since=None)), False)])[
                claimed.order_id
            ]
        )

    def release(self, claimed: OrderCheckpoint) -> OrderCheckpoint:
        """Give up a claim after a permanent failure, so no repair is attempted for it."""
        return _one(self._save_all([(replace(claimed, pending=None), False)])[claimed.order_id])

    # --- Table Storage calls ----------------------------------------------------------------------------
    def _lookup(
        self, partition: str, row_keys: list[str], *, select: list[str] | None = None
    ) -> Iterator[Any]:
        """Rows of `partition` with these row keys, 14 keys per query."""
        self.ensure_table()
        for chunk in _chunks(row_keys, _KEYS_PER_QUERY):
            parameters = {"pk": partition, **{f"r{index}": key for index, key in enumerate(chunk)}}
            # Spaces around the parentheses: the SDK finds @parameters by splitting on spaces.
            keys = " or ".join(f"RowKey eq @r{index}" for index in range(len(chunk)))
            with self._storage("lookup"):
                rows = list(
                    self._table.query_entities(
                        f"PartitionKey eq @pk and ( {keys} )", parameters=parameters, select=select
                    )
                )
            yield from rows

    def _save_all(
        self, writes: Sequence[tuple[OrderCheckpoint, bool]]
    ) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        """Conditional writes (create, or replace if the ETag still matches), one transaction per partition.
        A transaction fails as a whole when one row lost its race; then each row is written on its own so
        the others still go through."""
        self.ensure_table()
        results: dict[str, OrderCheckpoint | ConcurrentUpdate] = {}
        by_partition: dict[str, list[tuple[OrderCheckpoint, bool]]] = defaultdict(list)
        for checkpoint, create in writes:
            by_partition[order_partition(checkpoint.order_id)].append((checkpoint, create))
        for group in by_partition.values():
            for chunk in _chunks(group, _TRANSACTION_LIMIT):
                etags = self._transaction(chunk) if len(chunk) > 1 else None
                if etags is None:
                    for checkpoint, create in chunk:
                        results[checkpoint.order_id] = self._save(checkpoint, create=create)
                else:
                    for (checkpoint, _), etag in zip(chunk, etags, strict=True):
                        results[checkpoint.order_id] = replace(checkpoint, etag=etag)
        return results

    def _transaction(self, chunk: Sequence[tuple[OrderCheckpoint, bool]]) -> list[str | None] | None:
        """The rows' new ETags, or None when one of them lost its race (nothing was written then)."""
        from azure.data.tables import TableTransactionError

        with self._storage("checkpoint transaction"):
            try:
                answers = self._table.submit_transaction(
                    [_operation(checkpoint, create) for checkpoint, create in chunk]
                )
            except TableTransactionError:
                log.info("Checkpoint transaction lost a race; writing its %d rows one by one", len(chunk))
                return None
        return [answer.get("etag") for answer in answers]

    def _save(self, checkpoint: OrderCheckpoint, *, create: bool) -> OrderCheckpoint | ConcurrentUpdate:
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        _, entity, options = _operation(checkpoint, create)
        with self._storage("checkpoint write"):
            try:
                metadata = (
                    self._table.create_entity(entity)
                    if create
                    else self._table.update_entity(entity, **options)
                )
            except (ResourceExistsError, ResourceModifiedError):
                return ConcurrentUpdate(
                    f"order {checkpoint.order_id}: checkpoint changed by another instance"
                )
        return replace(checkpoint, etag=metadata.get("etag"))


def _one(result: OrderCheckpoint | ConcurrentUpdate) -> OrderCheckpoint:
    if isinstance(result, ConcurrentUpdate):
        raise result
    return result


def _operation(checkpoint: OrderCheckpoint, create: bool) -> tuple[str, dict[str, Any], dict[str, Any]]:
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    entity = _entity(checkpoint)
    if create:
        return ("create", entity, {})
    return (
        "update",
        entity,
        {
            "mode": UpdateMode.REPLACE,
            "etag": checkpoint.etag,
            "match_condition": MatchConditions.IfNotModified,
        },
    )


def _entity(checkpoint: OrderCheckpoint) -> dict[str, Any]:
    """The table row. Column names are the stored format: keep them when the types change."""
    entity: dict[str, Any] = {
        "PartitionKey": order_partition(checkpoint.order_id),
        "RowKey": row_key(checkpoint.order_id),
        "OrderId": checkpoint.order_id,
    }
    applied, pending = checkpoint.applied, checkpoint.pending
    if applied is not None:
        entity.update(
            AppliedUpdated=applied.amazon_updated,
            Status=applied.status.value,
            ContentHash=applied.content_hash,
        )
        if applied.crm_state is not None:
            entity.update(Statecode=applied.crm_state.statecode, Statuscode=applied.crm_state.statuscode)
        if applied.salesorder_id is not None:
            entity["SalesorderId"] = applied.salesorder_id
    if pending is not None:
        entity.update(
            PendingHash=pending.content_hash, PendingOwner=pending.owner, PendingSince=pending.since
        )
    return entity


def _checkpoint(order_id: str, entity: Any) -> OrderCheckpoint:
    metadata = entity.metadata if hasattr(entity, "metadata") else {}
    changed = metadata.get("timestamp")
    return OrderCheckpoint(
        order_id,
        _applied(entity),
        _pending(entity),
        metadata.get("etag"),
        as_utc(changed) if isinstance(changed, datetime) else None,
    )


def _applied(entity: Any) -> AppliedOrder | None:
    updated, status, content_hash = (
        entity.get("AppliedUpdated"),
        entity.get("Status"),
        entity.get("ContentHash"),
    )
    if not isinstance(updated, datetime) or not content_hash or status not in _STATUSES:
        return None  # never written (a first claim), or a row this version cannot read: write it again
    statecode, statuscode = entity.get("Statecode"), entity.get("Statuscode")
    crm_state = (
        CrmState(int(statecode), int(statuscode))
        if statecode is not None and statuscode is not None
        else None
    )
    return AppliedOrder(
        as_utc(updated), OrderStatus(status), str(content_hash), crm_state, entity.get("SalesorderId")
    )


_STATUSES = frozenset(status.value for status in OrderStatus)


def _pending(entity: Any) -> PendingWrite | None:
    content_hash, owner, since = (
        entity.get("PendingHash"),
        entity.get("PendingOwner"),
        entity.get("PendingSince"),
    )
    if not content_hash:
        return None
    return PendingWrite(
        str(content_hash), str(owner or ""), as_utc(since) if isinstance(since, datetime) else utc_now()
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
