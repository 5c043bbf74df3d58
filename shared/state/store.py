"""Processing state on Azure Table Storage: notification dedupe and per-order checkpoints.

One table, two kinds of rows:
- `n-xx` partitions: one row per NotificationId already applied (SQS delivers at least once and Service
  Bus may redeliver, so the same notification arrives more than once).
- `o-xx` partitions: one checkpoint per Amazon order: the Amazon `lastUpdatedTime` last written to the CRM,
  the content hash of what was written, the CRM state, and a *pending* claim while a write is under way.

Every checkpoint change is conditional on the ETag read before it, so two function instances cannot both
apply the same change: the loser gets ConcurrentUpdate (transient) and its message is redelivered. A
pending claim that outlives its write marks a write that failed half-way; the next delivery repairs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.errors import TransientError
from shared.timeutil import as_utc, utc_now

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from shared.config import Settings

log = logging.getLogger(__name__)

# Table keys may not contain / \ # ? or control characters: those (and %, the escape) are percent-encoded,
# every other printable ASCII character stays readable in Storage Explorer.
_KEY_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in "/\\#?%")
_TRANSACTION_LIMIT = 100  # entities per Table Storage transaction


class ConcurrentUpdate(TransientError):
    """Another instance changed the order's checkpoint first; retry after it finishes."""

    reason = "ConcurrentUpdate"


def row_key(value: str) -> str:
    return quote(value, safe=_KEY_SAFE)


def _partition(kind: str, value: str) -> str:
    return f"{kind}-{hashlib.sha1(value.encode('utf-8'), usedforsecurity=False).hexdigest()[:2]}"


@dataclass(frozen=True)
class OrderCheckpoint:
    order_id: str
    applied_updated: datetime | None = None  # Amazon lastUpdatedTime of the snapshot in the CRM
    status: str | None = None  # canonical status written
    content_hash: str | None = None
    statecode: int | None = None  # where we left the salesorder in Dataverse
    statuscode: int | None = None
    salesorder_id: str | None = None
    pending_hash: str | None = None  # set while a write is under way
    pending_owner: str | None = None  # the message that started it (a redelivery of it repairs at once)
    pending_since: datetime | None = None
    etag: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.pending_hash is not None


class StateStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._table_ready = False
        self._lock = threading.Lock()
        self.requests = 0  # Table Storage calls made, for the benchmark

    @classmethod
    def from_settings(cls, settings: Settings) -> StateStore:
        from azure.data.tables import TableServiceClient

        connection = settings.state_connection_string
        if connection:
            service = TableServiceClient.from_connection_string(connection)
        else:
            from azure.identity import DefaultAzureCredential

            endpoint = settings.state_storage_table_endpoint or ""
            service = TableServiceClient(endpoint=endpoint, credential=DefaultAzureCredential())
        return cls(service.get_table_client(settings.state_table))

    def close(self) -> None:
        self._table.close()

    def ensure_table(self) -> None:
        with self._lock:
            if self._table_ready:
                return
            from azure.core.exceptions import ResourceExistsError

            with contextlib.suppress(ResourceExistsError):
                self._table.create_table()
            self._table_ready = True

    # --- notification dedupe ----------------------------------------------------------------------
    def seen_notifications(self, notification_ids: Iterable[str]) -> set[str]:
        """Which of these notifications were already applied."""
        from azure.core.exceptions import ResourceNotFoundError

        self.ensure_table()
        seen = set()
        for notification_id in dict.fromkeys(notification_ids):
            self.requests += 1
            try:
                self._table.get_entity(
                    _partition("n", notification_id), row_key(notification_id), select=["RowKey"]
                )
            except ResourceNotFoundError:
                continue
            seen.add(notification_id)
        return seen

    def mark_notifications(self, notifications: dict[str, str]) -> None:
        """Record notifications (id -> order id) as applied, one transaction per partition and 100 rows."""
        self.ensure_table()
        by_partition: dict[str, list[dict[str, Any]]] = defaultdict(list)
        now = utc_now()
        for notification_id, order_id in notifications.items():
            partition = _partition("n", notification_id)
            by_partition[partition].append(
                {
                    "PartitionKey": partition,
                    "RowKey": row_key(notification_id),
                    "OrderId": order_id,
                    "AppliedAt": now,
                }
            )
        for entities in by_partition.values():
            for start in range(0, len(entities), _TRANSACTION_LIMIT):
                self.requests += 1
                self._table.submit_transaction(
                    [("upsert", entity) for entity in entities[start : start + _TRANSACTION_LIMIT]]
                )

    # --- order checkpoints ----------------------------------------------------------------------------
    def get_order(self, order_id: str) -> OrderCheckpoint | None:
        from azure.core.exceptions import ResourceNotFoundError

        self.ensure_table()
        self.requests += 1
        try:
            entity = self._table.get_entity(_partition("o", order_id), row_key(order_id))
        except ResourceNotFoundError:
            return None
        return _checkpoint(order_id, entity)

    def claim(
        self, current: OrderCheckpoint | None, order_id: str, *, content_hash: str, owner: str
    ) -> OrderCheckpoint:
        """Mark a write as under way, conditional on `current` being what is stored."""
        base = current or OrderCheckpoint(order_id=order_id)
        claimed = replace(base, pending_hash=content_hash, pending_owner=owner, pending_since=utc_now())
        return self._save(claimed, create=current is None)

    def commit(self, claimed: OrderCheckpoint, **applied: Any) -> OrderCheckpoint:
        """Record the write as done (fields of OrderCheckpoint in `applied`) and clear the claim."""
        done = replace(claimed, pending_hash=None, pending_owner=None, pending_since=None, **applied)
        return self._save(done, create=False)

    def release(self, claimed: OrderCheckpoint) -> OrderCheckpoint:
        """Give up a claim after a permanent failure, so no repair is attempted for it."""
        return self._save(
            replace(claimed, pending_hash=None, pending_owner=None, pending_since=None), create=False
        )

    def _save(self, checkpoint: OrderCheckpoint, *, create: bool) -> OrderCheckpoint:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        self.ensure_table()
        entity = _entity(checkpoint)
        self.requests += 1
        try:
            if create:
                metadata = self._table.create_entity(entity)
            else:
                metadata = self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=checkpoint.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError):
            raise ConcurrentUpdate(
                f"order {checkpoint.order_id}: checkpoint changed by another instance"
            ) from None
        return replace(checkpoint, etag=metadata.get("etag"))


_FIELDS = (
    "applied_updated",
    "status",
    "content_hash",
    "statecode",
    "statuscode",
    "salesorder_id",
    "pending_hash",
    "pending_owner",
    "pending_since",
)


def _entity(checkpoint: OrderCheckpoint) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": _partition("o", checkpoint.order_id),
        "RowKey": row_key(checkpoint.order_id),
        "OrderId": checkpoint.order_id,
    }
    for name in _FIELDS:
        value = getattr(checkpoint, name)
        if value is not None:
            entity[_column(name)] = value
    return entity


def _checkpoint(order_id: str, entity: Any) -> OrderCheckpoint:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = entity.get(_column(name))
        if isinstance(value, datetime):
            value = as_utc(value)
        values[name] = value
    etag = entity.metadata.get("etag") if hasattr(entity, "metadata") else None
    return OrderCheckpoint(order_id=order_id, etag=etag, **values)


def _column(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
