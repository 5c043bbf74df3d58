"""A Dataverse Web API emulator for tests and the local sandbox.

    with DataverseEmulator(prefix="new_") as dataverse:
        dataverse.load_seed()
        requests.get(f"{dataverse.service_root}/products?$filter=productnumber eq 'SKU''QUOTE'")

Modules, one job each: schema (tables and columns from the CDM), keys (URL keys), odata_filter ($filter,
$select, $orderby), payload (request bodies), store (rows, versions, change-set undo), service (row
operations), rules (sales and contact behaviour), actions (CancelSalesOrder, FulfillSalesOrder), batch
($batch), responses (wire format), server (routing and HTTP semantics).
"""

from .errors import DataverseError
from .schema import Column, ColumnType, Origin, RequiredLevel, Table, build_tables
from .server import DataverseEmulator

__all__ = [
    "Column",
    "ColumnType",
    "DataverseEmulator",
    "DataverseError",
    "Origin",
    "RequiredLevel",
    "Table",
    "build_tables",
]
