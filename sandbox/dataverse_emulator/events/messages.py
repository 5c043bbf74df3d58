"""The platform's sdkmessage and sdkmessagefilter rows: which messages exist and for which tables a step may
be registered. Read-only through the Web API, as in Dataverse; a new custom table gets its filters.

Only the data messages the emulator raises events for are listed: Create, Update, Delete. Their ids are fixed
per emulator (uuid5) but differ from a real org's, so clients look them up by name
(`sdkmessages?$filter=name eq 'Create'`, `sdkmessagefilters?$filter=primaryobjecttypecode eq 'account' and
_sdkmessageid_value eq <id>`), which is what the documented samples do too.
"""

from __future__ import annotations

import uuid

from ..schema import Table
from ..service import Service

MESSAGES = ("Create", "Update", "Delete")
_NAMESPACE = uuid.UUID("0b8e2f43-95a1-4c63-8f0e-6a9b2d7c5e14")


def message_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessage:{name}"))


def filter_id(message: str, logical_name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessagefilter:{message}:{logical_name}"))


def install(service: Service) -> None:
    """The messages, and a filter per message for every table whose rows the API writes."""
    messages = service.tables["sdkmessages"]
    for name in MESSAGES:
        service.create(
            messages,
            {
                "sdkmessageid": message_id(name),
                "name": name,
                "categoryname": "",
                "isprivate": False,
                "autotransact": True,
            },
            service.resolver(None),
            trusted=True,
            notify=False,
        )
    for table in list(service.tables.values()):
        add_filters(service, table)


def add_filters(service: Service, table: Table) -> None:
    if table.info is not None and not table.info.writable:
        return
    filters = service.tables["sdkmessagefilters"]
    for name in MESSAGES:
        service.create(
            filters,
            {
                "sdkmessagefilterid": filter_id(name, table.logical_name),
                "sdkmessageid@odata.bind": f"/sdkmessages({message_id(name)})",
                "primaryobjecttypecode": table.logical_name,
                "secondaryobjecttypecode": "none",
                "iscustomprocessingstepallowed": True,
                "isvisible": True,
                "availability": 0,
            },
            service.resolver(None),
            trusted=True,
            notify=False,
        )
