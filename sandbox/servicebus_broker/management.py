"""The request/response nodes the SDK talks to: `$cbs` (claims-based auth) and `<entity>/$management`.

A request is a message on a link to the node; the answer goes back on the client's receiving link with the
request's message-id as correlation-id and the status in application properties. The two nodes spell the
status keys differently (`status-code` for $cbs, `statusCode` for $management) and the SDK reads each by
its own name (azure.servicebus._pyamqp.cbs and management_link).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from proton import UNDESCRIBED, Array, Data, Message, int32, symbol, timestamp

from . import addresses, codec
from .queues import Entity, LockLostError, Outcome, QueueStore

RENEW_LOCK = "com.microsoft:renew-lock"
PEEK_MESSAGE = "com.microsoft:peek-message"
UPDATE_DISPOSITION = "com.microsoft:update-disposition"
RECEIVE_BY_SEQUENCE_NUMBER = "com.microsoft:receive-by-sequence-number"

MESSAGE_LOCK_LOST = "com.microsoft:message-lock-lost"
MESSAGE_NOT_FOUND = "com.microsoft:message-not-found"
ARGUMENT_ERROR = "com.microsoft:argument-error"
NOT_IMPLEMENTED = "amqp:not-implemented"

# update-disposition's "disposition-status" values (the SDK's MESSAGE_MGMT_SETTLEMENT_TERM_MAP)
_DISPOSITIONS = {
    "completed": Outcome.COMPLETE,
    "abandoned": Outcome.ABANDON,
    "suspended": Outcome.DEAD_LETTER,
}


class _RequestError(Exception):
    def __init__(self, status: int, condition: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.condition = condition
        self.description = description


def answer_cbs(request: Message, store: QueueStore) -> Message:
    """put-token: any token is good; 202 Accepted, or 404 when the audience names a queue that is not there.

    Service Bus refuses an unknown entity at this step ("Put token failed. status-code: 404"); the Python
    SDK raises that as ServiceBusAuthenticationError.
    """
    audience = str(codec.application_properties_of(request).get("name", ""))
    node = addresses.parse(audience)
    if node is not None and node.entity is not None and not store.ensure_queue(node.entity.queue):
        status, description = 404, f"The messaging entity '{audience}' could not be found."
    else:
        status, description = 202, "Accepted"
    return Message(
        correlation_id=request.id,
        properties={"status-code": int32(status), "status-description": description},
    )


def answer_management(entity: Entity, request: Message, store: QueueStore) -> Message:
    operation = str(codec.application_properties_of(request).get("operation", ""))
    body = _plain_keys(request.body)
    status, payload = 200, None
    try:
        if operation == RENEW_LOCK:
            payload = _renew_lock(store, body)
        elif operation == PEEK_MESSAGE:
            status, payload = _peek(entity, store, body)
        elif operation == UPDATE_DISPOSITION:
            _update_disposition(store, body)
        elif operation == RECEIVE_BY_SEQUENCE_NUMBER:
            # Only deferred messages can be received by sequence number, and the stand-in does not defer.
            raise _RequestError(404, MESSAGE_NOT_FOUND, "No deferred message has that sequence number.")
        else:
            raise _RequestError(501, NOT_IMPLEMENTED, f"The stand-in does not implement {operation!r}.")
    except _RequestError as error:
        return _response(request, error.status, error.description, condition=error.condition)
    return _response(request, status, "OK" if status == 200 else "No Content", body=payload)


def _renew_lock(store: QueueStore, body: dict[str, Any]) -> dict[str, Any]:
    try:
        expiries = [store.renew_lock(token) for token in _lock_tokens(body)]
    except LockLostError as error:
        raise _RequestError(410, MESSAGE_LOCK_LOST, f"The lock {error} is lost or expired.") from error
    stamps = [timestamp(round(expiry * 1000)) for expiry in expiries]
    undescribed: Any = UNDESCRIBED  # the constant proton documents for "no descriptor"; typed too narrowly
    return {"expirations": Array(undescribed, Data.TIMESTAMP, *stamps)}


def _peek(entity: Entity, store: QueueStore, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    try:
        from_sequence_number = int(body.get("from-sequence-number", 1))
        count = int(body.get("message-count", 1))
    except (TypeError, ValueError) as error:
        raise _RequestError(
            400, ARGUMENT_ERROR, "from-sequence-number and message-count must be numbers."
        ) from error
    found = store.peek(entity, from_sequence_number, count)
    if not found:
        return 204, None  # the SDK turns 204 into an empty list
    return 200, {"messages": [{"message": codec.encode_delivery(stored)} for stored in found]}


def _update_disposition(store: QueueStore, body: dict[str, Any]) -> None:
    status = str(body.get("disposition-status", ""))
    outcome = _DISPOSITIONS.get(status)
    if outcome is None:
        raise _RequestError(400, ARGUMENT_ERROR, f"The stand-in does not support disposition {status!r}.")
    reason = body.get("deadletter-reason")
    description = body.get("deadletter-description")
    try:
        for token in _lock_tokens(body):
            store.settle(
                token,
                outcome,
                reason=None if reason is None else str(reason),
                description=None if description is None else str(description),
            )
    except LockLostError as error:
        raise _RequestError(410, MESSAGE_LOCK_LOST, f"The lock {error} is lost or expired.") from error


def _lock_tokens(body: dict[str, Any]) -> list[uuid.UUID]:
    tokens = body.get("lock-tokens")
    elements: Iterable[Any] = tokens.elements if isinstance(tokens, Array) else tokens or []
    try:
        return [token if isinstance(token, uuid.UUID) else uuid.UUID(str(token)) for token in elements]
    except ValueError as error:
        raise _RequestError(400, ARGUMENT_ERROR, "lock-tokens must be UUIDs.") from error


def _plain_keys(body: Any) -> dict[str, Any]:
    return {str(key): value for key, value in body.items()} if isinstance(body, dict) else {}


def _response(
    request: Message,
    status: int,
    description: str,
    *,
    body: dict[str, Any] | None = None,
    condition: str | None = None,
) -> Message:
    properties: dict[str, Any] = {"statusCode": int32(status), "statusDescription": description}
    if condition is not None:
        properties["errorCondition"] = symbol(condition)
    return Message(correlation_id=request.id, properties=properties, body=body)
