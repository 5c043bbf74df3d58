"""Every table the emulator starts with, by entity set name: the business tables (from their CDM documents)
and the platform tables the metadata and event endpoints work on. Custom tables join at run time."""

from __future__ import annotations

from ..schema import Table
from . import catalog, customers, events, platform, sales


def build_tables() -> dict[str, Table]:
    tables = [
        sales.salesorder(),
        sales.salesorderdetail(),
        sales.invoice(),
        sales.invoicedetail(),
        customers.contact(),
        customers.account(),
        catalog.product(),
        catalog.pricelevel(),
        catalog.productpricelevel(),
        catalog.uom(),
        catalog.uomschedule(),
        catalog.transactioncurrency(),
        platform.systemuser(),
        platform.organization(),
        platform.publisher(),
        platform.solution(),
        platform.solutioncomponent(),
        events.serviceendpoint(),
        events.sdkmessage(),
        events.sdkmessagefilter(),
        events.sdkmessageprocessingstep(),
        events.sdkmessageprocessingstepimage(),
    ]
    return {table.entity_set: table for table in tables}
