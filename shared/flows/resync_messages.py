"""What travels on the resync queue: one message per order of an order-id job and one per SKU of a listings job
(so each is retried, rescheduled or failed on its own), and one message per date-range job.

Message ids are derived from the job and the order or SKU (`resync:<job>:<order or sku>`; a job has one kind),
so a send repeated after a lost acknowledgement is dropped by duplicate detection. Order messages also carry the order id as an application
property: dead-letter listings read identifiers from there when the body is no Amazon notification.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.amazon.listings import SELLER_SKU_PATTERN
from shared.amazon.orders import ORDER_ID_PATTERN
from shared.errors import PermanentError
from shared.servicebus.deadletters.listing import AMAZON_ORDER_ID_PROPERTY
from shared.servicebus.sender import OutgoingMessage
from shared.timeutil import iso_z

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
MAX_MESSAGE_BYTES = 4096  # ours are ~150 bytes; anything larger did not come from POST /api/resync
JOB_ID_PROPERTY = "resync.job_id"


class MalformedResyncMessage(PermanentError):
    reason = "MalformedResyncMessage"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    job_id: str = Field(alias="jobId", pattern=JOB_ID_PATTERN)


class OrderResync(_Message):
    kind: Literal["order"] = "order"
    amazon_order_id: str = Field(alias="amazonOrderId", pattern=ORDER_ID_PATTERN)


class RangeResync(_Message):
    kind: Literal["range"] = "range"
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class SkuResync(_Message):
    """Send the CRM's current stock and prices of one SKU to its listings again (`askedAt`: the job's moment)."""

    kind: Literal["sku"] = "sku"
    sku: str = Field(pattern=SELLER_SKU_PATTERN)
    asked_at: AwareDatetime = Field(alias="askedAt")


ResyncMessage = Annotated[OrderResync | RangeResync | SkuResync, Field(discriminator="kind")]
_READER: TypeAdapter[OrderResync | RangeResync | SkuResync] = TypeAdapter(ResyncMessage)


def order_message(job_id: str, order_id: str) -> OutgoingMessage:
    body = OrderResync(job_id=job_id, amazon_order_id=order_id)
    return OutgoingMessage(
        body=body.model_dump_json(by_alias=True).encode(),
        message_id=f"resync:{job_id}:{order_id}",
        application_properties={JOB_ID_PROPERTY: job_id, AMAZON_ORDER_ID_PROPERTY: order_id},
    )


def range_message(job_id: str, start: datetime, end: datetime) -> OutgoingMessage:
    body = {"kind": "range", "jobId": job_id, "from": iso_z(start), "to": iso_z(end)}
    return OutgoingMessage(
        body=json.dumps(body).encode(),
        message_id=f"resync:{job_id}",
        application_properties={JOB_ID_PROPERTY: job_id},
    )


def sku_message(job_id: str, sku: str, asked_at: datetime) -> OutgoingMessage:
    body = {"kind": "sku", "jobId": job_id, "sku": sku, "askedAt": iso_z(asked_at)}
    return OutgoingMessage(
        body=json.dumps(body).encode(),
        message_id=f"resync:{job_id}:{sku}",
        application_properties={JOB_ID_PROPERTY: job_id},
    )


def read_message(body: bytes) -> OrderResync | RangeResync | SkuResync:
    """The message's job, or MalformedResyncMessage naming the first problem (never the body itself)."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise MalformedResyncMessage(f"message body has {len(body)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        return _READER.validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = "/".join(str(part) for part in first["loc"]) or "body"
        raise MalformedResyncMessage(f"resync message unreadable at {where}: {first['msg']}") from None
