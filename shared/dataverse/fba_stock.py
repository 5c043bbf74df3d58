"""Amazon's fulfillable FBA quantities into the CRM: one row per product and marketplace in the custom FBA
stock table, upserted by its alternate key in one $batch (each row its own operation: one bad row does not
hold up the others).

Rows are addressed by their key value (mapping/fba_stock.py: a marketplace id and a product GUID, never a SKU,
which may hold characters Dataverse cannot address by key), so every row is written without a read first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.dataverse import odata
from shared.dataverse.batch import MAX_OPERATIONS, Operation, OperationResponse
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import error_from_response
from shared.errors import SyncError
from shared.model.crm import RecordWrite


@dataclass(frozen=True)
class StockWritten:
    record: RecordWrite


class CrmFbaStock:
    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    def write(self, records: Sequence[RecordWrite]) -> list[StockWritten | SyncError]:
        """Upsert each record; results in the order given (a transient batch failure raises)."""
        results: list[StockWritten | SyncError] = []
        for start in range(0, len(records), MAX_OPERATIONS):
            chunk = records[start : start + MAX_OPERATIONS]
            operations = [self._upsert(record) for record in chunk]
            responses = self._client.batch(operations, idempotent=True, continue_on_error=True)
            for index, record in enumerate(chunk):
                response = responses[index] if index < len(responses) else None
                results.append(_result(record, response))
        return results

    def _upsert(self, record: RecordWrite) -> Operation:
        body = dict(record.fields)
        for navigation, target in record.binds.items():
            body[f"{navigation}@odata.bind"] = odata.bind(target.entity_set, target.key)
        return Operation("PATCH", odata.entity_path(record.entity_set, dict(record.key)), body)


def _result(record: RecordWrite, response: object) -> StockWritten | SyncError:
    if isinstance(response, OperationResponse) and response.ok:
        return StockWritten(record)
    if isinstance(response, OperationResponse):
        return error_from_response(response.status, response.body, response.headers, what="FBA stock upsert")
    return error_from_response(500, None, what="FBA stock upsert (no answer for it in the batch)")
