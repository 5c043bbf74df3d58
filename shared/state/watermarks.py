"""Progress of long-running reads (the order sweep, backfill jobs, later finance and settlement timers) and the
items they had to give up on, as rows of the state table.

Three kinds of rows, next to the dedupe and checkpoint rows of shared/state/store.py:
- `p-<kind>` partitions: one *progress row* per named process ("orders-sweep", "backfill:<job id>"), plain
  columns the caller chooses. Every change is conditional on the ETag read before it, so two runs that both
  think they own a process cannot both move it: the loser gets ConcurrentUpdate and stops.
- a `Watermark` is a progress row with a known shape: a position (everything changed up to it is applied)
  and, while a read is under way, the window being read and the page token to go on with. Finance
  (postedAfter + nextToken) and settlement listings have the same shape.
- `f-<kind>` partitions: one *failure row* per item that failed permanently (order id, reason, where it was
  met), upserted, so an operator finds them with Storage Explorer or the failures endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.store import ConcurrentUpdate, create_table, row_key, table_call, table_client
from shared.timeutil import as_utc, utc_now

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from shared.config import Settings

log = logging.getLogger(__name__)

Scalar = str | int | float | bool | datetime
_RESERVED = frozenset({"PartitionKey", "RowKey", "Timestamp", "etag"})
_TRANSACTION_LIMIT = 100  # entities per Table Storage transaction (same partition)


@dataclass(frozen=True)
class ProgressRow:
    """One named process's progress: `fields` are plain columns (str, int, float, bool, datetime)."""

    kind: str  # the partition: "orders-sweep", "orders-backfill", ...
    name: str
    fields: Mapping[str, Scalar] = field(default_factory=dict)
    etag: str | None = None  # None: not stored yet (saving creates it)
    updated_at: datetime | None = field(default=None, compare=False)  # Table Storage's Timestamp, as read

    def with_fields(self, **changes: Scalar | None) -> ProgressRow:
        """A copy with these columns set (None removes a column)."""
        merged = {**self.fields, **changes}
        return replace(self, fields={key: value for key, value in merged.items() if value is not None})


@dataclass(frozen=True)
class Window:
    """A time range read page by page; `cursor` is the token of the next page to read (None: the first)."""

    start: datetime
    end: datetime
    cursor: str | None = None
    cursor_issued: datetime | None = None  # page tokens expire (searchOrders: after 24 h)


@dataclass(frozen=True)
class Watermark:
    """Everything changed up to `position` is applied; `window` is the read under way, if one is."""

    row: ProgressRow
    position: datetime
    window: Window | None = None

    @classmethod
    def new(cls, kind: str, name: str, position: datetime) -> Watermark:
        return cls(ProgressRow(kind, name), as_utc(position))

    @classmethod
    def of(cls, row: ProgressRow) -> Watermark:
        values = row.fields
        window = None
        if isinstance(values.get("WindowStart"), datetime) and isinstance(values.get("WindowEnd"), datetime):
            cursor = values.get("Cursor")
            issued = values.get("CursorIssued")
            window = Window(
                as_utc(values["WindowStart"]),  # type: ignore[arg-type]
                as_utc(values["WindowEnd"]),  # type: ignore[arg-type]
                str(cursor) if cursor else None,
                as_utc(issued) if isinstance(issued, datetime) else None,
            )
        return cls(row, as_utc(values["Position"]), window)  # type: ignore[arg-type]

    def to_row(self, **extra: Scalar | None) -> ProgressRow:
        window = self.window
        return self.row.with_fields(
            Position=self.position,
            WindowStart=window.start if window else None,
            WindowEnd=window.end if window else None,
            Cursor=window.cursor if window else None,
            CursorIssued=window.cursor_issued if window else None,
            **extra,
        )


@dataclass(frozen=True)
class FailureRecord:
    """An item given up on: what it is, why (the error's reason and description), and where it was met."""

    item_id: str
    reason: str
    description: str
    source: str  # "orders-sweep", "backfill:<job id> line 57", ...
    failed_at: datetime | None = None


