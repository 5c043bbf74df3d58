"""Builders of RemoteExecutionContext bodies for tests, written by the Dataverse emulator's own serializer
(the same code that posts them to Service Bus in the sandbox), in either JSON shape."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sandbox.dataverse_emulator import INTEGRATION_USER_ID, ContextShape
from sandbox.dataverse_emulator.callers import BUSINESS_UNIT_ID, ORGANIZATION_ID
from sandbox.dataverse_emulator.events.context import EventFacts, Image, build, serialize
from sandbox.dataverse_emulator.payload import lookup_annotation
from sandbox.dataverse_emulator.tables import build_tables

TABLES = build_tables()
HUMAN_USER_ID = "7d1c3a52-0c3e-4f7e-9a55-0a1b2c3d4e5f"
MOMENT = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def context(
    entity_set: str,
    *,
    message: str = "Update",
    changed: Mapping[str, Any] | None = None,
    post: Mapping[str, Any] | None = None,
    pre: Mapping[str, Any] | None = None,
    record_id: str | None = None,
    user_id: str = HUMAN_USER_ID,
    initiating_user_id: str | None = None,
    when: datetime = MOMENT,
    row_version: int = 1000,
    shape: ContextShape = ContextShape.DATA_CONTRACT,
    lookups: Mapping[str, str] | None = None,
) -> bytes:
    """A context for one write of a row of `entity_set`: `changed` in the Target, `post`/`pre` as images
    (alias "Image"), lookups given as ids with their target tables in `lookups` (column -> logical name)."""
    table = TABLES[entity_set]
    row_id = record_id or str(uuid.uuid4())
    annotations = {lookup_annotation(column): target for column, target in (lookups or {}).items()}

    def image(values: Mapping[str, Any] | None) -> Image | None:
        if values is None:
            return None
        row = {table.primary_id: row_id, **values, **annotations}
        return Image(table, row_id, dict(values), row, str(row_version))

    target = image({**(changed or {}), "modifiedon": when.isoformat()}) if message != "Delete" else None
    facts = EventFacts(
        message=message,
        table=table,
        record_id=row_id,
        target=target,
        pre_images={"Image": i} if (i := image(pre)) is not None else {},
        post_images={"Image": i} if (i := image(post)) is not None else {},
        user_id=user_id,
        initiating_user_id=initiating_user_id or user_id,
        user_agent="tests",
        organization_id=ORGANIZATION_ID,
        organization_name="tests",
        business_unit_id=BUSINESS_UNIT_ID,
        step_id=str(uuid.uuid4()),
        step_name=f"{table.logical_name} {message}",
        correlation_id=str(uuid.uuid4()),
        request_id=str(uuid.uuid4()),
        operation_id=str(uuid.uuid4()),
        created_on=when,
        output_id=row_id if message == "Create" else None,
    )
    return serialize(build(facts, shape), shape)


def as_json(body: bytes) -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(body)
    return loaded


__all__ = ["HUMAN_USER_ID", "INTEGRATION_USER_ID", "MOMENT", "ORGANIZATION_ID", "as_json", "context"]
