"""RemoteExecutionContext: what Dataverse posts to Service Bus for a registered step, in two shapes.

DATA_CONTRACT is the body of an endpoint with messageformat Json (2): the .NET DataContractJsonSerializer
writing of Microsoft.Xrm.Sdk.RemoteExecutionContext, as learn.microsoft.com shows it (write-listener-application-
azure-solution reads it with DataContractJsonSerializer; the Dynamics 365 Customer Service "unified routing"
articles print full payloads). Its marks:
- members in alphabetical order; collections (InputParameters, images, SharedVariables) as lists of
  `{"key": ..., "value": ...}`;
- values whose declared type is `object` carry `"__type": "<Type>:http://schemas.microsoft.com/xrm/2011/
  Contracts"`: the Target Entity, EntityReference lookups, Money, OptionSetValue; images (declared Entity) don't;
- dates as `"\\/Date(<ms since 1970>)\\/"` (OperationCreatedOn with "+0000"); every "/" escaped as "\\/".

PLAIN is not a Dataverse message format (serviceendpoint.messageformat knows only Binary XML 1, Json 2 and
Text XML 3): it is the same context as a modern JSON serializer writes the object graph, with dictionaries for
the collections and bare values (Money as a number, options as integers, lookups as {Id, LogicalName}, ISO
dates). It exists so a consumer can be tested against both the wire format and an already-deserialized form;
choose it per step with EventPipeline.use_shape().
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..callers import ZERO_GUID
from ..payload import lookup_annotation
from ..schema import LOOKUP_TYPES, OPTION_TYPES, ColumnType, Table
from ..values import json_number, parse_datetime

CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"


class ContextShape(StrEnum):
    DATA_CONTRACT = "datacontract"
    PLAIN = "plain"


@dataclass(frozen=True)
class Image:
    """Row values of one entity image (or the Target): column -> stored value."""

    table: Table
    record_id: str
    values: Mapping[str, Any]
    row: Mapping[str, Any]  # the whole stored row, for lookup annotations
    row_version: str | None = None


@dataclass(frozen=True)
class EventFacts:
    message: str
    table: Table
    record_id: str
    target: Image | None  # None for Delete: its Target is an EntityReference
    pre_images: Mapping[str, Image]
    post_images: Mapping[str, Image]
    user_id: str
    initiating_user_id: str
    user_agent: str
    organization_id: str
    organization_name: str
    business_unit_id: str
    step_id: str
    step_name: str
    correlation_id: str
    request_id: str
    operation_id: str
    created_on: datetime
    stage: int = 40
    mode: int = 1
    depth: int = 1
    output_id: str | None = None  # Create answers with the new id
    shared: Mapping[str, Any] = field(default_factory=dict)


def build(facts: EventFacts, shape: ContextShape) -> dict[str, Any]:
    if shape is ContextShape.PLAIN:
        return _plain(facts)
    context = _data_contract(facts, stage=facts.stage, images=True)
    context["ParentContext"] = _data_contract(facts, stage=30, images=False)
    return context


def serialize(context: Mapping[str, Any], shape: ContextShape) -> bytes:
    text = json.dumps(context, default=json_number, ensure_ascii=False, separators=(",", ":"))
    if shape is ContextShape.DATA_CONTRACT:
        text = text.replace("/", "\\/")  # DataContractJsonSerializer escapes every solidus
    return text.encode("utf-8")


# --- DataContract JSON ------------------------------------------------------------------------------------
def _typed(type_name: str, **members: Any) -> dict[str, Any]:
    return {"__type": f"{type_name}:{CONTRACTS}", **members}


def _pairs(items: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in items.items()]


def _reference(logical_name: str, record_id: str, *, typed: bool) -> dict[str, Any]:
    members: dict[str, Any] = {
        "Id": record_id,
        "KeyAttributes": [],
        "LogicalName": logical_name,
        "Name": None,
        "RowVersion": None,
    }
    return _typed("EntityReference", **members) if typed else members


def _contract_value(image: Image, name: str, value: Any) -> Any:
    column = image.table.columns[name]
    if value is None:
        return None
    if column.type is ColumnType.MONEY:
        return _typed("Money", Value=value)
    if column.type in OPTION_TYPES:
        return _typed("OptionSetValue", Value=value)
    if column.type in LOOKUP_TYPES:
        return _reference(image.row.get(lookup_annotation(name)) or "", value, typed=True)
    if column.type is ColumnType.DATETIME:
        return f"/Date({_milliseconds(value)})/"
    return value


def _contract_entity(image: Image, *, typed: bool) -> dict[str, Any]:
    members = {
        "Attributes": _pairs(
            {name: _contract_value(image, name, value) for name, value in image.values.items()}
        ),
        "EntityState": None,
        "FormattedValues": [],
        "Id": image.record_id,
        "KeyAttributes": [],
        "LogicalName": image.table.logical_name,
        "RelatedEntities": [],
        "RowVersion": image.row_version,
    }
    return _typed("Entity", **members) if typed else members


def _data_contract(facts: EventFacts, *, stage: int, images: bool) -> dict[str, Any]:
    target = (
        _contract_entity(facts.target, typed=True)
        if facts.target is not None
        else _reference(facts.table.logical_name, facts.record_id, typed=True)
    )
    created = f"/Date({int(facts.created_on.timestamp() * 1000)}+0000)/"
    return {
        "BusinessUnitId": facts.business_unit_id,
        "CorrelationId": facts.correlation_id,
        "Depth": facts.depth,
        "InitiatingUserAgent": facts.user_agent,
        "InitiatingUserAzureActiveDirectoryObjectId": ZERO_GUID,
        "InitiatingUserId": facts.initiating_user_id,
        "InputParameters": _pairs({"Target": target}),
        "IsExecutingOffline": False,
        "IsInTransaction": False,
        "IsOfflinePlayback": False,
        "IsolationMode": 1,
        "MessageName": facts.message,
        "Mode": facts.mode,
        "OperationCreatedOn": created,
        "OperationId": facts.operation_id,
        "OrganizationId": facts.organization_id,
        "OrganizationName": facts.organization_name,
        "OutputParameters": _pairs({"id": facts.output_id} if facts.output_id else {}),
        "OwningExtension": {
            "Id": facts.step_id,
            "KeyAttributes": [],
            "LogicalName": "sdkmessageprocessingstep",
            "Name": facts.step_name,
            "RowVersion": None,
        },
        "ParentContext": None,
        "PostEntityImages": _pairs(
            {alias: _contract_entity(image, typed=False) for alias, image in facts.post_images.items()}
            if images
            else {}
        ),
        "PreEntityImages": _pairs(
            {alias: _contract_entity(image, typed=False) for alias, image in facts.pre_images.items()}
            if images
            else {}
        ),
        "PrimaryEntityId": facts.record_id,
        "PrimaryEntityName": facts.table.logical_name,
        "RequestId": facts.request_id,
        "SecondaryEntityName": "none",
        "SharedVariables": _pairs({"IsAutoTransact": True, "AcceptLang": "", **facts.shared}),
        "Stage": stage,
        "UserAzureActiveDirectoryObjectId": ZERO_GUID,
        "UserId": facts.user_id,
    }


# --- plain JSON --------------------------------------------------------------------------------------------
def _plain_value(image: Image, name: str, value: Any) -> Any:
    column = image.table.columns[name]
    if value is None:
        return None
    if column.type in LOOKUP_TYPES:
        return {"Id": value, "LogicalName": image.row.get(lookup_annotation(name))}
    return value


def _plain_entity(image: Image) -> dict[str, Any]:
    return {
        "LogicalName": image.table.logical_name,
        "Id": image.record_id,
        "RowVersion": image.row_version,
        "Attributes": {name: _plain_value(image, name, value) for name, value in image.values.items()},
    }


def _plain(facts: EventFacts) -> dict[str, Any]:
    target = (
        _plain_entity(facts.target)
        if facts.target is not None
        else {"Id": facts.record_id, "LogicalName": facts.table.logical_name}
    )
    return {
        "MessageName": facts.message,
        "PrimaryEntityName": facts.table.logical_name,
        "PrimaryEntityId": facts.record_id,
        "Stage": facts.stage,
        "Mode": facts.mode,
        "Depth": facts.depth,
        "CorrelationId": facts.correlation_id,
        "RequestId": facts.request_id,
        "OperationId": facts.operation_id,
        "OperationCreatedOn": facts.created_on.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "InitiatingUserId": facts.initiating_user_id,
        "InitiatingUserAgent": facts.user_agent,
        "UserId": facts.user_id,
        "OrganizationId": facts.organization_id,
        "OrganizationName": facts.organization_name,
        "BusinessUnitId": facts.business_unit_id,
        "OwningExtension": {
            "Id": facts.step_id,
            "LogicalName": "sdkmessageprocessingstep",
            "Name": facts.step_name,
        },
        "InputParameters": {"Target": target},
        "OutputParameters": {"id": facts.output_id} if facts.output_id else {},
        "PreEntityImages": {alias: _plain_entity(image) for alias, image in facts.pre_images.items()},
        "PostEntityImages": {alias: _plain_entity(image) for alias, image in facts.post_images.items()},
    }


# --- helpers -------------------------------------------------------------------------------------------------
def _milliseconds(value: str) -> int:
    moment = parse_datetime(value)
    return int(moment.timestamp() * 1000) if moment is not None else 0
