"""The Service Bus stand-in's parts without sockets: queue state on a fake clock, encoding, addresses, $management."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from proton import UNDESCRIBED, Array, Data, Message, symbol

from sandbox.servicebus_broker import addresses, codec, management
from sandbox.servicebus_broker.addresses import NodeKind
from sandbox.servicebus_broker.queues import (
    MAX_DELIVERY_COUNT_EXCEEDED,
    Entity,
    LockLostError,
    Outcome,
    QueueNotFoundError,
    QueueOptions,
    QueueStore,
    StoredMessage,
    SubQueue,
    SubscriptionOptions,
    TopicOptions,
    subscription_path,
)

ORDERS = Entity("orders")
ORDERS_DLQ = Entity("orders", SubQueue.DEAD_LETTER)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_store(clock: FakeClock, **options: Any) -> QueueStore:
    return QueueStore({"orders": QueueOptions(**options)}, clock=clock)


def encoded(body: bytes = b"payload", message_id: str | None = "m-1", **fields: Any) -> bytes:
    message = Message(body=body, id=message_id, **fields)
    message.inferred = True  # a bytes body goes out as a data section, as the SDK sends it
    return bytes(message.encode())


def locked(store: QueueStore, entity: Entity = ORDERS) -> StoredMessage:
    message = store.acquire(entity, peek_lock=True)
    assert message is not None
    assert message.lock_token is not None
    return message


def token_of(message: StoredMessage) -> uuid.UUID:
    assert message.lock_token is not None
    return message.lock_token


# -- QueueStore: sending ----------------------------------------------------------------------------


def test_sequence_numbers_count_up_per_queue(clock):
    """Each queue numbers its messages 1, 2, 3 ... on its own."""
    store = make_store(clock)
    for index in range(3):
        store.enqueue("orders", encoded(message_id=f"o-{index}"), f"o-{index}")
    store.enqueue("returns", encoded(), "r-1")
    assert [m.sequence_number for m in store.messages("orders", SubQueue.ACTIVE)] == [1, 2, 3]
    assert [m.sequence_number for m in store.messages("returns", SubQueue.ACTIVE)] == [1]


def test_a_duplicate_message_id_within_the_window_is_dropped_and_counted(clock):
    """The second message with a message_id seen inside the window is not stored."""
    store = make_store(clock, duplicate_detection_window=timedelta(minutes=10))
    assert store.enqueue("orders", encoded(), "dup") is True
    clock.advance(599)
    assert store.enqueue("orders", encoded(), "dup") is False
    assert store.counts("orders") == {"active": 1, "dead_letter": 0, "locked": 0, "duplicates_dropped": 1}


def test_a_message_id_is_new_again_once_the_window_has_passed(clock):
    """After duplicate_detection_window the same message_id is accepted as a new message."""
    store = make_store(clock, duplicate_detection_window=timedelta(minutes=10))
    store.enqueue("orders", encoded(), "dup")
    clock.advance(601)
    assert store.enqueue("orders", encoded(), "dup") is True
    assert store.counts("orders")["active"] == 2


def test_messages_without_an_id_or_on_a_queue_without_detection_are_never_dropped(clock):
    """Duplicate detection needs a message_id and requires_duplicate_detection."""
    store = QueueStore({"plain": QueueOptions(requires_duplicate_detection=False)}, clock=clock)
    assert store.enqueue("plain", encoded(), "same")
    assert store.enqueue("plain", encoded(), "same")
    assert store.enqueue("orders", encoded(), None)
    assert store.enqueue("orders", encoded(), None)


def test_scripted_send_failures_are_handed_out_once_each_in_order(clock):
    """fail_next_sends queues conditions that take_send_failure consumes one per transfer."""
    store = make_store(clock)
    store.fail_next_sends("orders", 2, "com.microsoft:server-busy")
    assert [store.take_send_failure("orders") for _ in range(3)] == [
        "com.microsoft:server-busy",
        "com.microsoft:server-busy",
        None,
    ]


def test_a_stall_lasts_for_the_given_seconds(clock):
    """stalled_until reports the end of a stall while it lasts and None after."""
    store = make_store(clock)
    store.stall_sends("orders", 2)
    assert store.stalled_until("orders") == clock.now + 2
    clock.advance(2)
    assert store.stalled_until("orders") is None


# -- QueueStore: peek-lock ----------------------------------------------------------------------------


def test_a_locked_message_is_not_handed_out_again(clock):
    """acquire() in peek-lock skips messages another receiver holds."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    store.enqueue("orders", encoded(), "b")
    first, second = locked(store), locked(store)
    assert (first.message_id, second.message_id) == ("a", "b")
    assert store.acquire(ORDERS, peek_lock=True) is None
    assert store.counts("orders")["locked"] == 2


