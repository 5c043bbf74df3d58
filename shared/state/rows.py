"""ETag-guarded rows of one kind in the state table: the machinery the per-listing, per-shipment and
per-FBA-stock stores share (the order store keeps its own, batched for order sync).

Each kind lives in its own partitions (`<prefix>-<n>`, n by hash of the row's name, spreading the load the way
order checkpoints do). Every write is conditional: a new row is created only if it does not exist, an
existing one replaced only if its ETag still matches, so two instances never both apply a change; the loser
gets ConcurrentUpdate (transient: its message comes back later and re-reads).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.store import _KEYS_PER_QUERY, ConcurrentUpdate, _chunks, row_key, table_call

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PARTITIONS = 4
MAX_PAGE = 1000  # Table Storage answers at most 1,000 entities per page


class Rows:
    def __init__(self, table: TableClient, prefix: str, *, breaker: CircuitBreaker | None = None) -> None:
        self._table = table
        self._prefix = prefix
        # Table Storage's breaker, shared with the other stores (a private one when none is given: tests)
        self._breaker = breaker or CircuitBreaker("Table Storage")
        self._ready = False
        self._lock = threading.Lock()
        self.requests = 0  # Table Storage calls (the benchmark prints them)

    def partition(self, name: str) -> str:
        digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).digest()
        return f"{self._prefix}-{digest[0] % PARTITIONS}"

    def read(self, names: Iterable[str]) -> dict[str, Any]:
        """The rows that exist among `names`, by name (14 row keys per query)."""
        by_partition: dict[str, dict[str, str]] = defaultdict(dict)
        for name in names:
            by_partition[self.partition(name)][row_key(name)] = name
        found: dict[str, Any] = {}
        self._ensure_table()
        for partition, keys in by_partition.items():
            for chunk in _chunks(list(keys), _KEYS_PER_QUERY):
                parameters = {"pk": partition, **{f"r{index}": key for index, key in enumerate(chunk)}}
                clause = " or ".join(f"RowKey eq @r{index}" for index in range(len(chunk)))
                for entity in self._query(f"PartitionKey eq @pk and ( {clause} )", parameters):
                    found[keys[entity["RowKey"]]] = entity
        return found

    def write(self, name: str, fields: Mapping[str, Any], etag: str | None) -> str:
        """Create the row (`etag` None) or replace it if unchanged since read; returns the new ETag."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": self.partition(name), "RowKey": row_key(name), **fields}
        self._ensure_table()
        self._count()
        with table_call(self._breaker, "state write"):
            try:
                if etag is None:
                    metadata = self._table.create_entity(entity)
                else:
                    metadata = self._table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                raise ConcurrentUpdate(f"{self._prefix} row changed by another instance") from None
        return str(metadata.get("etag"))

    def where(
        self,
        condition: str,
        parameters: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[Any]:
        """Rows of this kind matching a filter on their own columns (a scan of the kind's partitions); only the
        `select` columns, and no more than `limit` rows in all when given."""
        self._ensure_table()
        left = limit
        for index in range(PARTITIONS):
            if left is not None and left <= 0:
                return
            found = self._query(
                f"PartitionKey eq @pk and {condition}",
                {**parameters, "pk": f"{self._prefix}-{index}"},
                select=select,
                limit=left,
            )
            if left is not None:
                left -= len(found)
            yield from found

    def _query(
        self,
        condition: str,
        parameters: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        self._count()
        options: dict[str, Any] = {}
        if select is not None:
            options["select"] = list(select)
        if limit is not None:
            options["results_per_page"] = min(limit, MAX_PAGE)
        with table_call(self._breaker, "state lookup"):
            entities = self._table.query_entities(condition, parameters=dict(parameters), **options)
            return list(entities if limit is None else itertools.islice(entities, limit))

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _ensure_table(self) -> None:
        with self._lock:
            if self._ready:
                return
            from azure.core.exceptions import ResourceExistsError

            self.requests += 1
            with table_call(self._breaker, "create table"), contextlib.suppress(ResourceExistsError):
                self._table.create_table()
            self._ready = True


def etag_of(entity: Any) -> str | None:
    metadata = getattr(entity, "metadata", None) or {}
    etag = metadata.get("etag")
    return str(etag) if etag else None
