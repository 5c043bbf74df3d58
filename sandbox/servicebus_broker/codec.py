"""AMQP message encoding for the stand-in: batch envelopes in, annotated Service Bus deliveries out.

The SDK sends a ServiceBusMessageBatch as one transfer with message format 0x80013700 whose body is several
data sections, each one a complete encoded message. proton's Python binding neither exposes a delivery's
message format nor keeps more than the last data section of a body, so batches are recognised and split
here by walking the sections with proton.Data: an envelope whose every data section is itself a well-formed
message is a batch. (A single message whose body is an encoded AMQP message would be taken for a batch; no
code in this project sends one.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proton import Data, DataException, Message, symbol, timestamp

from .queues import StoredMessage

# Section descriptors (AMQP 1.0, part 3.2)
_FIRST_SECTION, _LAST_SECTION = 0x70, 0x78  # header ... footer
_HEADER = 0x70
_DATA = 0x75
_AMQP_SEQUENCE, _AMQP_VALUE = 0x76, 0x77

# What Service Bus puts on a message it hands out; the SDK reads each of these (azure.servicebus._common)
SEQUENCE_NUMBER = symbol("x-opt-sequence-number")
ENQUEUED_TIME = symbol("x-opt-enqueued-time")
LOCKED_UNTIL = symbol("x-opt-locked-until")
LOCK_TOKEN = symbol("x-opt-lock-token")
DEAD_LETTER_SOURCE = symbol("x-opt-deadletter-source")
SCHEDULED_ENQUEUE_TIME = symbol("x-opt-scheduled-enqueue-time")
DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION = "DeadLetterErrorDescription"


@dataclass(frozen=True)
class MessageView:
    """A stored message as a test sees it, decoded; taken under the store's lock, so it is a snapshot."""

    sequence_number: int
    message_id: str | None
    correlation_id: str | None
    subject: str | None
    content_type: str | None
    body: Any  # bytes for the SDK's usual data body
    application_properties: dict[str, Any] = field(default_factory=dict)
    enqueued_time: datetime | None = None
    delivery_count: int = 0
    locked_until: datetime | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None
    dead_letter_source: str | None = None


def split_transfer(payload: bytes) -> list[bytes]:
    """The messages one incoming transfer carries: several for an SDK batch, otherwise the payload itself."""
    sections = _sections(payload)
    if sections is None:
        return [payload]
    codes = [code for code, _ in sections]
    if _DATA not in codes or _AMQP_VALUE in codes or _AMQP_SEQUENCE in codes:
        return [payload]
    inner = [_binary_of(raw) for code, raw in sections if code == _DATA]
    if all(_is_message(item) for item in inner):
        return inner
    return [payload]


def decode(raw: bytes) -> Message:
    message = Message()
    message.decode(raw)
    return message


def message_id_of(message: Message) -> str | None:
    # Service Bus message ids are strings; the SDK may send a UUID or ulong, which dedupe on their text.
    return None if message.id is None else str(message.id)


def scheduled_enqueue_time_of(message: Message) -> float | None:
    """When the sender asked Service Bus to enqueue the message (epoch seconds), or None for now. The SDK
    sets the annotation from ServiceBusMessage.scheduled_enqueue_time_utc as an AMQP timestamp (ms)."""
    annotations: dict[Any, Any] = dict(message.annotations or {})
    value = annotations.get(SCHEDULED_ENQUEUE_TIME)
    if value is None:
        return None
    return float(value) / 1000.0