def test_the_lock_lasts_lock_duration(clock):
    """locked_until is now + lock_duration."""
    store = make_store(clock, lock_duration=timedelta(seconds=45))
    store.enqueue("orders", encoded(), "a")
    assert locked(store).locked_until == clock.now + 45


def test_complete_removes_the_message(clock):
    """Completing by lock token deletes the message."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    store.settle(token_of(locked(store)), Outcome.COMPLETE)
    assert store.counts("orders") == {"active": 0, "dead_letter": 0, "locked": 0, "duplicates_dropped": 0}


def test_abandon_counts_a_failed_attempt_and_frees_the_message(clock):
    """Abandon increments delivery_count and the message is the next one handed out."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    store.enqueue("orders", encoded(), "b")
    store.settle(token_of(locked(store)), Outcome.ABANDON)
    again = locked(store)
    assert (again.message_id, again.delivery_count) == ("a", 1)


def test_release_frees_the_message_without_counting_an_attempt(clock):
    """A released message (the SDK releases prefetched ones on close) keeps its delivery_count."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    store.settle(token_of(locked(store)), Outcome.RELEASE)
    assert locked(store).delivery_count == 0


def test_settling_twice_or_with_an_unknown_token_is_a_lost_lock(clock):
    """A lock token works once; afterwards and for made-up tokens the lock is lost."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    token = token_of(locked(store))
    store.settle(token, Outcome.COMPLETE)
    with pytest.raises(LockLostError):
        store.settle(token, Outcome.COMPLETE)
    with pytest.raises(LockLostError):
        store.settle(uuid.uuid4(), Outcome.ABANDON)


def test_an_expired_lock_frees_the_message_as_a_failed_attempt(clock):
    """Past lock_duration the lock is lost, the message is available again and delivery_count grows."""
    store = make_store(clock, lock_duration=timedelta(seconds=30))
    store.enqueue("orders", encoded(), "a")
    token = token_of(locked(store))
    assert store.next_lock_expiry() == clock.now + 30
    clock.advance(30)
    with pytest.raises(LockLostError):
        store.settle(token, Outcome.COMPLETE)  # lost even before the expiry timer ran
    assert store.expire_locks() == {ORDERS}
    assert store.next_lock_expiry() is None
    assert locked(store).delivery_count == 1


def test_renewing_extends_the_lock_from_now(clock):
    """renew_lock() moves locked_until to now + lock_duration; an expired lock cannot be renewed."""
    store = make_store(clock, lock_duration=timedelta(seconds=30))
    store.enqueue("orders", encoded(), "a")
    token = token_of(locked(store))
    clock.advance(20)
    assert store.renew_lock(token) == clock.now + 30
    clock.advance(29)
    assert store.expire_locks() == set()
    assert store.is_locked(token)
    clock.advance(1)
    with pytest.raises(LockLostError):
        store.renew_lock(token)


def test_the_last_allowed_failure_dead_letters_with_max_delivery_count_exceeded(clock):
    """After max_delivery_count failed attempts the message moves to the DLQ with the service's reason."""
    store = make_store(clock, max_delivery_count=3)
    store.enqueue("orders", encoded(), "a")
    for _ in range(3):
        store.settle(token_of(locked(store)), Outcome.ABANDON)
    assert store.counts("orders")["active"] == 0
    [dead] = store.messages("orders", SubQueue.DEAD_LETTER)
    assert (dead.dead_letter_reason, dead.delivery_count, dead.dead_letter_source) == (
        MAX_DELIVERY_COUNT_EXCEEDED,
        3,
        "orders",
    )
    assert dead.dead_letter_description == "Message could not be consumed after 3 delivery attempts."


