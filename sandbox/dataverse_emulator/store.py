"""The emulator's rows, their versions, the indexes behind key lookups, and the undo journal that makes a
$batch change set atomic.

Rows are never changed in place: every write stores a new dict. That lets the journal keep the previous
dict as it was and roll a failed change set back in O(changes), whatever the size of the store. Active
alternate keys and document lines by document are indexed, so upserts and totals stay O(1) as a benchmark
grows the store. Tables and key indexes can be added while running (the metadata endpoints do); `tables` is
the live schema, shared with the service and the metadata catalog.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .schema import ColumnType, Table

Row = dict[str, Any]
# Rows reached through a lookup often enough to index: document lines by their document.
INDEXED_LOOKUPS = (("salesorderdetails", "salesorderid"), ("invoicedetails", "invoiceid"))


class Store:
    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.lock = threading.RLock()  # one lock around everything; a change set runs under it
        self._rows: dict[str, dict[str, Row]] = {entity_set: {} for entity_set in tables}
        # entity set -> alternate key columns -> normalised key values -> record id
        self._keys: dict[str, dict[tuple[str, ...], dict[tuple[Any, ...], str]]] = {
            entity_set: {} for entity_set in tables
        }
        # (entity set, lookup column) -> target id -> record ids
        self._children: dict[tuple[str, str], defaultdict[str, set[str]]] = {
            lookup: defaultdict(set) for lookup in INDEXED_LOOKUPS
        }
        # Row versions: one counter for the whole organization, like SQL rowversion behind @odata.etag.
        self._versions = itertools.count(1_000_001)
        self._order_numbers = itertools.count(1000)
        self._journal: list[tuple[str, str, Row | None]] | None = None
        # Organization settings the rules read (basecurrencyid: the first currency created).
        self.organization: dict[str, Any] = {}

    # --- reading ---
    def get(self, entity_set: str, record_id: str) -> Row | None:
        return self._rows[entity_set].get(record_id.lower())

    def rows(self, entity_set: str) -> list[Row]:
        return list(self._rows[entity_set].values())

    def children(self, entity_set: str, column: str, parent_id: str) -> list[Row]:
        """Rows of `entity_set` whose indexed lookup `column` points at `parent_id`."""
        ids = self._children[(entity_set, column)].get(parent_id, set())
        return [self._rows[entity_set][record_id] for record_id in ids]

    def find_by_key(self, table: Table, key: Mapping[str, Any], *, exclude: str | None = None) -> Row | None:
        """The row whose columns equal `key`, text compared case-insensitively as SQL Server's collation does."""
        rows = self._rows[table.entity_set]
        key_columns = table.key_columns(key)
        if key_columns is not None:
            record_id = self._keys[table.entity_set][key_columns].get(_key_values(table, key_columns, key))
            return rows[record_id] if record_id is not None and record_id != exclude else None
        wanted = {name: _normalise(table, name, value) for name, value in key.items()}
        return next(
            (
                row
                for row_id, row in rows.items()
                if row_id != exclude and all(_normalise(table, n, row.get(n)) == v for n, v in wanted.items())
            ),
            None,
        )

    # --- schema changes ---
    def add_table(self, table: Table) -> None:
        self.tables[table.entity_set] = table
        self._rows.setdefault(table.entity_set, {})
        self._keys.setdefault(table.entity_set, {})

    def replace_table(self, table: Table) -> None:
        """Swap in a new definition of a known table (a column or an active key more)."""
        self.tables[table.entity_set] = table

    def duplicate_key_values(self, table: Table, key_columns: tuple[str, ...]) -> bool:
        """Whether two rows share complete values for `key_columns`: a unique index cannot be built then."""
        seen: set[tuple[Any, ...]] = set()
        for row in self._rows[table.entity_set].values():
            values = _complete_key(table, key_columns, row)
            if values is None:
                continue
            if values in seen:
                return True
            seen.add(values)
        return False

    def build_key_index(self, table: Table, key_columns: tuple[str, ...]) -> None:
        index = {
            values: record_id
            for record_id, row in self._rows[table.entity_set].items()
            if (values := _complete_key(table, key_columns, row)) is not None
        }
        self._keys[table.entity_set][key_columns] = index

    def drop_key_index(self, table: Table, key_columns: tuple[str, ...]) -> None:
        self._keys[table.entity_set].pop(key_columns, None)

    # --- writing ---
    def put(self, entity_set: str, row: Row, primary_id: str) -> None:
        record_id = row[primary_id]
        self._remember(entity_set, record_id)
        self._replace(entity_set, record_id, row)

    def remove(self, entity_set: str, record_id: str) -> None:
        self._remember(entity_set, record_id)
        self._replace(entity_set, record_id, None)

    def next_version(self) -> int:
        return next(self._versions)

    def next_order_number(self) -> int:
        return next(self._order_numbers)

    # --- change sets (callers hold `lock` from begin to commit/rollback) ---
    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        """Put back every row written since `begin`; versions already handed out stay used, as in SQL."""
        journal, self._journal = self._journal or [], None
        for entity_set, record_id, previous in reversed(journal):
            self._replace(entity_set, record_id, previous)

    # --- internals ---
    def _remember(self, entity_set: str, record_id: str) -> None:
        if self._journal is not None:
            self._journal.append((entity_set, record_id, self._rows[entity_set].get(record_id)))

    def _replace(self, entity_set: str, record_id: str, row: Row | None) -> None:
        """Swap the stored row (None deletes it) and keep the indexes in step."""
        table = self.tables[entity_set]
        old = self._rows[entity_set].pop(record_id, None)
        if row is not None:
            self._rows[entity_set][record_id] = row
        for key_columns, index in self._keys[entity_set].items():
            if old is not None and (values := _complete_key(table, key_columns, old)) is not None:
                index.pop(values, None)
            if row is not None and (values := _complete_key(table, key_columns, row)) is not None:
                index[values] = record_id
        for (indexed_set, column), children in self._children.items():
            if indexed_set != entity_set:
                continue
            if old is not None and old.get(column):
                children[old[column]].discard(record_id)
            if row is not None and row.get(column):
                children[row[column]].add(record_id)


def _normalise(table: Table, name: str, value: Any) -> Any:
    column = table.columns.get(name)
    if column is not None and column.type is ColumnType.STRING and isinstance(value, str):
        return value.casefold()
    if isinstance(value, str):
        return value.lower()
    return value


def _key_values(table: Table, key_columns: Iterable[str], values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_normalise(table, name, values.get(name)) for name in key_columns)


def _complete_key(
    table: Table, key_columns: tuple[str, ...], row: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The row's key values, or None when one is empty: such rows are not part of the unique key."""
    if any(row.get(name) is None for name in key_columns):
        return None
    return _key_values(table, key_columns, row)
