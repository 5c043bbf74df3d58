"""Many independent record writes in few requests: one $batch per group, one atomic change set per unit.

A unit is what must land together (an invoice with its lines and its move to Paid; a transaction row alone).
Every record is an upsert by alternate key, so writing a unit again changes nothing; a unit whose key values
Dataverse cannot address in a URL is looked up by $filter first and written by GUID, or created by POST.

Retries follow the client's rule: a $batch of PATCHes is repeated when its answer is lost; one that creates by
POST or closes a record raises AmbiguousWrite instead (sending it again could create twice, or fail on the
record it closed), and the caller re-reads before trying again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shared.dataverse import odata
from shared.dataverse.batch import MAX_OPERATIONS, ChangeSet, Operation
from shared.dataverse.changesets import (
    Identity,
    add_upsert,
    addressable,
    bind_url,
    is_idempotent,
    primary_key,
    response_error,
)
from shared.dataverse.client import DataverseClient
from shared.errors import SyncError
from shared.model.crm import RecordWrite, Reference


@dataclass(frozen=True)
class StateChange:
    """statecode/statuscode to set once the unit's records are written (an invoice to Paid)."""

    statecode: int
    statuscode: int


@dataclass(frozen=True)
class WriteUnit:
    records: tuple[RecordWrite, ...]
    label: str  # names the unit in errors and logs: ids, never buyer data
    close: StateChange | None = None  # applied to the first record

    @property
    def operations(self) -> int:
        return len(self.records) + (1 if self.close else 0)


class RecordBatches:
    def __init__(self, client: DataverseClient, *, units_per_batch: int = 100) -> None:
        self._client = client
        self._units_per_batch = units_per_batch

    @property
    def client(self) -> DataverseClient:
        return self._client

    def write(self, units: Sequence[WriteUnit]) -> list[SyncError | None]:
        """One result per unit, in the order given: None when it landed, else its error. A transient failure
        of a whole $batch raises (nothing is known about its units)."""
        results: list[SyncError | None] = []
        for chunk in self._chunks(units):
            ids = self._locate(
                [record for unit in chunk for record in unit.records if not addressable(record)]
            )
            changesets = [_changeset(unit, ids) for unit in chunk]
            # A unit that closes its record cannot simply be sent again: the record is read-only once closed.
            idempotent = all(is_idempotent(c) for c in changesets) and not any(u.close for u in chunk)
            responses = self._client.batch(changesets, idempotent=idempotent, continue_on_error=True)
            results += [
                response_error(responses[index] if index < len(responses) else None, what=unit.label)
                for index, unit in enumerate(chunk)
            ]
        return results

    def _chunks(self, units: Sequence[WriteUnit]) -> Iterator[list[WriteUnit]]:
        chunk: list[WriteUnit] = []
        operations = 0
        for unit in units:
            if chunk and (
                len(chunk) >= self._units_per_batch or operations + unit.operations > MAX_OPERATIONS
            ):
                yield chunk
                chunk, operations = [], 0
            chunk.append(unit)
            operations += unit.operations
        if chunk:
            yield chunk

    def _locate(self, records: Sequence[RecordWrite]) -> dict[Identity, str]:
        """GUIDs of the records whose keys cannot go into a URL and that exist already (one query each)."""
        ids: dict[Identity, str] = {}
        for record in records:
            column = primary_key(record.entity_set)
            rows = self._client.query(
                record.entity_set, filter=odata.all_of(record.key), select=(column,), top=1
            )
            found = next(iter(rows), None)
            if found is not None:
                ids[record.identity] = str(found[column])
        return ids


def _changeset(unit: WriteUnit, ids: dict[Identity, str]) -> ChangeSet:
    changeset = ChangeSet()
    references: dict[Identity, str] = {}
    for record in unit.records:
        add_upsert(changeset, record, ids, references)
    if unit.close is not None:
        first = unit.records[0]
        url = bind_url(Reference(first.entity_set, first.key), ids, references).removeprefix("/")
        changeset.add(
            Operation(
                "PATCH",
                url,
                {"statecode": unit.close.statecode, "statuscode": unit.close.statuscode},
                {"If-Match": "*"},
            )
        )
    return changeset