def test_dead_lettering_keeps_reason_description_and_sequence_number(clock):
    """dead_letter moves the message with the receiver's reason and description; the DLQ has no limit."""
    store = make_store(clock, max_delivery_count=1)
    store.enqueue("orders", encoded(), "a")
    original = locked(store)
    store.settle(token_of(original), Outcome.DEAD_LETTER, reason="Bad", description="SKU unknown")
    dead = locked(store, ORDERS_DLQ)
    assert (dead.sequence_number, dead.dead_letter_reason, dead.dead_letter_description) == (
        1,
        "Bad",
        "SKU unknown",
    )
    store.settle(token_of(dead), Outcome.ABANDON)  # max_delivery_count does not apply to the DLQ
    assert store.counts("orders")["dead_letter"] == 1


def test_receive_and_delete_takes_the_message_away(clock):
    """acquire() without peek-lock removes the message and gives it no lock."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "a")
    taken = store.acquire(ORDERS, peek_lock=False)
    assert taken is not None
    assert taken.lock_token is None
    assert store.counts("orders")["active"] == 0


def test_peek_pages_by_sequence_number_and_includes_locked_messages(clock):
    """peek() returns up to count messages from a sequence number, sorted, without locking."""
    store = make_store(clock)
    for index in range(5):
        store.enqueue("orders", encoded(), f"m-{index}")
    held = {message.sequence_number: message for message in (locked(store) for _ in range(5))}
    assert [m.sequence_number for m in store.peek(ORDERS, 1, 2)] == [1, 2]
    assert [m.sequence_number for m in store.peek(ORDERS, 4, 10)] == [4, 5]
    for sequence_number in (3, 1):  # dead-letter out of sequence order
        store.settle(token_of(held[sequence_number]), Outcome.DEAD_LETTER)
    assert [m.sequence_number for m in store.peek(ORDERS_DLQ, 0, 10)] == [1, 3]


def test_queue_names_are_case_insensitive(clock):
    """Orders and orders are one queue, as entity names are on Service Bus."""
    store = make_store(clock)
    store.enqueue("Orders", encoded(), "a")
    assert store.counts("ORDERS")["active"] == 1


def test_without_auto_create_only_declared_queues_exist(clock):
    """With auto_create_queues=False an undeclared queue is not found."""
    store = QueueStore({"orders": QueueOptions()}, auto_create_queues=False, clock=clock)
    assert store.ensure_queue("orders")
    assert not store.ensure_queue("returns")
    with pytest.raises(QueueNotFoundError):
        store.enqueue("returns", encoded(), "a")


# -- QueueStore: topics --------------------------------------------------------------------------------

AUDIT = Entity(subscription_path("changes", "audit"))
CRM_ONLY = Entity(subscription_path("changes", "crm"))


def topic_store(clock: FakeClock, **topic_options: Any) -> QueueStore:
    subscriptions = {
        "audit": SubscriptionOptions(),
        "crm": SubscriptionOptions(max_delivery_count=2, correlation={"source": "crm"}),
    }
    return QueueStore(topics={"changes": TopicOptions(subscriptions, **topic_options)}, clock=clock)


def test_a_message_sent_to_a_topic_lands_in_each_subscription_its_filter_accepts(clock):
    """Every subscription without a filter gets a copy; a correlation filter takes only matching properties."""
    store = topic_store(clock)
    assert store.enqueue("changes", encoded(message_id="a"), "a", properties={"source": "crm"})
    assert store.enqueue("changes", encoded(message_id="b"), "b", properties={"source": b"amazon"})
    assert [m.message_id for m in store.messages(AUDIT.queue, SubQueue.ACTIVE)] == ["a", "b"]
    assert [m.message_id for m in store.messages(CRM_ONLY.queue, SubQueue.ACTIVE)] == ["a"]


def test_duplicate_detection_is_the_topics_so_no_subscription_gets_a_repeat(clock):
    """The same message id sent twice within the window reaches no subscription the second time."""
    store = topic_store(clock)
    assert store.enqueue("changes", encoded(), "m-1", properties={"source": "crm"})
    assert not store.enqueue("changes", encoded(), "m-1", properties={"source": "crm"})
    assert store.counts("changes") == {"duplicates_dropped": 1}
    assert store.counts(AUDIT.queue)["active"] == 1
    assert store.counts(CRM_ONLY.queue)["active"] == 1


def test_a_subscription_locks_settles_and_dead_letters_like_a_queue(clock):
    """Its own max delivery count moves a message that keeps failing to the subscription's dead-letter queue."""
    store = topic_store(clock)
    store.enqueue("changes", encoded(), "m-1", properties={"source": "crm"})
    for _ in range(2):
        store.settle(token_of(locked(store, CRM_ONLY)), Outcome.ABANDON)
    [dead] = store.messages(CRM_ONLY.queue, SubQueue.DEAD_LETTER)
    assert dead.dead_letter_reason == MAX_DELIVERY_COUNT_EXCEEDED
    assert store.counts(AUDIT.queue)["active"] == 1


