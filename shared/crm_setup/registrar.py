"""Applies a Feature to a Dataverse environment through the Web API, idempotently: what exists is left alone
(or, for the endpoint, steps and images, brought to the declared values), what is missing is created. Running it
again changes nothing. `dry_run` only says what it would do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.crm_setup.declarations import ASYNCHRONOUS, IMAGE_ALIAS, POST_IMAGE, POST_OPERATION, Feature, Step
from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import DataverseError, DataverseNotFound

RETURN = {"Prefer": "return=representation"}


class Registrar:
    def __init__(
        self, client: DataverseClient, *, solution: str | None = None, dry_run: bool = False
    ) -> None:
        self._client = client
        self._headers = {"MSCRM.SolutionUniqueName": solution} if solution else {}
        self._dry_run = dry_run
        self.done: list[str] = []  # what was created or changed, one line each

    def apply(self, feature: Feature, endpoint: Mapping[str, Any]) -> list[str]:
        for table in feature.tables:
            name = str(table["SchemaName"]).lower()
            self._ensure(
                f"EntityDefinitions(LogicalName='{name}')", "EntityDefinitions", table, f"table {name}"
            )
        for relationship in feature.relationships:
            schema = relationship["SchemaName"]
            self._ensure(
                f"RelationshipDefinitions(SchemaName='{schema}')",
                "RelationshipDefinitions",
                relationship,
                f"lookup {schema}",
            )
        for column in feature.columns:
            definition = f"EntityDefinitions(LogicalName='{column.table}')"
            self._ensure(
                f"{definition}/Attributes(LogicalName='{column.logical_name}')",
                f"{definition}/Attributes",
                column.body,
                f"column {column.table}.{column.logical_name}",
            )
        for key in feature.keys:
            definition = f"EntityDefinitions(LogicalName='{key.table}')"
            body = {"SchemaName": key.schema_name, "KeyAttributes": list(key.columns)}
            self._ensure(
                f"{definition}/Keys(LogicalName='{key.schema_name.lower()}')",
                f"{definition}/Keys",
                body,
                f"key {key.table}.{key.schema_name}",
            )
        handler = self._upsert_row(
            "serviceendpoints", "serviceendpointid", {"name": endpoint["name"]}, endpoint
        )
        for step in feature.steps:
            self._step(step, handler)
        return self.done

    # --- steps -----------------------------------------------------------------------------------------------
    def _step(self, step: Step, handler: str) -> None:
        message = self._one("sdkmessages", "sdkmessageid", {"name": step.message})
        message_filter = self._one(
            "sdkmessagefilters",
            "sdkmessagefilterid",
            {"primaryobjecttypecode": step.table, "_sdkmessageid_value": message},
        )
        body = {
            "name": step.name,
            "stage": POST_OPERATION,
            "mode": ASYNCHRONOUS,  # Service Bus endpoints take asynchronous steps only
            "rank": 1,
            "supporteddeployment": 0,
            "asyncautodelete": True,  # succeeded system jobs are deleted, as Microsoft recommends
            "filteringattributes": ",".join(step.filtering_attributes) or None,
            "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({handler})",
            "sdkmessageid@odata.bind": f"/sdkmessages({message})",
            "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({message_filter})",
        }
        step_id = self._upsert_row(
            "sdkmessageprocessingsteps", "sdkmessageprocessingstepid", {"name": step.name}, body
        )
        image = {
            "name": IMAGE_ALIAS,
            "entityalias": IMAGE_ALIAS,
            "imagetype": POST_IMAGE,
            "messagepropertyname": "Target",
            "attributes": ",".join(step.image_attributes),
            "sdkmessageprocessingstepid@odata.bind": f"/sdkmessageprocessingsteps({step_id})",
        }
        self._upsert_row(
            "sdkmessageprocessingstepimages",
            "sdkmessageprocessingstepimageid",
            {"_sdkmessageprocessingstepid_value": step_id, "entityalias": IMAGE_ALIAS},
            image,
        )

    # --- helpers ---------------------------------------------------------------------------------------------
    def _ensure(self, path: str, collection: str, body: Mapping[str, Any], what: str) -> None:
        """Create the definition at `collection` unless `path` answers."""
        try:
            self._client.request("GET", path, idempotent=True, what="metadata")
            return
        except DataverseNotFound:
            pass
        self.done.append(f"create {what}")
        if not self._dry_run:
            self._client.request(
                "POST", collection, body=body, headers=self._headers, idempotent=False, what="metadata"
            )

    def _upsert_row(
        self, entity_set: str, id_column: str, match: Mapping[str, Any], body: Mapping[str, Any]
    ) -> str:
        """The row matching `match`, brought to `body`, or created from it; returns its id."""
        found = next(
            iter(self._client.query(entity_set, filter=_conditions(match), select=(id_column,), top=1)), None
        )
        if found is not None:
            row_id = str(found[id_column])
            self.done.append(f"update {entity_set} {body.get('name', row_id)}")
            if not self._dry_run:
                self._client.request(
                    "PATCH",
                    odata.entity_path(entity_set, row_id),
                    body=body,
                    idempotent=True,
                    what=entity_set,
                )
            return row_id
        self.done.append(f"create {entity_set} {body.get('name', '')}")
        if self._dry_run:
            return "00000000-0000-0000-0000-000000000000"
        answer = self._client.request(
            "POST",
            entity_set,
            body=body,
            headers={**RETURN, **self._headers},
            idempotent=False,
            what=entity_set,
        )
        return str(answer.body[id_column])

    def _one(self, entity_set: str, id_column: str, match: Mapping[str, Any]) -> str:
        found = next(
            iter(self._client.query(entity_set, filter=_conditions(match), select=(id_column,), top=1)), None
        )
        if found is None:
            raise DataverseError(f"{entity_set}: nothing matches {sorted(match)}")
        return str(found[id_column])


def _conditions(match: Mapping[str, Any]) -> str:
    parts = []
    for column, value in match.items():
        if odata.is_guid(value):
            parts.append(f"{column} eq {value}")  # GUIDs are bare literals in a filter
        else:
            parts.append(odata.eq(column, value))
    return " and ".join(parts)
