"""RemoteExecutionContext: what Dataverse posts to Service Bus for a registered step, read into a CrmEvent.

Two JSON shapes reach us and both are read:
- the wire format of a service endpoint with messageformat Json (2): .NET's DataContractJsonSerializer writing
  of Microsoft.Xrm.Sdk.RemoteExecutionContext. Collections (InputParameters, images, an entity's Attributes)
  are lists of `{"key": ..., "value": ...}` pairs; values typed `object` carry `"__type": "Money:..."`,
  `"OptionSetValue:..."`, `"EntityReference:..."`, `"Entity:..."`; dates are `"/Date(<ms>[+0000])/"`;
- the same context as a modern serializer writes the object graph (dictionaries, bare values, lookups as
  `{"Id", "LogicalName"}`, ISO dates), which is what a relay or a test that deserialized it first sends.

Why this matters: for an Update the Target holds only the columns the request changed, so keys such as
productnumber come from the post-image the step registered; and a value whose type we do not read (an
EntityCollection, say) must not make the whole event unreadable, so it is read as None.

Anything else is MalformedContext (dead-lettered, never retried), whose message names the field, never a value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.bounded_json import JsonLimits, UnreadableJson, decimal_float, load_object
from shared.errors import PermanentError
from shared.model.crm_events import CrmEvent, CrmRecord, CrmValue, EntityRef
from shared.timeutil import as_utc

# Service Bus Standard's message limit; Dataverse's contexts nest about 6 levels (ParentContext adds one).
LIMITS = JsonLimits(max_bytes=256 * 1024, max_depth=32, max_string=1_048_576)
MAX_ATTRIBUTES = 5000  # a table has at most ~1,000 columns; images are smaller still
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_LOGICAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")
_MESSAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


class MalformedContext(PermanentError):
    """The message is not a RemoteExecutionContext we can read."""

    reason = "MalformedEventContext"


def parse_context(body: bytes | str) -> CrmEvent:
    """Read a RemoteExecutionContext in either JSON shape, or raise MalformedContext saying what is wrong."""
    try:
        data = load_object(body, LIMITS, kind="RemoteExecutionContext", parse_float=decimal_float)
    except UnreadableJson as exc:
        raise MalformedContext(str(exc)) from None
    data_contract = isinstance(data.get("InputParameters"), list)
    pairs = _pairs if data_contract else _mapping
    parameters = pairs(data.get("InputParameters"), "InputParameters")
    entity = _required(data, "PrimaryEntityName", _logical_name)
    return CrmEvent(
        message=_required(data, "MessageName", _message_name),
        entity=entity,
        record_id=_required(data, "PrimaryEntityId", _guid),
        operation_time=_required(data, "OperationCreatedOn", _moment),
        initiating_user_id=_required(data, "InitiatingUserId", _guid),
        user_id=_required(data, "UserId", _guid),
        organization_id=_optional(data, "OrganizationId", _guid) or "",
        correlation_id=_optional(data, "CorrelationId", _guid) or "",
        depth=_optional(data, "Depth", _depth) or 1,
        target=_target(parameters.get("Target"), entity),
        pre_images=_images(pairs(data.get("PreEntityImages"), "PreEntityImages"), "PreEntityImages"),
        post_images=_images(pairs(data.get("PostEntityImages"), "PostEntityImages"), "PostEntityImages"),
    )


# --- collections ----------------------------------------------------------------------------------------
def _pairs(value: Any, where: str) -> dict[str, Any]:
    """A DataContract collection: [{"key": k, "value": v}, ...] (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise MalformedContext(f"{where} is not a list of key/value pairs")
    result: dict[str, Any] = {}
    for index, pair in enumerate(value):
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise MalformedContext(f"{where}.{index} is not a key/value pair")
        result[pair["key"]] = pair.get("value")
    return result


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """The plain shape's collection: a JSON object (absent or null: empty)."""
    if value is None:
        return {}
    if isinstance(value, list):  # a relay may keep one collection in the wire format
        return _pairs(value, where)
    if not isinstance(value, dict):
        raise MalformedContext(f"{where} is not an object")
    return dict(value)


# --- entities ---------------------------------------------------------------------------------------------
def _target(value: Any, entity: str) -> CrmRecord | None:
    """The Target parameter: an Entity (Create, Update) or an EntityReference (Delete: no columns)."""
    if value is None:
        raise MalformedContext("InputParameters has no Target")
    if not isinstance(value, dict):
        raise MalformedContext("InputParameters.Target is not an entity")
    if "Attributes" not in value:
        _reference(value, "InputParameters.Target")  # a Delete's reference must still be one
        return None
    record = _entity(value, "InputParameters.Target")
    if record.logical_name != entity:
        raise MalformedContext("InputParameters.Target is a row of another table than PrimaryEntityName")
    return record


def _images(images: Mapping[str, Any], where: str) -> dict[str, CrmRecord]:
    result = {}
    for alias, image in images.items():
        if not isinstance(image, dict):
            raise MalformedContext(f"{where}.{alias[:60]} is not an entity")
        result[alias] = _entity(image, f"{where}.{alias[:60]}")
    return result


def _entity(value: dict[str, Any], where: str) -> CrmRecord:
    raw_attributes = value.get("Attributes")
    attributes = (
        _pairs(raw_attributes, f"{where}.Attributes")
        if isinstance(raw_attributes, list)
        else _mapping(raw_attributes, f"{where}.Attributes")
    )
    if len(attributes) > MAX_ATTRIBUTES:
        raise MalformedContext(f"{where} has {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}")
    return CrmRecord(
        logical_name=_required(value, "LogicalName", _logical_name, where),
        id=_required(value, "Id", _guid, where),
        attributes={name: _value(item) for name, item in attributes.items()},
        row_version=_optional(value, "RowVersion", _row_version, where),
    )


def _reference(value: Any, where: str) -> EntityRef:
    if not isinstance(value, dict):
        raise MalformedContext(f"{where} is not an entity reference")
    return EntityRef(
        _required(value, "Id", _guid, where), _required(value, "LogicalName", _logical_name, where)
    )


# --- values ---------------------------------------------------------------------------------------------
def _value(value: Any) -> CrmValue:
    """A column's value in either shape; a type nobody here reads (a collection, an aliased value) is None."""
    if value is None or isinstance(value, bool | int | Decimal):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):
        moment = _date(value)
        return moment if moment is not None else value
    if isinstance(value, dict):
        kind = str(value.get("__type", "")).split(":", 1)[0]
        if kind in ("Money", "OptionSetValue") or (not kind and set(value) == {"Value"}):
            inner = value.get("Value")
            return inner if isinstance(inner, int | Decimal) and not isinstance(inner, bool) else None
        if kind == "EntityReference" or (not kind and {"Id", "LogicalName"} <= set(value)):
            try:
                return _reference(value, "a lookup")
            except MalformedContext:
                return None
    return None