def test_topics_and_subscriptions_exist_only_when_declared(clock):
    """Auto-create makes queues, never subscriptions; a topic's name is never taken for a queue."""
    store = topic_store(clock)
    assert store.ensure_queue("changes")
    assert store.is_topic("CHANGES")
    assert store.ensure_queue("changes/subscriptions/AUDIT")
    assert not store.ensure_queue(subscription_path("changes", "nobody"))
    assert store.receivers_of("changes") == [AUDIT, CRM_ONLY]
    assert store.receivers_of("orders") == [ORDERS]


# -- codec ------------------------------------------------------------------------------------------


def data_section(payload: bytes) -> bytes:
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(0x75)
    data.put_binary(payload)
    data.exit()
    return bytes(data.encode())


def test_a_batch_envelope_is_split_into_its_messages():
    """A body of data sections that each hold an encoded message is a batch (format 0x80013700)."""
    inner = [encoded(f"m{index}".encode(), f"id-{index}") for index in range(3)]
    assert codec.split_transfer(b"".join(data_section(item) for item in inner)) == inner


def test_an_ordinary_message_is_not_split():
    """A data body that is not itself a message, or an amqp-value body, is one message."""
    single = encoded(b"just bytes")
    assert codec.split_transfer(single) == [single]
    value_body = bytes(Message(body={"k": "v"}).encode())
    assert codec.split_transfer(value_body) == [value_body]


def test_a_delivery_carries_the_broker_annotations_and_an_explicit_delivery_count():
    """Sequence number, enqueued time, lock (token and expiry) and a header with delivery-count written out."""
    lock_token = uuid.uuid4()
    stored = StoredMessage(
        raw=encoded(b"x", "m-1", properties={"k": "v"}),
        message_id="m-1",
        sequence_number=7,
        enqueued_at=1_700_000_000.0,
        lock_token=lock_token,
        locked_until=1_700_000_030.0,
    )
    raw = codec.encode_delivery(stored, lock_token=lock_token)
    header = Data()
    header.decode(raw)
    header.rewind()
    header.next()
    header.enter()
    header.next()
    header.next()
    assert header.get_list() == 5  # every header field, so pyamqp sees delivery_count 0 and not None
    message = codec.decode(raw)
    annotations: Any = message.annotations
    instructions: Any = message.instructions
    body: Any = message.body
    assert annotations[symbol("x-opt-sequence-number")] == 7
    assert annotations[symbol("x-opt-enqueued-time")] == 1_700_000_000_000
    assert annotations[symbol("x-opt-locked-until")] == 1_700_000_030_000
    assert instructions[symbol("x-opt-lock-token")] == lock_token
    assert (message.id, bytes(body), codec.application_properties_of(message)) == (
        "m-1",
        b"x",
        {"k": "v"},
    )


