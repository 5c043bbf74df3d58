"""The Dataverse definition (metadata) Web API: tables, columns, alternate keys, publishers and solutions.

Reads come back as small typed values; creates take the declarations of shared/model/crm_schema.py and send
them with `MSCRM.SolutionUniqueName`, so everything lands in one unmanaged solution an admin can export.

Why not Microsoft's PowerPlatform-Dataverse-Client (1.1.0, checked with pip): it requires pandas (and so numpy)
in the function app's package for a command that runs once per deployment; its Web API root is fixed at
v9.2, so it cannot reach an on-premises v9.1 org; it adds columns and keys outside any solution (only table
creation takes one); it does not wait for key indexes; and its HTTP layer retries POSTs on network errors,
where ours knows that a create may already have landed (AmbiguousWrite). The operations needed here are a
dozen requests on the client the app already has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import DataverseNotFound
from shared.dataverse.metadata_bodies import (
    attribute_body,
    key_body,
    publisher_body,
    relationship_body,
    solution_body,
    table_body,
)
from shared.model.crm_schema import AlternateKey, Column, CustomTable, Lookup

STRING_CAST = "Microsoft.Dynamics.CRM.StringAttributeMetadata"


class KeyIndexStatus(StrEnum):
    """EntityKeyMetadata.EntityKeyIndexStatus: the key's unique index is built by a background job."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    ACTIVE = "Active"
    FAILED = "Failed"


@dataclass(frozen=True)
class ExistingColumn:
    name: str
    type: str  # AttributeType: String, Memo, Money, DateTime, Lookup, ...


@dataclass(frozen=True)
class ExistingKey:
    name: str
    columns: tuple[str, ...]
    status: KeyIndexStatus


@dataclass(frozen=True)
class TableState:
    name: str
    entity_set: str
    columns: Mapping[str, ExistingColumn]
    keys: tuple[ExistingKey, ...]


@dataclass(frozen=True)
class Publisher:
    id: str
    unique_name: str
    prefix: str  # customizationprefix, without the underscore


@dataclass(frozen=True)
class Solution:
    id: str
    unique_name: str
    publisher_id: str
    managed: bool


