"""Unmanaged solutions: `MSCRM.SolutionUniqueName: <name>` makes what a request creates a component of that
solution (learn.microsoft.com webapi/create-update-entity-definitions-using-web-api: "Entities, attributes, and
global option sets ... are all solution components. When you create them you can associate them with a
solution by using the MSCRM.SolutionUniqueName request header"). Service endpoints, steps and step images are
solution-aware rows and are recorded the same way. Components are solutioncomponent rows (read-only through
the API), with componenttype as in the solutioncomponent reference.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .service import Service, Write
from .store import Row

DEFAULT_OPTION_VALUE_PREFIX = 10000  # the default publisher's


class Solutions:
    def __init__(self, service: Service) -> None:
        self.service = service
        service.observers.append(self._record_row)

    def find(self, unique_name: str) -> Row:
        wanted = unique_name.casefold()
        for row in self.service.store.rows("solutions"):
            if str(row.get("uniquename", "")).casefold() == wanted:
                if row.get("ismanaged"):
                    raise errors.invalid_argument(
                        f"Cannot add components to the managed solution '{unique_name}'."
                    )
                return row
        raise errors.DataverseError(
            404, "0x80040217", f"A solution with the unique name '{unique_name}' does not exist."
        )

    def option_value_prefix(self, unique_name: str | None) -> int:
        """The publisher's prefix for choice values of a column created in the solution."""
        if unique_name is None:
            return DEFAULT_OPTION_VALUE_PREFIX
        publisher = self.service.store.get("publishers", self.find(unique_name)["publisherid"])
        prefix = publisher.get("customizationoptionvalueprefix") if publisher else None
        return prefix if isinstance(prefix, int) else DEFAULT_OPTION_VALUE_PREFIX

    def add(
        self, unique_name: str | None, component_type: int, object_id: str, *, metadata: bool = True
    ) -> None:
        if unique_name is None:
            return
        solution = self.find(unique_name)
        for row in self.service.store.rows("solutioncomponents"):
            if row.get("solutionid") == solution["solutionid"] and row.get("objectid") == object_id:
                return
        body: dict[str, Any] = {
            "solutionid@odata.bind": f"/solutions({solution['solutionid']})",
            "objectid": object_id,
            "componenttype": component_type,
            "rootcomponentbehavior": 0,
            "ismetadata": metadata,
        }
        table = self.service.tables["solutioncomponents"]
        self.service.create(table, body, self.service.resolver(None), trusted=True, notify=False)

    def _record_row(self, write: Write) -> None:
        info = write.table.info
        if write.message != "Create" or info is None or info.component_type is None or write.after is None:
            return
        self.add(
            write.context.solution,
            info.component_type,
            str(write.after[write.table.primary_id]),
            metadata=False,
        )