def test_a_dead_lettered_delivery_names_reason_description_and_source():
    """DLQ messages carry DeadLetterReason/DeadLetterErrorDescription and x-opt-deadletter-source."""
    stored = StoredMessage(
        raw=encoded(),
        message_id="m-1",
        sequence_number=1,
        enqueued_at=0.0,
        delivery_count=2,
        dead_letter_reason="Bad",
        dead_letter_description="why",
        dead_letter_source="orders",
    )
    message = codec.decode(codec.encode_delivery(stored))
    annotations: Any = message.annotations
    assert message.delivery_count == 2
    assert annotations[symbol("x-opt-deadletter-source")] == "orders"
    assert codec.application_properties_of(message) == {
        "DeadLetterReason": "Bad",
        "DeadLetterErrorDescription": "why",
    }


def test_the_view_decodes_a_stored_message_for_tests():
    """view_of() gives the ids, body and properties as plain Python values."""
    stored = StoredMessage(
        raw=encoded(
            b"{}", "m-1", subject="ORDER_CHANGE", content_type="application/json", correlation_id="c"
        ),
        message_id="m-1",
        sequence_number=3,
        enqueued_at=0.0,
    )
    view = codec.view_of(stored)
    assert (view.message_id, view.correlation_id, view.subject, view.content_type, view.body) == (
        "m-1",
        "c",
        "ORDER_CHANGE",
        "application/json",
        b"{}",
    )


# -- addresses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind", "entity"),
    [
        ("amqps://127.0.0.1:5671/orders", NodeKind.QUEUE, ORDERS),
        ("orders/$DeadLetterQueue", NodeKind.QUEUE, ORDERS_DLQ),
        ("orders/$management", NodeKind.MANAGEMENT, ORDERS),
        ("orders/$DeadLetterQueue/$management", NodeKind.MANAGEMENT, ORDERS_DLQ),
        ("sb://127.0.0.1:5671/orders", NodeKind.QUEUE, ORDERS),
        ("$cbs", NodeKind.CBS, None),
    ],
)
def test_addresses_name_queues_dead_letter_queues_and_nodes(address, kind, entity):
    """Each address form the SDK uses resolves to its node."""
    node = addresses.parse(address)
    assert node is not None
    assert (node.kind, node.entity) == (kind, entity)


@pytest.mark.parametrize(
    "address", ["topic/Subscriptions", "topic/rules/sub", "a/b", "", None, "$management"]
)
def test_other_paths_and_bare_nodes_are_not_entities(address):
    """Paths that are neither an entity nor a subscription, and unknown $-nodes, name nothing."""
    assert addresses.parse(address) is None


@pytest.mark.parametrize(
    ("address", "kind", "sub_queue"),
    [
        ("amqps://127.0.0.1:5671/changes/Subscriptions/audit", NodeKind.QUEUE, SubQueue.ACTIVE),
        ("changes/subscriptions/audit/$DeadLetterQueue", NodeKind.QUEUE, SubQueue.DEAD_LETTER),
        ("changes/Subscriptions/audit/$management", NodeKind.MANAGEMENT, SubQueue.ACTIVE),
    ],
)
def test_subscription_paths_name_the_subscription_like_a_queue(address, kind, sub_queue):
    """A subscription, its dead-letter queue and its $management node resolve as a queue's would."""
    node = addresses.parse(address)
    assert node is not None
    assert (node.kind, node.entity.sub_queue if node.entity else None) == (kind, sub_queue)
    assert node.entity is not None
    assert node.entity.queue.lower() == "changes/subscriptions/audit"


# -- $cbs and $management ---------------------------------------------------------------------------


def request(operation: str, body: dict[str, Any] | None = None) -> Message:
    return Message(id=uuid.uuid4(), properties={"operation": operation}, body=body)


def status_of(response: Message) -> tuple[int, str | None]:
    properties = codec.application_properties_of(response)
    condition = properties.get("errorCondition")
    return int(properties["statusCode"]), None if condition is None else str(condition)