class DataverseMetadata:
    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    # --- tables, columns, keys ------------------------------------------------------------------------
    def table(self, name: str) -> TableState | None:
        """The table's columns and keys in one request, or None when the table does not exist."""
        path = (
            f"EntityDefinitions(LogicalName={_named(name)})"
            "?$select=LogicalName,EntitySetName"
            "&$expand=Attributes($select=LogicalName,AttributeType),"
            "Keys($select=LogicalName,KeyAttributes,EntityKeyIndexStatus)"
        )
        try:
            body = self._get(path, "metadata table")
        except DataverseNotFound:
            return None
        columns = {
            item["LogicalName"]: ExistingColumn(item["LogicalName"], str(item.get("AttributeType")))
            for item in body.get("Attributes") or []
        }
        return TableState(
            body["LogicalName"],
            body["EntitySetName"],
            columns,
            tuple(_key(item) for item in body.get("Keys") or []),
        )

    def text_lengths(self, table: str) -> dict[str, int]:
        """MaxLength of every single-line text column (a property of the derived type only, hence the cast)."""
        path = (
            f"EntityDefinitions(LogicalName={_named(table)})/Attributes/{STRING_CAST}"
            "?$select=LogicalName,MaxLength"
        )
        return {
            item["LogicalName"]: int(item["MaxLength"])
            for item in self._get(path, "metadata text lengths").get("value", [])
            if item.get("MaxLength") is not None
        }

    def key_status(self, table: str, key: str) -> KeyIndexStatus:
        path = (
            f"EntityDefinitions(LogicalName={_named(table)})/Keys(LogicalName={_named(key)})"
            "?$select=EntityKeyIndexStatus"
        )
        return KeyIndexStatus(self._get(path, "metadata key status")["EntityKeyIndexStatus"])

    def create_table(self, table: CustomTable, columns: Sequence[Column], solution: str) -> None:
        self._post("EntityDefinitions", table_body(table, list(columns)), solution, "create table")

    def create_column(self, column: Column, solution: str) -> None:
        path = f"EntityDefinitions(LogicalName={_named(column.table)})/Attributes"
        self._post(path, attribute_body(column), solution, "create column")

    def create_lookup(self, lookup: Lookup, solution: str) -> None:
        self._post("RelationshipDefinitions", relationship_body(lookup), solution, "create lookup")

    def create_key(self, key: AlternateKey, solution: str) -> None:
        path = f"EntityDefinitions(LogicalName={_named(key.table)})/Keys"
        self._post(path, key_body(key), solution, "create key")

    # --- publisher and solution --------------------------------------------------------------------------
    def publisher(self, unique_name: str) -> Publisher | None:
        return self._first_publisher(odata.eq("uniquename", unique_name))

    def publisher_with_prefix(self, prefix: str) -> Publisher | None:
        return self._first_publisher(odata.eq("customizationprefix", prefix))

    def create_publisher(self, unique_name: str, friendly_name: str, prefix: str) -> Publisher:
        body = publisher_body(unique_name, friendly_name, prefix)
        return _publisher(self._create_row("publishers", body, "create publisher"))

    def solution(self, unique_name: str) -> Solution | None:
        rows = self._client.query(
            "solutions",
            filter=odata.eq("uniquename", unique_name),
            select=("solutionid", "uniquename", "_publisherid_value", "ismanaged"),
        )
        return next((_solution(row) for row in rows), None)

    def create_solution(self, unique_name: str, friendly_name: str, publisher_id: str) -> Solution:
        body = solution_body(unique_name, friendly_name, publisher_id)
        return _solution(self._create_row("solutions", body, "create solution"))

    # --- transport ----------------------------------------------------------------------------------------
    def _first_publisher(self, condition: str) -> Publisher | None:
        rows = self._client.query(
            "publishers",
            filter=condition,
            select=("publisherid", "uniquename", "customizationprefix"),
            orderby="createdon asc",
        )
        return next((_publisher(row) for row in rows), None)

    def _create_row(self, entity_set: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        answer = self._client.request(
            "POST",
            entity_set,
            body=body,
            headers={"Prefer": "return=representation"},
            idempotent=False,
            what=what,
        )
        row: dict[str, Any] = answer.body
        return row

    def _get(self, path: str, what: str) -> dict[str, Any]:
        body: dict[str, Any] = self._client.request("GET", path, idempotent=True, what=what).body
        return body

    def _post(self, path: str, body: Mapping[str, Any], solution: str, what: str) -> None:
        # Not idempotent: a lost answer surfaces as AmbiguousWrite; running the command again reads first.
        self._client.request(
            "POST",
            path,
            body=body,
            headers={"MSCRM.SolutionUniqueName": solution},
            idempotent=False,
            what=what,
        )


def _named(name: str) -> str:
    """A logical name as a key segment's string literal, quoted and encoded."""
    return odata.encode(odata.literal(name))


def _key(item: Mapping[str, Any]) -> ExistingKey:
    return ExistingKey(
        item["LogicalName"],
        tuple(item.get("KeyAttributes") or ()),
        KeyIndexStatus(item.get("EntityKeyIndexStatus") or KeyIndexStatus.PENDING),
    )


def _publisher(row: Mapping[str, Any]) -> Publisher:
    return Publisher(str(row["publisherid"]), str(row["uniquename"]), str(row["customizationprefix"]))


def _solution(row: Mapping[str, Any]) -> Solution:
    return Solution(
        str(row["solutionid"]),
        str(row["uniquename"]),
        str(row.get("_publisherid_value")),
        bool(row.get("ismanaged")),
    )