def encode_delivery(stored: StoredMessage, *, lock_token: uuid.UUID | None = None) -> bytes:
    """The message as Service Bus delivers (or returns from peek): the sender's sections plus broker state."""
    # Any: proton annotates Message.properties and friends more narrowly than what it accepts and returns.
    message: Any = decode(stored.raw)
    annotations: dict[Any, Any] = dict(message.annotations or {})
    annotations[SEQUENCE_NUMBER] = stored.sequence_number
    annotations[ENQUEUED_TIME] = _timestamp(stored.enqueued_at)
    if stored.locked_until is not None:
        annotations[LOCKED_UNTIL] = _timestamp(stored.locked_until)
    if stored.dead_letter_source is not None:
        annotations[DEAD_LETTER_SOURCE] = stored.dead_letter_source
    message.annotations = annotations
    if lock_token is not None:
        message.instructions = {**(message.instructions or {}), LOCK_TOKEN: lock_token}
    if stored.dead_letter_source is not None:
        properties = dict(message.properties or {})
        if stored.dead_letter_reason is not None:
            properties[DEAD_LETTER_REASON] = stored.dead_letter_reason
        if stored.dead_letter_description is not None:
            properties[DEAD_LETTER_DESCRIPTION] = stored.dead_letter_description
        message.properties = properties
    encoded = bytes(message.encode())
    body_sections = [raw for code, raw in _sections(encoded) or [] if code != _HEADER]
    return _header(message, stored.delivery_count) + b"".join(body_sections)


def application_properties_of(message: Message) -> dict[str, Any]:
    properties: Any = message.properties  # typed None by proton; a dict or None in fact
    return {str(key): value for key, value in (properties or {}).items()}


def view_of(stored: StoredMessage) -> MessageView:
    message = decode(stored.raw)
    body = message.body
    return MessageView(
        sequence_number=stored.sequence_number,
        message_id=message_id_of(message),
        correlation_id=None if message.correlation_id is None else str(message.correlation_id),
        subject=message.subject,
        content_type=None if message.content_type is None else str(message.content_type),
        body=bytes(body) if isinstance(body, memoryview | bytearray) else body,
        application_properties=application_properties_of(message),
        enqueued_time=datetime.fromtimestamp(stored.enqueued_at, UTC),
        delivery_count=stored.delivery_count,
        locked_until=None
        if stored.locked_until is None
        else datetime.fromtimestamp(stored.locked_until, UTC),
        dead_letter_reason=stored.dead_letter_reason,
        dead_letter_error_description=stored.dead_letter_description,
        dead_letter_source=stored.dead_letter_source,
    )


def _header(message: Message, delivery_count: int) -> bytes:
    """The header section with every field written out.

    proton leaves out fields that hold their default, and pyamqp then reports a missing delivery-count as
    None; Service Bus always writes it. The count is zero-based on the wire and the Python SDK shows it as
    is (the .NET SDK adds one).
    """
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(_HEADER)
    data.put_list()
    data.enter()
    data.put_bool(bool(message.durable))
    data.put_ubyte(message.priority)
    if message.ttl:
        data.put_uint(round(message.ttl * 1000))
    else:
        data.put_null()
    data.put_bool(bool(message.first_acquirer))
    data.put_uint(delivery_count)
    data.exit()
    data.exit()
    return bytes(data.encode())


def _timestamp(epoch_seconds: float) -> timestamp:
    return timestamp(round(epoch_seconds * 1000))


def _sections(payload: bytes) -> list[tuple[int, bytes]] | None:
    """(descriptor code, encoded section) for each section, or None when payload is not a section list."""
    sections: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(payload):
        data = Data()
        try:
            used = data.decode(payload[offset:])
        except DataException:
            return None
        data.rewind()
        if used <= 0 or not data.next() or not data.is_described():
            return None
        data.enter()
        data.next()
        descriptor = data.get_object()
        data.exit()
        if not isinstance(descriptor, int) or not _FIRST_SECTION <= descriptor <= _LAST_SECTION:
            return None
        sections.append((descriptor, payload[offset : offset + used]))
        offset += used
    return sections


def _binary_of(section: bytes) -> bytes:
    data = Data()
    data.decode(section)
    data.rewind()
    data.next()
    data.enter()
    data.next()  # descriptor
    data.next()
    return bytes(data.get_binary())


def _is_message(raw: bytes) -> bool:
    sections = _sections(raw)
    return bool(sections) and any(code in (_DATA, _AMQP_SEQUENCE, _AMQP_VALUE) for code, _ in sections or [])