def test_put_token_is_accepted_for_known_queues_and_404_for_unknown(clock):
    """$cbs answers 202 for any token, and 404 when the audience names a queue that does not exist."""
    store = QueueStore({"orders": QueueOptions()}, auto_create_queues=False, clock=clock)

    def put_token(audience: str) -> Message:
        return Message(id=uuid.uuid4(), properties={"operation": "put-token", "name": audience}, body="token")

    accepted = management.answer_cbs(put_token("sb://127.0.0.1:5671/orders"), store)
    refused = management.answer_cbs(put_token("sb://127.0.0.1:5671/returns"), store)
    assert codec.application_properties_of(accepted)["status-code"] == 202
    assert codec.application_properties_of(refused)["status-code"] == 404
    assert accepted.correlation_id is not None


def test_peek_message_answers_204_when_empty_and_encoded_messages_otherwise(clock):
    """peek-message returns {"messages": [{"message": bytes}]} or 204 No Content."""
    store = make_store(clock)
    ask = request(management.PEEK_MESSAGE, {"from-sequence-number": 1, "message-count": 5})
    assert status_of(management.answer_management(ORDERS, ask, store)) == (204, None)
    store.enqueue("orders", encoded(b"x"), "m-1")
    response = management.answer_management(ORDERS, ask, store)
    body: Any = response.body
    assert status_of(response) == (200, None)
    assert response.correlation_id == ask.id
    assert codec.decode(body["messages"][0]["message"]).id == "m-1"


def test_renew_lock_answers_expirations_and_410_for_a_lost_lock(clock):
    """renew-lock returns the new expiry per token; a lost lock is 410 com.microsoft:message-lock-lost."""
    store = make_store(clock, lock_duration=timedelta(seconds=30))
    store.enqueue("orders", encoded(), "m-1")
    token = token_of(locked(store))
    tokens = Array(UNDESCRIBED, Data.UUID, token)  # type: ignore[arg-type]
    response = management.answer_management(
        ORDERS, request(management.RENEW_LOCK, {"lock-tokens": tokens}), store
    )
    body: Any = response.body
    assert list(body["expirations"].elements) == [round((clock.now + 30) * 1000)]
    lost = Array(UNDESCRIBED, Data.UUID, uuid.uuid4())  # type: ignore[arg-type]
    refused = management.answer_management(
        ORDERS, request(management.RENEW_LOCK, {"lock-tokens": lost}), store
    )
    assert status_of(refused) == (410, management.MESSAGE_LOCK_LOST)


@pytest.mark.parametrize(
    ("status", "active", "dead_letter"), [("completed", 0, 0), ("abandoned", 1, 0), ("suspended", 0, 1)]
)
def test_update_disposition_settles_by_lock_token(clock, status, active, dead_letter):
    """update-disposition completes, abandons or dead-letters ("suspended") the locked message."""
    store = make_store(clock)
    store.enqueue("orders", encoded(), "m-1")
    token = token_of(locked(store))
    body = {"disposition-status": status, "lock-tokens": [token], "deadletter-reason": "Bad"}
    response = management.answer_management(ORDERS, request(management.UPDATE_DISPOSITION, body), store)
    assert status_of(response) == (200, None)
    assert store.counts("orders") == {
        "active": active,
        "dead_letter": dead_letter,
        "locked": 0,
        "duplicates_dropped": 0,
    }


def test_unsupported_requests_are_refused_with_the_service_conditions(clock):
    """Defer-related and unknown operations get an error status the SDK turns into an exception."""
    store = make_store(clock)
    by_sequence = request(management.RECEIVE_BY_SEQUENCE_NUMBER, {"sequence-numbers": [1]})
    defer = request(management.UPDATE_DISPOSITION, {"disposition-status": "defered", "lock-tokens": []})
    assert status_of(management.answer_management(ORDERS, by_sequence, store)) == (
        404,
        management.MESSAGE_NOT_FOUND,
    )
    assert status_of(management.answer_management(ORDERS, defer, store)) == (400, management.ARGUMENT_ERROR)
    assert status_of(management.answer_management(ORDERS, request("com.microsoft:add-rule"), store)) == (
        501,
        management.NOT_IMPLEMENTED,
    )