def _date(text: str) -> datetime | None:
    """DataContract's "/Date(1700000000000+0000)/": milliseconds since 1970 (UTC; the offset is only shown)."""
    match = _DATE.match(text)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


# --- fields ---------------------------------------------------------------------------------------------
def _required(data: Mapping[str, Any], name: str, read: Any, where: str = "") -> Any:
    found = _optional(data, name, read, where)
    if found is None:
        raise MalformedContext(f"{_path(where, name)} is missing")
    return found


def _optional(data: Mapping[str, Any], name: str, read: Any, where: str = "") -> Any:
    value = data.get(name)
    if value is None:
        return None
    try:
        return read(value)
    except (TypeError, ValueError):
        raise MalformedContext(f"{_path(where, name)} is not {read.__doc__}") from None


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _guid(value: Any) -> str:
    """a GUID"""
    return str(uuid.UUID(str(value))) if isinstance(value, str) else _fail()


def _logical_name(value: Any) -> str:
    """a table's logical name"""
    return value if isinstance(value, str) and _LOGICAL_NAME.match(value) else _fail()


def _message_name(value: Any) -> str:
    """a message name"""
    return value if isinstance(value, str) and _MESSAGE_NAME.match(value) else _fail()


def _moment(value: Any) -> datetime:
    """a date (/Date(ms)/ or ISO 8601)"""
    if not isinstance(value, str):
        raise TypeError
    return _date(value) or as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _depth(value: Any) -> int:
    """a whole number of 1 or more"""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else _fail()


def _row_version(value: Any) -> int:
    """a row version number"""
    text = str(value)
    return int(text) if text.isdigit() and len(text) <= 20 else _fail()


def _fail() -> Any:
    raise ValueError