class ProgressStore:
    """Every call goes through the Table Storage breaker (the same one as StateStore's: one dependency).
    A failed call raises StateUnavailable (transient): the run stops and the next one goes on."""

    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self._table = table
        self.breaker = breaker or CircuitBreaker("Table Storage")
        self._table_ready = False

    @classmethod
    def from_settings(cls, settings: Settings, *, breaker: CircuitBreaker | None = None) -> ProgressStore:
        return cls(table_client(settings), breaker=breaker)

    def close(self) -> None:
        self._table.close()

    def _ensure_table(self) -> None:
        if not self._table_ready:
            create_table(self._table, self.breaker)
            self._table_ready = True

    # --- progress rows ----------------------------------------------------------------------------
    def read(self, kind: str, name: str) -> ProgressRow | None:
        from azure.core.exceptions import ResourceNotFoundError

        self._ensure_table()
        with table_call(self.breaker, "progress read"):
            try:
                entity = self._table.get_entity(_progress_partition(kind), row_key(name))
            except ResourceNotFoundError:
                return None
        return _progress_row(kind, entity)

    def read_all(self, kind: str) -> list[ProgressRow]:
        """Every progress row of `kind` (backfill jobs: a handful, so one query)."""
        self._ensure_table()
        with table_call(self.breaker, "progress listing"):
            entities = list(
                self._table.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": _progress_partition(kind)}
                )
            )
        return [_progress_row(kind, entity) for entity in entities]

    def save(self, row: ProgressRow) -> ProgressRow:
        """Create the row (etag None) or replace it if nobody changed it since it was read; ConcurrentUpdate
        otherwise. Returns the row with its new ETag."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        self._ensure_table()
        entity: dict[str, Any] = {
            "PartitionKey": _progress_partition(row.kind),
            "RowKey": row_key(row.name),
            "Name": row.name,
            **{key: value for key, value in row.fields.items() if key not in _RESERVED},
        }
        with table_call(self.breaker, "progress write"):
            try:
                if row.etag is None:
                    metadata = self._table.create_entity(entity)
                else:
                    metadata = self._table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=row.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                raise ConcurrentUpdate(f"progress {row.kind}/{row.name} was changed by another run") from None
        return replace(row, etag=metadata.get("etag"))

    # --- failure rows -----------------------------------------------------------------------------
    def record_failures(self, kind: str, failures: Sequence[FailureRecord]) -> None:
        """Upsert one row per failed item (the latest failure of an item replaces the earlier one)."""
        if not failures:
            return
        self._ensure_table()
        now = utc_now()
        latest = {failure.item_id: failure for failure in failures}
        entities = [
            {
                "PartitionKey": _failure_partition(kind),
                "RowKey": row_key(failure.item_id),
                "ItemId": failure.item_id,
                "Reason": failure.reason,
                "Description": failure.description[:1000],
                "Source": failure.source,
                "FailedAt": failure.failed_at or now,
            }
            for failure in latest.values()
        ]
        for start in range(0, len(entities), _TRANSACTION_LIMIT):
            chunk = entities[start : start + _TRANSACTION_LIMIT]
            with table_call(self.breaker, "failure write"):
                self._table.submit_transaction([("upsert", entity) for entity in chunk])

    def failures(self, kind: str) -> list[FailureRecord]:
        self._ensure_table()
        with table_call(self.breaker, "failure listing"):
            entities = list(
                self._table.query_entities("PartitionKey eq @pk", parameters={"pk": _failure_partition(kind)})
            )
        return [
            FailureRecord(
                str(entity["ItemId"]),
                str(entity.get("Reason", "")),
                str(entity.get("Description", "")),
                str(entity.get("Source", "")),
                as_utc(entity["FailedAt"]) if isinstance(entity.get("FailedAt"), datetime) else None,
            )
            for entity in entities
        ]


def _progress_partition(kind: str) -> str:
    return "p-" + row_key(kind)


def _failure_partition(kind: str) -> str:
    return "f-" + row_key(kind)


def _progress_row(kind: str, entity: Any) -> ProgressRow:
    metadata = entity.metadata if hasattr(entity, "metadata") else {}
    changed = metadata.get("timestamp")
    fields = {
        key: as_utc(value) if isinstance(value, datetime) else value
        for key, value in entity.items()
        if key not in _RESERVED and key != "Name"
    }
    return ProgressRow(
        kind,
        str(entity.get("Name") or entity["RowKey"]),
        fields,
        metadata.get("etag"),
        as_utc(changed) if isinstance(changed, datetime) else None,
    )
