"""A Dataverse Web API emulator for tests and the local sandbox.

    with DataverseEmulator(prefix="new_") as dataverse:
        dataverse.load_seed()
        requests.get(f"{dataverse.service_root}/products?$filter=productnumber eq 'SKU''QUOTE'")

Modules, one job each: schema (the shapes of tables and columns), tables/ (the tables the emulator starts
with, from the CDM and the Dataverse reference), metadata/ (definition endpoints and the live schema), keys
(URL keys), odata_filter ($filter, $select, $orderby), payload (request bodies), values (column values), store
(rows, versions, change-set undo), service (row operations), rules (table behaviour), sales (orders and
invoices), actions (CancelSalesOrder, FulfillSalesOrder), invoicing (ConvertSalesOrderToInvoice), solutions
(MSCRM.SolutionUniqueName), callers (who is calling), events/ (steps to Service Bus), batch ($batch),
responses (wire format), routing (HTTP semantics), server (composition and per-request handling).
"""

from .callers import INTEGRATION_USER_ID, SYSTEM_USER_ID, AdfsTokens, Caller, StaticTokens
from .errors import DataverseError
from .events import ContextShape, EventMessage, EventSink, ServiceBusSink
from .metadata import KeyIndexTiming, KeyStatus
from .schema import Column, ColumnType, Origin, RequiredLevel, Table
from .server import DataverseEmulator
from .tables import build_tables

__all__ = [
    "INTEGRATION_USER_ID",
    "SYSTEM_USER_ID",
    "AdfsTokens",
    "Caller",
    "Column",
    "ColumnType",
    "ContextShape",
    "DataverseEmulator",
    "DataverseError",
    "EventMessage",
    "EventSink",
    "KeyIndexTiming",
    "KeyStatus",
    "Origin",
    "RequiredLevel",
    "ServiceBusSink",
    "StaticTokens",
    "Table",
    "build_tables",
]
