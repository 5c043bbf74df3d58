"""The few Table Storage calls the operations stores make (resync jobs, sync statistics), each behind the
Table Storage circuit breaker, on the app's state table.

Rows are plain dictionaries of columns. Writes that must not lose a concurrent change are conditional on the
ETag read before them (`put`), and the loser gets ConcurrentUpdate; rows that only ever say the same thing
again (an order's resync outcome) are upserted in entity-group transactions (`upsert_all`).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.store import ConcurrentUpdate, create_table, table_call

if TYPE_CHECKING:
    from azure.data.tables import TableClient

TRANSACTION_LIMIT = 100  # entities per Table Storage transaction (same partition)
Row = Mapping[str, Any]


class TableRows:
    def __init__(self, table: TableClient, *, breaker: CircuitBreaker | None = None) -> None:
        self._table = table
        self.breaker = breaker or CircuitBreaker("Table Storage")
        self._table_ready = False

    def close(self) -> None:
        self._table.close()

    def get(self, partition: str, row: str) -> dict[str, Any] | None:
        """The row, or None when it does not exist; its ETag is under "etag"."""
        from azure.core.exceptions import ResourceNotFoundError

        with self._call("read"):
            try:
                entity = self._table.get_entity(partition, row)
            except ResourceNotFoundError:
                return None
        return {**entity, "etag": entity.metadata.get("etag")}

    def query(
        self, query: str, parameters: Mapping[str, Any], *, select: list[str] | None = None
    ) -> list[Any]:
        with self._call("query"):
            return list(self._table.query_entities(query, parameters=dict(parameters), select=select))

    def put(self, entity: Row, *, etag: str | None) -> str | None:
        """Create the row (etag None) or replace it if nobody changed it since it was read; returns the new
        ETag, or raises ConcurrentUpdate."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        with self._call("write"):
            try:
                if etag is None:
                    metadata = self._table.create_entity(dict(entity))
                else:
                    metadata = self._table.update_entity(
                        dict(entity),
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                raise ConcurrentUpdate(
                    f"row {entity['PartitionKey']}/{entity['RowKey']} changed meanwhile"
                ) from None
        etag_after: str | None = metadata.get("etag")
        return etag_after

    def merge(self, entity: Row) -> None:
        """Set these columns of the row (created if missing), leaving its other columns as they are."""
        from azure.data.tables import UpdateMode

        with self._call("merge"):
            self._table.upsert_entity(dict(entity), mode=UpdateMode.MERGE)

    def upsert_all(self, entities: Sequence[Row]) -> None:
        """Create or replace every row, one transaction per partition and 100 rows."""
        by_partition: dict[str, list[Row]] = defaultdict(list)
        for entity in entities:
            by_partition[entity["PartitionKey"]].append(entity)
        for rows in by_partition.values():
            for start in range(0, len(rows), TRANSACTION_LIMIT):
                chunk = rows[start : start + TRANSACTION_LIMIT]
                with self._call("transaction"):
                    self._table.submit_transaction([("upsert", dict(row)) for row in chunk])

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        self._ensure_table()
        with table_call(self.breaker, what):
            yield

    def _ensure_table(self) -> None:
        if not self._table_ready:
            create_table(self._table, self.breaker)
            self._table_ready = True
