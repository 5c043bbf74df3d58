"""From a write to the messages of the steps registered for it.

For every Create, Update or Delete the service reports, the enabled steps whose message is that message and
whose filter names that table (and, for an Update, whose `filteringattributes` meet a column the request
sent) each produce one message to their service endpoint. Steps run asynchronously after the operation
commits, as Dataverse's asynchronous service does: a message is built when the write happens (its images are
the rows as they were then) but only handed to the sink once the request or change set has committed; a
rolled-back change set sends nothing. Messages go out after the emulator's lock is released, in order.

The acting user (UserId) is the step's impersonating user when it has one, else the user the change was made
as; InitiatingUserId is always the user who sent the request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..callers import BUSINESS_UNIT_ID, ORGANIZATION_ID
from ..service import Service, Write
from ..store import Row
from ..tables.events import CONTRACT_WEBHOOK, FORMAT_JSON, IMAGE_BOTH, IMAGE_POST, IMAGE_PRE, STEP_ENABLED
from .context import ContextShape, EventFacts, Image, build, serialize
from .sinks import (
    CONTENT_TYPES,
    ENTITY_PROPERTY,
    INITIATING_USER_PROPERTY,
    ORGANIZATION_PROPERTY,
    REQUEST_PROPERTY,
    USER_AGENT_PROPERTY,
    USER_PROPERTY,
    EventMessage,
    EventSink,
)

# What the platform sets on every Update, and so finds its way into the Target next to the sent columns.
_UPDATE_STAMPS = ("modifiedon", "modifiedby", "modifiedonbehalfby")


@dataclass(frozen=True)
class Undelivered:
    message: EventMessage | None
    step_id: str
    reason: str


class EventPipeline:
    def __init__(
        self, service: Service, organization: Callable[[], str], organization_name: str = "unqemulator"
    ) -> None:
        self.service = service
        self.organization = organization  # the org's host name, for the Organization property
        self.organization_name = organization_name
        self.sink: EventSink | None = None  # None: messages are only recorded
        self.delivered: list[EventMessage] = []
        self.undelivered: list[Undelivered] = []
        self.default_shape = ContextShape.DATA_CONTRACT
        self._shapes: dict[str, ContextShape] = {}
        self._pending: list[EventMessage | Undelivered] = []
        self._lock = threading.Lock()  # deliveries run outside the store's lock
        service.observers.append(self.observe)

    # --- options -----------------------------------------------------------------------------------------
    def use_shape(self, step_id: str, shape: ContextShape) -> None:
        """The body shape of one step's messages (DATA_CONTRACT unless told otherwise)."""
        self._shapes[step_id.lower()] = shape

    # --- collecting (under the store's lock) -----------------------------------------------------------------
    def observe(self, write: Write) -> None:
        for step in self._steps_for(write):
            self._pending.append(self._message(step, write))

    def mark(self) -> int:
        return len(self._pending)

    def rollback(self, mark: int) -> None:
        del self._pending[mark:]

    def take(self) -> list[EventMessage | Undelivered]:
        pending, self._pending = self._pending, []
        return pending

    # --- delivering (outside the lock) --------------------------------------------------------------------
    def deliver(self, items: Sequence[EventMessage | Undelivered]) -> None:
        with self._lock:
            for item in items:
                if isinstance(item, Undelivered):
                    self.undelivered.append(item)
                    continue
                try:
                    if self.sink is not None:
                        self.sink(item)
                except Exception as exc:  # noqa: BLE001 - Dataverse's job would wait and retry; we record
                    self.undelivered.append(Undelivered(item, item.step_id, f"{type(exc).__name__}: {exc}"))
                else:
                    self.delivered.append(item)

    def redeliver(self) -> None:
        """Send the messages the sink refused again (the asynchronous service retries its failed posts)."""
        with self._lock:
            retry = [u.message for u in self.undelivered if u.message is not None]
            self.undelivered = [u for u in self.undelivered if u.message is None]
        self.deliver(retry)

    # --- matching ---------------------------------------------------------------------------------------------
    def _steps_for(self, write: Write) -> list[Row]:
        store = self.service.store
        found = []
        for step in store.rows("sdkmessageprocessingsteps"):
            if step.get("statecode") != STEP_ENABLED:
                continue
            message = store.get("sdkmessages", step["sdkmessageid"])
            if message is None or message["name"] != write.message:
                continue
            filter_row = (
                store.get("sdkmessagefilters", step["sdkmessagefilterid"])
                if step.get("sdkmessagefilterid")
                else None
            )
            if filter_row is not None and filter_row["primaryobjecttypecode"] != write.table.logical_name:
                continue
            if write.message == "Update" and not _meets_filter(step.get("filteringattributes"), write.sent):
                continue
            found.append(step)
        return sorted(found, key=lambda step: (step.get("rank") or 0, step.get("createdon") or ""))

    # --- building --------------------------------------------------------------------------------------------
    def _message(self, step: Row, write: Write) -> EventMessage | Undelivered:
        endpoint = self.service.store.get("serviceendpoints", step["eventhandler"]) or {}
        message_format = endpoint.get("messageformat")
        # A webhook always receives JSON; a Service Bus endpoint gets the format it was registered with.
        if endpoint.get("contract") != CONTRACT_WEBHOOK and message_format != FORMAT_JSON:
            return Undelivered(
                None,
                step["sdkmessageprocessingstepid"],
                f"messageformat {message_format} ({CONTENT_TYPES.get(message_format or 0, '?')}): the emulator "
                "writes the JSON format (2) only",
            )
        facts = self._facts(step, write)
        shape = self._shapes.get(step["sdkmessageprocessingstepid"], self.default_shape)
        body = serialize(build(facts, shape), shape)
        caller = write.context.caller
        properties = {
            ORGANIZATION_PROPERTY: self.organization(),
            USER_PROPERTY: facts.user_id,
            INITIATING_USER_PROPERTY: facts.initiating_user_id,
            ENTITY_PROPERTY: write.table.logical_name,
            REQUEST_PROPERTY: write.message,
            USER_AGENT_PROPERTY: caller.user_agent,
        }
        return EventMessage(
            endpoint=dict(endpoint),
            step_id=step["sdkmessageprocessingstepid"],
            message=write.message,
            entity=write.table.logical_name,
            record_id=facts.record_id,
            body=body,
            content_type=CONTENT_TYPES[FORMAT_JSON],
            properties=properties,
        )

    def _facts(self, step: Row, write: Write) -> EventFacts:
        table = write.table
        row = write.after if write.after is not None else write.before
        assert row is not None
        record_id = str(row[table.primary_id])
        target = None
        if write.after is not None:
            if write.message == "Create":
                names = [n for n in table.columns if write.after.get(n) is not None or n in write.sent]
            else:
                wanted = {*write.sent, table.primary_id, *_UPDATE_STAMPS}
                names = [n for n in table.columns if n in wanted]
            target = _image(table, write.after, names)
        pre, post = self._images(step, write)
        caller = write.context.caller
        return EventFacts(
            message=write.message,
            table=table,
            record_id=record_id,
            target=target,
            pre_images=pre,
            post_images=post,
            user_id=step.get("impersonatinguserid") or caller.user_id,
            initiating_user_id=caller.initiating_user_id,
            user_agent=caller.user_agent,
            organization_id=ORGANIZATION_ID,
            organization_name=self.organization_name,
            business_unit_id=BUSINESS_UNIT_ID,
            step_id=step["sdkmessageprocessingstepid"],
            step_name=step.get("name") or "",
            correlation_id=write.context.correlation_id,
            request_id=write.context.request_id,
            operation_id=str(uuid.uuid4()),
            created_on=datetime.now(UTC).replace(microsecond=0),
            output_id=record_id if write.message == "Create" else None,
        )

    def _images(self, step: Row, write: Write) -> tuple[dict[str, Image], dict[str, Image]]:
        pre: dict[str, Image] = {}
        post: dict[str, Image] = {}
        for image in self.service.store.rows("sdkmessageprocessingstepimages"):
            if image.get("sdkmessageprocessingstepid") != step["sdkmessageprocessingstepid"]:
                continue
            kind, alias = image["imagetype"], image["entityalias"]
            wanted = _attribute_list(image.get("attributes"))
            if kind in (IMAGE_PRE, IMAGE_BOTH) and write.before is not None:
                pre[alias] = _image(write.table, write.before, _columns(write.table, write.before, wanted))
            if kind in (IMAGE_POST, IMAGE_BOTH) and write.after is not None:
                post[alias] = _image(write.table, write.after, _columns(write.table, write.after, wanted))
        return pre, post


def _image(table: Any, row: Mapping[str, Any], names: list[str]) -> Image:
    version = row.get("versionnumber")
    return Image(
        table,
        str(row[table.primary_id]),
        {name: row.get(name) for name in names},
        row,
        str(version) if version is not None else None,
    )


def _columns(table: Any, row: Mapping[str, Any], wanted: set[str] | None) -> list[str]:
    """An image holds the columns asked for (all when none are named) that have a value."""
    return [n for n in table.columns if row.get(n) is not None and (wanted is None or n in wanted)]


def _attribute_list(text: Any) -> set[str] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return {name.strip().lower() for name in text.split(",") if name.strip()}


def _meets_filter(filtering: Any, sent: frozenset[str]) -> bool:
    wanted = _attribute_list(filtering)
    return wanted is None or bool(wanted & sent)
