"""The proton event handler: routes links and deliveries between the SDK and the queue store.

Everything here runs on the proton container's thread. Link kinds, by the address the client attaches to:
  `<queue>` / `<queue>/$DeadLetterQueue`  the client sends (we receive) or receives (we send)
  `<topic>`                                the client sends; the store copies to the subscriptions
  `<topic>/Subscriptions/<name>[/$DeadLetterQueue]`  the client receives, as from a queue
  `$cbs`, `<entity>/$management`           request/response nodes (see management.py)
Lock expiry and stalled sends are driven by proton timers, never by sleeping.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from proton import (
    Condition,
    Connection,
    Delivery,
    Endpoint,
    Event,
    Handler,
    Link,
    Message,
    Receiver,
    Sender,
    symbol,
)
from proton.reactor import Container

from . import addresses, codec
from .addresses import Node, NodeKind
from .management import answer_cbs, answer_management
from .queues import Entity, LockLostError, Outcome, QueueStore, SubQueue

if TYPE_CHECKING:
    from proton._reactor import Acceptor  # proton exports no public name for the acceptor's type

_LOG = logging.getLogger(__name__)


class _PeerGoneFilter(logging.Filter):
    """Proton's reactor logs a client that went away without an AMQP close ("Couldn't send:
    BrokenPipeError") as an ERROR. For a broker that is what SDK clients do when a process or test ends,
    not a fault: such records are demoted to DEBUG, everything else passes unchanged."""

    _PEER_GONE = ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(("Couldn't send", "Couldn't recv")) and any(
            name in message for name in self._PEER_GONE
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("proton").addFilter(_PeerGoneFilter())
_T = TypeVar("_T")

MESSAGE_LOCK_LOST = "com.microsoft:message-lock-lost"
NOT_FOUND = "amqp:not-found"
NOT_IMPLEMENTED = "amqp:not-implemented"
DECODE_ERROR = "amqp:decode-error"

# Credit we keep open to each sending client. The SDK waits for credit before its first transfer.
SENDER_CREDIT = 100
# Standard tier's limit: the SDK sizes ServiceBusMessageBatch from the link's max-message-size.
MAX_MESSAGE_SIZE = 256 * 1024
# proton's Python binding decodes delivery tags as UTF-8 text, which binary lock tokens are not; the token is
# kept on the delivery's attachment record instead (proton wrappers store unknown attributes there).
_LOCK_TOKEN_ATTR = "sb_lock_token"
# Time for close frames to go out before the container stops.
_STOP_GRACE_SECONDS = 0.1
# Timers fire a little late rather than early, so an expiry check never races its own deadline.
_TIMER_SLACK_SECONDS = 0.005


@dataclass
class _LinkInfo:
    node: Node
    peek_lock: bool = True  # only for links we send queue messages on
    pending: list[bytes] | None = None  # responses waiting for credit (request/response nodes only)

    @property
    def kind(self) -> NodeKind:
        return self.node.kind

    @property
    def entity(self) -> Entity | None:
        return self.node.entity


@dataclass(frozen=True)
class _Incoming:
    """One message of a transfer: as encoded, with what the store needs to know of it."""

    raw: bytes
    message_id: str | None
    visible_at: float | None  # the scheduled enqueue time (epoch seconds), None for now
    properties: dict[str, Any]  # application properties, which topic subscriptions filter on


@dataclass
class _Held:
    """A transfer held back by stall_sends: stored and acknowledged when the stall ends."""

    delivery: Delivery
    queue: str
    messages: list[_Incoming]


class _Timer(Handler):
    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self._callback = callback

    def on_timer_task(self, event: Event) -> None:
        self._callback()


class BrokerHandler(Handler):
    def __init__(self, store: QueueStore, host: str, port: int, on_listening: Callable[[int], None]) -> None:
        super().__init__()
        self._store = store
        self._host = host
        self._port = port
        self._on_listening = on_listening
        self._container: Container | None = None
        self._acceptor: Acceptor | None = None
        self._connections: set[Connection] = set()
        self._links: dict[Link, _LinkInfo] = {}
        self._held: list[_Held] = []
        self._expiry_timer_at: float | None = None

    # -- container lifecycle --------------------------------------------------------------------------

    def on_reactor_init(self, event: Event) -> None:
        self._container = _present(event.container)
        self._acceptor = self._container.acceptor(self._host, str(self._port), self)
        # proton's Acceptor does not say which port an ephemeral bind got; its socket does.
        self._on_listening(int(self._acceptor._selectable.getsockname()[1]))

    def on_stand_in_stop(self, event: Event) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
        for connection in list(self._connections):
            if not connection.state & Endpoint.LOCAL_CLOSED:
                connection.close()
            # Stop reading: once the close frame is written proton closes the transport, and with it the
            # socket (a socket left to the container's end would stay open).
            if connection.transport is not None:
                connection.transport.close_tail()
        self._links.clear()
        self._held.clear()
        container = _present(self._container)
        container.schedule(_STOP_GRACE_SECONDS, _Timer(container.stop))

    # -- connections, sessions ------------------------------------------------------------------------

    def on_connection_bound(self, event: Event) -> None:
        # The SDK's only mechanism is ANONYMOUS, followed by a $cbs put-token (Service Bus also offers PLAIN,
        # MSSBCBS and EXTERNAL). proton's wheel has no Cyrus SASL, and its built-in server side cannot check
        # PLAIN, so the stand-in offers ANONYMOUS alone rather than a mechanism that always fails.
        self._connections.add(_present(event.connection))
        sasl = _present(event.transport).sasl()
        sasl.allowed_mechs("ANONYMOUS")

    def on_connection_remote_open(self, event: Event) -> None:
        connection = _present(event.connection)
        if connection.state & Endpoint.LOCAL_UNINIT:
            connection.open()

    def on_session_remote_open(self, event: Event) -> None:
        session = _present(event.session)
        if session.state & Endpoint.LOCAL_UNINIT:
            session.open()

    def on_session_remote_close(self, event: Event) -> None:
        session = _present(event.session)
        self._forget(lambda link: link.session == session)
        if not session.state & Endpoint.LOCAL_CLOSED:
            session.close()

    def on_connection_remote_close(self, event: Event) -> None:
        connection = _present(event.connection)
        self._forget(lambda link: link.connection == connection)
        if not connection.state & Endpoint.LOCAL_CLOSED:
            connection.close()

    def on_transport_closed(self, event: Event) -> None:
        connection = event.connection
        if connection is not None:
            self._connections.discard(connection)
            self._forget(lambda link: link.connection == connection)

    # -- links ----------------------------------------------------------------------------------------

    def on_link_remote_open(self, event: Event) -> None:
        link = _present(event.link)
        address = (link.remote_source if link.is_sender else link.remote_target).address
        info = self._classify(address, receiving=isinstance(link, Sender))
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if info is None:
            # An attach that echoes the terminus, then a detach with amqp:not-found: pyamqp drops a detach
            # whose attach had no source/target (reporting an unknown error), and with it the condition.
            link.open()
            link.condition = _condition(NOT_FOUND, f"The messaging entity '{address}' could not be found.")
            link.close()
            return
        if isinstance(link, Sender):
            # PEEK_LOCK attaches with snd-settle-mode unsettled, RECEIVE_AND_DELETE with settled.
            info.peek_lock = link.remote_snd_settle_mode != Link.SND_SETTLED
            link.snd_settle_mode = link.remote_snd_settle_mode
            link.rcv_settle_mode = link.remote_rcv_settle_mode
        else:
            link.max_message_size = MAX_MESSAGE_SIZE
        if info.kind is not NodeKind.QUEUE:
            info.pending = []
        self._links[link] = info
        link.open()
        if isinstance(link, Receiver):
            link.flow(SENDER_CREDIT)

    def on_link_remote_close(self, event: Event) -> None:
        link = _present(event.link)
        self._links.pop(link, None)
        if not link.state & Endpoint.LOCAL_CLOSED:
            link.close()

    def on_link_flow(self, event: Event) -> None:
        link = _present(event.link)
        info = self._links.get(link)
        if info is None or not isinstance(link, Sender):
            return
        if info.kind is NodeKind.QUEUE and info.entity is not None:
            self._pump(info.entity)
        else:
            self._flush_responses(link, info)

    # -- deliveries -----------------------------------------------------------------------------------

    def on_delivery(self, event: Event) -> None:
        link, delivery = _present(event.link), _present(event.delivery)
        info = self._links.get(link)
        if isinstance(link, Sender):
            self._on_disposition(delivery, info)
            return
        if info is None or not isinstance(link, Receiver) or not delivery.readable or delivery.partial:
            return
        payload = link.recv(delivery.pending) or b""
        link.advance()
        link.flow(1)
        if info.kind is NodeKind.QUEUE and info.entity is not None:
            self._on_incoming_message(delivery, info.entity.queue, payload)
        else:
            self._on_request(link, delivery, info, payload)

    def _on_incoming_message(self, delivery: Delivery, queue: str, payload: bytes) -> None:
        condition = self._store.take_send_failure(queue)
        if condition is not None:
            refusal = _condition(condition, "Refused by the stand-in (fail_next_sends).")
            _settle(delivery, Delivery.REJECTED, refusal)
            return
        try:
            decoded = [(raw, codec.decode(raw)) for raw in codec.split_transfer(payload)]
            messages = [
                _Incoming(
                    raw,
                    codec.message_id_of(message),
                    codec.scheduled_enqueue_time_of(message),
                    codec.application_properties_of(message),
                )
                for raw, message in decoded
            ]
        except Exception:  # noqa: BLE001  # proton raises its own types for malformed input
            _settle(
                delivery, Delivery.REJECTED, _condition(DECODE_ERROR, "The message could not be decoded.")
            )
            return
        stalled_until = self._store.stalled_until(queue)
        if stalled_until is not None:
            self._held.append(_Held(delivery, queue, messages))
            self._schedule(stalled_until, self._release_held)
            return
        self._store_messages(queue, messages)
        # Duplicates are acknowledged as accepted too: the sender must not learn the difference.
        _settle(delivery, Delivery.ACCEPTED)

    def _store_messages(self, queue: str, messages: list[_Incoming]) -> None:
        dropped = sum(
            not self._store.enqueue(
                queue, item.raw, item.message_id, visible_at=item.visible_at, properties=item.properties
            )
            for item in messages
        )
        if dropped:
            _LOG.debug("Dropped %d duplicate message(s) on %s", dropped, queue)
        receivers = self._store.receivers_of(queue)  # the queue, or every subscription of the topic
        for item in messages:
            if item.visible_at is not None and item.visible_at > time.time():
                self._schedule(item.visible_at, lambda: self._pump_all(receivers))
        self._pump_all(receivers)

    def _pump_all(self, entities: list[Entity]) -> None:
        for entity in entities:
            self._pump(entity)

    def _release_held(self) -> None:
        still_held: list[_Held] = []
        for held in self._held:
            if self._store.stalled_until(held.queue) is not None:
                still_held.append(held)
                continue
            # Stored even when the sender gave up waiting and went away: a send that timed out may still
            # have landed, as on the real service (duplicate detection then drops the SDK's retry).
            self._store_messages(held.queue, held.messages)
            if _still_open(held.delivery):
                _settle(held.delivery, Delivery.ACCEPTED)
        self._held = still_held

    def _on_disposition(self, delivery: Delivery, info: _LinkInfo | None) -> None:
        if delivery.local_state != 0 or not delivery.remote_state:
            # Already answered, or a bare settle (management responses, receive-and-delete).
            if delivery.settled:
                delivery.settle()
            return
        if info is None or info.kind is not NodeKind.QUEUE or not info.peek_lock:
            delivery.settle()
            return
        lock_token = getattr(delivery, _LOCK_TOKEN_ATTR, None)
        if not isinstance(lock_token, uuid.UUID):
            delivery.settle()
            return
        if delivery.remote_state == Delivery.MODIFIED and delivery.remote.undeliverable:
            # modified + undeliverable-here is how the SDK defers a message.
            refusal = _condition(NOT_IMPLEMENTED, "The stand-in does not defer messages.")
            _settle(delivery, Delivery.REJECTED, refusal)
            return
        outcome, reason, description = _outcome_of(delivery)
        if outcome is None:
            return  # not a terminal outcome (e.g. received): wait for the one that is
        try:
            entity = self._store.settle(lock_token, outcome, reason=reason, description=description)
        except LockLostError:
            _settle(
                delivery, Delivery.REJECTED, _condition(MESSAGE_LOCK_LOST, "The lock on the message is lost.")
            )
            return
        # Echo the outcome applied: with rcv-settle-mode second the SDK waits for this and compares it with
        # what it asked for (modified for abandon, rejected without error for dead-letter).
        if outcome is Outcome.ABANDON:
            delivery.local.failed = True
        _settle(delivery, delivery.remote_state)
        self._pump(entity)
        if outcome is Outcome.ABANDON or outcome is Outcome.DEAD_LETTER:
            self._pump(Entity(entity.queue, SubQueue.DEAD_LETTER))

    # -- request/response nodes -----------------------------------------------------------------------

    def _on_request(self, link: Link, delivery: Delivery, info: _LinkInfo, payload: bytes) -> None:
        try:
            request = codec.decode(payload)
        except Exception:  # noqa: BLE001  # proton raises its own types for malformed input
            _settle(
                delivery, Delivery.REJECTED, _condition(DECODE_ERROR, "The request could not be decoded.")
            )
            return
        if info.kind is NodeKind.CBS:
            response = answer_cbs(request, self._store)
        else:
            assert info.entity is not None
            response = answer_management(info.entity, request, self._store)
        _settle(delivery, Delivery.ACCEPTED)
        self._reply(link, info, request, response)
        if info.kind is NodeKind.MANAGEMENT and info.entity is not None:
            # update-disposition may have freed or dead-lettered messages.
            self._pump(Entity(info.entity.queue))
            self._pump(Entity(info.entity.queue, SubQueue.DEAD_LETTER))
        self._arm_expiry_timer()

    def _reply(
        self, request_link: Link, request_info: _LinkInfo, request: Message, response: Message
    ) -> None:
        # The SDK opens its response link on the request link's session, with the node as source address
        # and (for $management) the request's reply-to as target address.
        candidates = [
            (link, info)
            for link, info in self._links.items()
            if link.is_sender
            and info.pending is not None
            and info.node.path == request_info.node.path
            and link.session == request_link.session
        ]
        if request.reply_to:
            addressed = [
                c for c in candidates if addresses.path_of(c[0].remote_target.address) == request.reply_to
            ]
            candidates = addressed or candidates
        if not candidates:
            _LOG.info("No response link for a request to %s; the response is dropped", request_info.node.path)
            return
        link, info = candidates[0]
        assert info.pending is not None
        info.pending.append(bytes(response.encode()))
        self._flush_responses(link, info)

    @staticmethod
    def _flush_responses(link: Link, info: _LinkInfo) -> None:
        while info.pending and link.credit > 0:
            delivery = link.delivery(str(uuid.uuid4()))
            link.send(info.pending.pop(0))
            link.advance()
            if link.snd_settle_mode == Link.SND_SETTLED:
                delivery.settle()

    # -- handing out queue messages -------------------------------------------------------------------

    def _pump(self, entity: Entity) -> None:
        """Hand available messages of an entity to its receivers, round robin, while they have credit."""
        links = [
            (link, info)
            for link, info in self._links.items()
            if isinstance(link, Sender)
            and info.kind is NodeKind.QUEUE
            and info.entity == entity
            and _usable(link)
        ]
        progress = True
        while progress:
            progress = False
            for link, info in links:
                if link.credit > 0 and self._deliver(link, entity, info.peek_lock):
                    progress = True
        for link, _ in links:
            # A receiver that asked to drain (the SDK does on close) wants its unused credit back now.
            link.drained()
        self._arm_expiry_timer()

    def _deliver(self, link: Sender, entity: Entity, peek_lock: bool) -> bool:
        stored = self._store.acquire(entity, peek_lock=peek_lock)
        if stored is None:
            return False
        # The SDK reads the lock token from the delivery tag: uuid.UUID(bytes_le=tag).
        tag = stored.lock_token.bytes_le if stored.lock_token is not None else uuid.uuid4().bytes_le
        delivery = link.delivery(tag)  # type: ignore[arg-type]  # typed str, but binary tags pass through
        setattr(delivery, _LOCK_TOKEN_ATTR, stored.lock_token)
        link.send(codec.encode_delivery(stored, lock_token=stored.lock_token))
        link.advance()
        if not peek_lock:
            delivery.settle()
        return True

    # -- timers ---------------------------------------------------------------------------------------

    def _arm_expiry_timer(self) -> None:
        deadline = self._store.next_lock_expiry()
        if deadline is None or (self._expiry_timer_at is not None and self._expiry_timer_at <= deadline):
            return
        self._expiry_timer_at = deadline
        self._schedule(deadline, self._expire_locks)

    def _expire_locks(self) -> None:
        self._expiry_timer_at = None
        for entity in self._store.expire_locks():
            self._pump(entity)
            self._pump(Entity(entity.queue, SubQueue.DEAD_LETTER))
        self._arm_expiry_timer()

    def _schedule(self, at: float, callback: Callable[[], None]) -> None:
        assert self._container is not None
        self._container.schedule(max(0.0, at - time.time()) + _TIMER_SLACK_SECONDS, _Timer(callback))

    # -- helpers --------------------------------------------------------------------------------------

    def _classify(self, address: str | None, *, receiving: bool) -> _LinkInfo | None:
        """What a link attaches to; None when there is no such entity (or a client tries to receive from a
        topic itself rather than from one of its subscriptions)."""
        node = addresses.parse(address)
        if node is None or (node.entity is not None and not self._store.ensure_queue(node.entity.queue)):
            return None
        entity = node.entity
        if receiving and entity is not None and self._store.is_topic(entity.queue):
            return None  # clients receive from a topic's subscriptions, never from the topic itself
        return _LinkInfo(node)

    def _forget(self, matches: Callable[[Link], bool]) -> None:
        # Locks of messages handed out on a closing link stay until they expire: the SDK may still settle
        # them through $management (update-disposition), as Service Bus allows.
        for link in [link for link in self._links if matches(link)]:
            del self._links[link]


def _usable(link: Link) -> bool:
    return bool(link.state & Endpoint.LOCAL_ACTIVE and link.state & Endpoint.REMOTE_ACTIVE)


def _present(value: _T | None) -> _T:
    # proton types every event attribute as optional; an event of a given type always carries its object.
    assert value is not None
    return value


def _condition(name: str, description: str) -> Condition:
    # Always with an info map, as Service Bus sends (a tracking id): the SDK's send path reads the error's
    # third field unconditionally, and proton leaves a null info out, which made the SDK hang on a refusal.
    return Condition(name, description, {symbol("com.microsoft:tracking-id"): str(uuid.uuid4())})


def _still_open(delivery: Delivery) -> bool:
    connection = delivery.connection
    return _usable(delivery.link) and bool(connection.state & Endpoint.LOCAL_ACTIVE)


def _settle(delivery: Delivery, state: Any, condition: Condition | None = None) -> None:
    if condition is not None:
        delivery.local.condition = condition
    delivery.update(state)
    delivery.settle()


def _outcome_of(delivery: Delivery) -> tuple[Outcome | None, str | None, str | None]:
    """The settlement a receiver asked for, with dead-letter reason and description; None if not terminal."""
    state = delivery.remote_state
    if state == Delivery.ACCEPTED:
        return Outcome.COMPLETE, None, None
    if state == Delivery.RELEASED:
        return Outcome.RELEASE, None, None
    if state == Delivery.MODIFIED:
        # The SDK abandons with delivery-failed; a modified without it counts no attempt, like released.
        return (Outcome.ABANDON if delivery.remote.failed else Outcome.RELEASE), None, None
    if state == Delivery.REJECTED:
        # Service Bus dead-letters on rejected; the SDK sends com.microsoft:dead-letter with the reason and
        # description in the error's info map.
        condition = delivery.remote.condition
        raw_info = condition.info if condition is not None else None
        info = {str(k): v for k, v in raw_info.items()} if isinstance(raw_info, dict) else {}
        reason, description = info.get("DeadLetterReason"), info.get("DeadLetterErrorDescription")
        return (
            Outcome.DEAD_LETTER,
            None if reason is None else str(reason),
            None if description is None else str(description),
        )
    return None, None, None
