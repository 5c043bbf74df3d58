"""Dead-letter listing and replay against an in-memory fake of the Service Bus client: no sockets."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.amazon.notifications import EnvelopeFacts, read_envelope_facts
from shared.servicebus.deadletters import (
    DEAD_LETTER_PROPERTIES,
    MAX_MESSAGE_ID,
    REPLAY_COUNT,
    REPLAY_DEAD_LETTER_REASON,
    REPLAY_FROM_SEQUENCE_NUMBER,
    REPLAY_ORIGINAL_MESSAGE_ID,
    DeadLetter,
    DeadLetterList,
    DeadLetters,
    Limits,
    ReplayStatus,
    Selection,
    application_properties,
    describe,
    list_dead_letters,
    replay_copy,
    replay_dead_letters,
    replay_message_id,
)
from shared.servicebus.deadletters.cli import main
from tests.builders import order_change, settings_env

QUEUE = "amazon-notifications"
PII = ("Jane Doe", "jane.doe@example.com", "98101", "1 Main Street", "SKU-SECRET")


# --- fakes -----------------------------------------------------------------------------------------------
@dataclass
class FakeMessage:
    """The attributes of ServiceBusReceivedMessage the tool reads."""

    sequence_number: int
    body: bytes
    message_id: str | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None
    delivery_count: int = 0
    enqueued_time_utc: datetime | None = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    content_type: str | None = "application/json"
    correlation_id: str | None = None
    subject: str | None = None
    application_properties: dict[Any, Any] | None = None
    body_type: str = "data"
    locked: bool = False


@dataclass
class FakeBus:
    """One queue's dead-letter queue and what was sent to the queue; records every call in order."""

    dead: dict[int, FakeMessage] = field(default_factory=dict)
    sent: list[Any] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    failing_sends: int = 0
    failing_completes: set[int] = field(default_factory=set)
    receiver_options: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: FakeMessage) -> None:
        self.dead[message.sequence_number] = message

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> FakeReceiver:
        assert queue_name == QUEUE
        self.receiver_options.append(kwargs)
        return FakeReceiver(self)

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> FakeSender:
        assert queue_name == QUEUE
        return FakeSender(self)


class FakeReceiver:
    def __init__(self, bus: FakeBus) -> None:
        self.bus = bus

    def __enter__(self) -> FakeReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        for message in self.bus.dead.values():
            message.locked = False  # closing a receiver lets go of what it still held

    def peek_messages(self, max_message_count: int = 1, *, sequence_number: int = 0) -> list[FakeMessage]:
        self.bus.calls.append("peek")
        found = sorted((m for m in self.bus.dead.values() if m.sequence_number >= sequence_number), key=_seq)
        return found[:max_message_count]

    def receive_messages(
        self, max_message_count: int = 1, max_wait_time: float | None = None
    ) -> list[FakeMessage]:
        self.bus.calls.append("receive")
        available = [m for m in self.bus.dead.values() if not m.locked][:max_message_count]
        for message in available:
            message.locked = True
        return available

    def complete_message(self, message: FakeMessage) -> None:
        self.bus.calls.append(f"complete {message.sequence_number}")
        if message.sequence_number in self.bus.failing_completes:
            raise RuntimeError("lock lost")
        del self.bus.dead[message.sequence_number]

    def abandon_message(self, message: FakeMessage) -> None:
        self.bus.calls.append(f"abandon {message.sequence_number}")
        message.locked = False
        message.delivery_count += 1


class FakeSender:
    def __init__(self, bus: FakeBus) -> None:
        self.bus = bus

    def __enter__(self) -> FakeSender:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send_messages(self, message: Any) -> None:
        self.bus.calls.append(f"send {message.application_properties[REPLAY_FROM_SEQUENCE_NUMBER]}")
        if self.bus.failing_sends:
            self.bus.failing_sends -= 1
            raise ConnectionError("server busy")
        self.bus.sent.append(message)


def _seq(message: FakeMessage) -> int:
    return message.sequence_number


def envelope_with_pii(
    order_id: str = "113-1234567-1234567", notification_id: str = "nid-1"
) -> dict[str, Any]:
    envelope = order_change(order_id, notification_id=notification_id, skus=("SKU-SECRET",))
    summary = envelope["Payload"]["OrderChangeNotification"]["Summary"]
    summary["BuyerName"] = "Jane Doe"
    summary["BuyerEmail"] = "jane.doe@example.com"
    summary["ShippingAddress"] = "1 Main Street"
    return envelope


def dead_letter(sequence_number: int, reason: str | None = "UnknownSku", **changes: Any) -> FakeMessage:
    notification_id = f"nid-{sequence_number}"
    body = json.dumps(envelope_with_pii(f"113-000000{sequence_number}-1234567", notification_id)).encode()
    values: dict[str, Any] = {
        "body": body,
        "message_id": notification_id,
        "dead_letter_reason": reason,
        "dead_letter_error_description": f"{reason} for order {sequence_number}",
        "application_properties": {
            b"sqs.MessageId": b"sqs-" + str(sequence_number).encode(),
            b"DeadLetterReason": (reason or "").encode(),
            b"DeadLetterErrorDescription": b"why",
        },
    }
    values.update(changes)
    return FakeMessage(sequence_number, **values)


@pytest.fixture
def bus() -> FakeBus:
    bus = FakeBus()
    bus.add(dead_letter(3, "UnknownSku"))
    bus.add(dead_letter(5, "DataverseRejected"))
    bus.add(dead_letter(7, "UnknownSku"))
    bus.add(dead_letter(9, None))
    return bus


FAST = Limits(max_wait_seconds=1, lock_renewal_seconds=0)


# --- what a body tells -----------------------------------------------------------------------------------
def test_pascal_case_order_change_yields_its_notification_id_type_and_order_id() -> None:
    """An ORDER_CHANGE envelope gives NotificationId, NotificationType and AmazonOrderId."""
    body = json.dumps(order_change("113-7654321-7654321", notification_id="abc-123")).encode()
    assert read_envelope_facts(body) == EnvelopeFacts("abc-123", "ORDER_CHANGE", "113-7654321-7654321")


def test_camel_case_envelope_yields_id_and_type_but_no_order_id() -> None:
    """A camelCase envelope (REPORT_PROCESSING_FINISHED) gives its id and type; only ORDER_CHANGE has an order."""
    body = {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payload": {"reportProcessingFinishedNotification": {"reportId": "54321"}},
        "notificationMetadata": {"notificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"},
    }
    assert read_envelope_facts(json.dumps(body).encode()) == EnvelopeFacts(
        "d0e9e693-c3ad-4373-979f-ed4ec98dd746", "REPORT_PROCESSING_FINISHED", None
    )


def test_camel_case_order_change_envelope_still_yields_the_order_id() -> None:
    """Envelope keys in camelCase around the (PascalCase) ORDER_CHANGE payload still give the order id."""
    envelope = order_change("113-1111111-2222222", notification_id="n-9")
    camel = {key[0].lower() + key[1:]: value for key, value in envelope.items()}
    camel["notificationMetadata"] = {"notificationId": "n-9"}
    assert read_envelope_facts(json.dumps(camel).encode()) == EnvelopeFacts(
        "n-9", "ORDER_CHANGE", "113-1111111-2222222"
    )


def test_an_order_id_in_another_notification_type_is_not_taken() -> None:
    """The Amazon order id is read for ORDER_CHANGE only."""
    envelope = order_change("113-1111111-2222222")
    envelope["NotificationType"] = "ANY_OFFER_CHANGED"
    assert read_envelope_facts(json.dumps(envelope).encode()).amazon_order_id is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"ORDER_CHANGE"',
        b"null",
        b'{"NotificationMetadata": "nid", "NotificationType": 5}',
        b"[" * 100_000,
    ],
)
def test_garbage_bodies_yield_nothing(body: bytes) -> None:
    """A body that is not an envelope gives no identifiers and raises nothing."""
    assert read_envelope_facts(body) == EnvelopeFacts()


@pytest.mark.parametrize(
    "value", ["Jane Doe", "jane.doe@example.com", 12345, {"id": "x"}, "x" * 101, "", "-leading", "a\nb"]
)
def test_values_that_do_not_look_like_identifiers_are_left_out(value: Any) -> None:
    """Only identifier-shaped strings are taken, so a name or address in the wrong field never shows."""
    envelope = order_change()
    envelope["NotificationMetadata"]["NotificationId"] = value
    envelope["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = value
    facts = read_envelope_facts(json.dumps(envelope).encode())
    assert (facts.notification_id, facts.amazon_order_id) == (None, None)


def test_describe_keeps_broker_facts_and_identifiers_and_nothing_else_of_the_body() -> None:
    """A DeadLetter holds sequence number, ids, reason, description, count and time; no body field or PII."""
    message = dead_letter(3, delivery_count=2, application_properties={b"replay.count": 1})
    letter = describe(message)
    assert letter == DeadLetter(
        sequence_number=3,
        message_id="nid-3",
        reason="UnknownSku",
        description="UnknownSku for order 3",
        delivery_count=2,
        enqueued_time=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        notification_id="nid-3",
        notification_type="ORDER_CHANGE",
        amazon_order_id="113-0000003-1234567",
        replay_count=1,
    )
    text = json.dumps(DeadLetterList(QUEUE, (letter,)).to_json())
    assert not [secret for secret in PII if secret in text]
    assert set(letter.to_json()) == {
        "sequence_number",
        "message_id",
        "reason",
        "description",
        "delivery_count",
        "enqueued_time",
        "notification_id",
        "notification_type",
        "amazon_order_id",
        "replay_count",
    }


def test_a_non_data_body_is_described_without_reading_it() -> None:
    """A value or sequence body gives broker facts only."""
    letter = describe(dead_letter(3, body_type="value"))
    assert (letter.notification_id, letter.notification_type, letter.amazon_order_id) == (None, None, None)


def test_application_properties_come_back_with_text_keys_and_values() -> None:
    """Bytes keys and UTF-8 bytes values (how the SDK returns AMQP strings) are decoded; others stay."""
    message = FakeMessage(
        1, b"", application_properties={b"a": b"text", b"n": 3, "b": b"\xff\x00", b"t": True}
    )
    assert application_properties(message) == {"a": "text", "n": 3, "b": b"\xff\x00", "t": True}


# --- listing ---------------------------------------------------------------------------------------------
def test_listing_pages_through_every_dead_letter_by_sequence_number_without_receiving(bus: FakeBus) -> None:
    """Pages of two cover all four dead letters in sequence order; nothing is received or settled."""
    listing = list_dead_letters(bus, QUEUE, limits=Limits(page_size=2))
    assert [letter.sequence_number for letter in listing.messages] == [3, 5, 7, 9]
    assert not listing.truncated
    assert bus.calls == ["peek", "peek", "peek"]
    assert listing.by_reason == {"UnknownSku": 2, "(none)": 1, "DataverseRejected": 1}


def test_listing_stops_at_max_list_and_says_there_is_more(bus: FakeBus) -> None:
    """With max_list=3 three dead letters are listed and the listing is marked truncated."""
    listing = list_dead_letters(bus, QUEUE, limits=Limits(page_size=2, max_list=3))
    assert [letter.sequence_number for letter in listing.messages] == [3, 5, 7]
    assert listing.truncated


def test_listing_reads_the_dead_letter_sub_queue() -> None:
    """The receiver is opened on the dead-letter sub-queue without prefetching."""
    from azure.servicebus import ServiceBusSubQueue

    bus = FakeBus()
    list_dead_letters(bus, QUEUE)
    [options] = bus.receiver_options
    assert options["sub_queue"] == ServiceBusSubQueue.DEAD_LETTER
    assert options["prefetch_count"] == 0


# --- selection -------------------------------------------------------------------------------------------
def _letter(sequence_number: int, reason: str | None) -> DeadLetter:
    return DeadLetter(sequence_number, None, reason, None, 0, None, None, None, None)


def test_selection_by_sequence_number_reason_or_all() -> None:
    """Sequence numbers pick those; a reason picks that reason case-insensitively ("(none)": no reason); all picks all."""
    letters = [_letter(1, "UnknownSku"), _letter(2, "DataverseRejected"), _letter(3, None)]
    pick = lambda selection: [x.sequence_number for x in letters if selection.matches(x)]  # noqa: E731
    assert pick(Selection.of(sequence_numbers=[3, 1, 99])) == [1, 3]
    assert pick(Selection.of(reason="unknownsku")) == [1]
    assert pick(Selection.of(reason="(none)")) == [3]
    assert pick(Selection.of(all=True)) == [1, 2, 3]


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"reason": "X", "all": True},
        {"sequence_numbers": [1], "reason": "X"},
        {"sequence_numbers": []},
        {"reason": " "},
    ],
)
def test_a_selection_needs_exactly_one_non_empty_criterion(arguments: dict[str, Any]) -> None:
    """Nothing, two criteria, no sequence numbers or a blank reason are refused."""
    with pytest.raises(ValueError, match=r"exactly one|no sequence|empty"):
        Selection.of(**arguments)


# --- the copy --------------------------------------------------------------------------------------------
def test_the_replay_message_id_differs_from_the_original_and_is_stable_per_dead_letter() -> None:
    """Same dead letter, same id (a rerun is deduplicated); another dead letter or the original id differ."""
    first = replay_message_id("nid-1", 3)
    assert first == "nid-1:replay:3"
    assert first == replay_message_id("nid-1", 3)
    assert first not in {"nid-1", replay_message_id("nid-1", 4), replay_message_id("nid-2", 3)}
    assert replay_message_id(None, 3) == "dead-letter:replay:3"


def test_a_long_original_id_is_hashed_to_fit_the_service_bus_limit() -> None:
    """Ids stay within 128 characters and still differ per original."""
    long_a, long_b = "a" * 128, "a" * 127 + "b"
    assert len(replay_message_id(long_a, 10**12)) <= MAX_MESSAGE_ID
    assert replay_message_id(long_a, 1) != replay_message_id(long_b, 1)


def test_the_copy_has_the_same_body_content_type_and_properties_plus_replay_markers() -> None:
    """Body, content type, correlation id, subject and properties are kept; dead-letter properties go; markers come."""
    message = dead_letter(3, correlation_id="corr", subject="ORDER_CHANGE")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    copy = replay_copy(message, now=now)
    assert copy.body == message.body
    assert (copy.content_type, copy.correlation_id, copy.subject) == (
        "application/json",
        "corr",
        "ORDER_CHANGE",
    )
    assert copy.message_id == "nid-3:replay:3"
    assert copy.application_properties == {
        "sqs.MessageId": "sqs-3",
        REPLAY_COUNT: 1,
        REPLAY_FROM_SEQUENCE_NUMBER: 3,
        REPLAY_ORIGINAL_MESSAGE_ID: "nid-3",
        REPLAY_DEAD_LETTER_REASON: "UnknownSku",
        "replay.replayed_at": now.isoformat(),
    }
    assert not DEAD_LETTER_PROPERTIES & set(copy.application_properties)
    sdk_message = copy.to_message()
    assert (sdk_message.message_id, b"".join(sdk_message.body)) == ("nid-3:replay:3", message.body)


def test_replaying_a_replayed_copy_counts_up_and_keeps_the_first_message_id() -> None:
    """A copy dead-lettered again gets replay.count 2 and an id built on the original, not on the copy's."""
    message = dead_letter(
        12,
        message_id="nid-3:replay:3",
        application_properties={b"replay.count": 1, b"replay.original_message_id": b"nid-3"},
    )
    copy = replay_copy(message)
    assert copy.application_properties[REPLAY_COUNT] == 2
    assert copy.message_id == "nid-3:replay:12"


# --- replay ----------------------------------------------------------------------------------------------
def test_replay_sends_the_chosen_messages_then_completes_them_and_releases_the_rest(bus: FakeBus) -> None:
    """By reason: each chosen message is sent before it is completed; others met on the way are abandoned
    unchanged, and the receive stops once the last chosen one is done (9 is never locked)."""
    report = replay_dead_letters(bus, QUEUE, Selection.of(reason="UnknownSku"), limits=FAST)
    assert [(item.sequence_number, item.status) for item in report.items] == [
        (3, ReplayStatus.REPLAYED),
        (7, ReplayStatus.REPLAYED),
    ]
    assert report.ok
    assert report.released == 1
    settling = [call for call in bus.calls if call.split()[0] in {"send", "complete", "abandon"}]
    assert settling == ["send 3", "complete 3", "send 7", "complete 7", "abandon 5"]
    assert sorted(bus.dead) == [5, 9]
    assert bus.dead[5].dead_letter_reason == "DataverseRejected"
    assert bus.dead[9].delivery_count == 0
    assert [m.message_id for m in bus.sent] == ["nid-3:replay:3", "nid-7:replay:7"]


def test_replay_by_sequence_number_and_all(bus: FakeBus) -> None:
    """Sequence numbers replay just those; all empties the dead-letter queue."""
    first = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[5, 9]), limits=FAST)
    assert [item.sequence_number for item in first.with_status(ReplayStatus.REPLAYED)] == [5, 9]
    rest = replay_dead_letters(bus, QUEUE, Selection.of(all=True), limits=FAST)
    assert [item.sequence_number for item in rest.with_status(ReplayStatus.REPLAYED)] == [3, 7]
    assert bus.dead == {}


def test_a_failed_send_leaves_the_dead_letter_in_place(bus: FakeBus) -> None:
    """When the send fails the message is not completed but released, and the report is not ok."""
    bus.failing_sends = 1
    report = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[3, 7]), limits=FAST)
    assert [(item.sequence_number, item.status) for item in report.items] == [
        (3, ReplayStatus.FAILED),
        (7, ReplayStatus.REPLAYED),
    ]
    assert report.items[0].detail == "ConnectionError: server busy"
    assert not report.ok
    assert "complete 3" not in bus.calls
    assert "abandon 3" in bus.calls
    assert sorted(bus.dead) == [3, 5, 9]


def test_a_failed_complete_after_the_send_is_reported_as_sent_not_removed(bus: FakeBus) -> None:
    """The copy went out but the dead letter stayed: the report says so and is not ok."""
    bus.failing_completes = {3}
    report = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[3]), limits=FAST)
    [item] = report.items
    assert item.status is ReplayStatus.SENT_NOT_REMOVED
    assert item.replay_message_id == "nid-3:replay:3"
    assert not report.ok


def test_a_dry_run_only_peeks(bus: FakeBus) -> None:
    """A dry run reports what would be replayed and never receives, sends or settles."""
    report = replay_dead_letters(bus, QUEUE, Selection.of(all=True), dry_run=True, limits=FAST)
    assert [item.status for item in report.items] == [ReplayStatus.WOULD_REPLAY] * 4
    assert set(bus.calls) == {"peek"}
    assert report.ok
    assert sorted(bus.dead) == [3, 5, 7, 9]


def test_unknown_sequence_numbers_are_reported_not_found_and_are_not_a_failure(bus: FakeBus) -> None:
    """A sequence number that is not dead-lettered (replayed already) is not_found; nothing is received."""
    report = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[4]), limits=FAST)
    assert [(item.sequence_number, item.status) for item in report.items] == [(4, ReplayStatus.NOT_FOUND)]
    assert report.ok
    assert "receive" not in bus.calls


def test_replaying_twice_finds_nothing_the_second_time(bus: FakeBus) -> None:
    """The second replay of the same sequence number sends nothing."""
    replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[3]), limits=FAST)
    again = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[3]), limits=FAST)
    assert [item.status for item in again.items] == [ReplayStatus.NOT_FOUND]
    assert len(bus.sent) == 1


def test_max_replay_bounds_one_run_and_reports_the_rest_over_limit(bus: FakeBus) -> None:
    """With max_replay=2, two are replayed and the other two stay, reported over_limit."""
    limits = Limits(max_replay=2, max_wait_seconds=1, lock_renewal_seconds=0)
    report = replay_dead_letters(bus, QUEUE, Selection.of(all=True), limits=limits)
    assert report.counts == {"replayed": 2, "over_limit": 2}
    assert report.ok
    assert sorted(bus.dead) == [7, 9]


def test_small_receive_batches_hold_unchosen_messages_so_the_receiver_moves_on(bus: FakeBus) -> None:
    """With batches of one, the message behind three unchosen ones is still found and replayed."""
    limits = Limits(batch_size=1, max_wait_seconds=1, lock_renewal_seconds=0)
    report = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[9]), limits=limits)
    assert report.counts == {"replayed": 1}
    assert report.released == 3
    assert bus.calls.count("receive") == 4


def test_a_chosen_message_locked_elsewhere_is_reported_not_received(bus: FakeBus) -> None:
    """A message listed but locked by another receiver cannot be replayed now; the report says so."""
    bus.dead[3].locked = True
    report = replay_dead_letters(bus, QUEUE, Selection.of(sequence_numbers=[3]), limits=FAST)
    assert [item.status for item in report.items] == [ReplayStatus.NOT_RECEIVED]
    assert not report.ok
    assert not bus.sent


def test_a_message_without_a_data_body_is_left_in_place() -> None:
    """Only data bodies (what the app sends) are replayed; others are reported unsupported and kept."""
    bus = FakeBus()
    bus.add(dead_letter(1, body_type="value"))
    report = replay_dead_letters(bus, QUEUE, Selection.of(all=True), limits=FAST)
    assert [item.status for item in report.items] == [ReplayStatus.UNSUPPORTED]
    assert not bus.sent
    assert 1 in bus.dead


def test_limits_refuse_nonsense() -> None:
    """Zero page sizes or waits are refused."""
    with pytest.raises(ValueError, match="page_size"):
        Limits(page_size=0)
    with pytest.raises(ValueError, match="max_wait_seconds"):
        Limits(max_wait_seconds=0)


def test_the_tool_defaults_to_the_first_app_queue(bus: FakeBus) -> None:
    """DeadLetters.list() and replay() without a queue use the notifications queue."""
    with DeadLetters(bus, queues=[QUEUE], limits=FAST) as tool:
        assert len(tool.list().messages) == 4
        assert tool.replay(reason="DataverseRejected").counts == {"replayed": 1}


# --- command line ----------------------------------------------------------------------------------------
@pytest.fixture
def app_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEY_VAULT_URL", "ServiceBusConnection", "ServiceBusConnection__fullyQualifiedNamespace"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings_env().items():
        monkeypatch.setenv(name, value)


def _run(bus: FakeBus, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        connect=lambda settings, limits: DeadLetters(bus, queues=[QUEUE], limits=limits),
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_cli_list_prints_a_table_with_reasons_and_ids_but_no_body(app_settings: None, bus: FakeBus) -> None:
    """`list` shows sequence numbers, reasons, descriptions and ids, a summary by reason, and no PII."""
    code, out, _ = _run(bus, "list")
    assert code == 0
    assert "Dead letters of amazon-notifications: 4" in out
    assert "nid-3" in out
    assert "113-0000003-1234567" in out
    assert "UnknownSku for order 3" in out
    assert "By reason: UnknownSku 2, (none) 1, DataverseRejected 1" in out
    assert not [secret for secret in PII if secret in out]


def test_cli_list_json(app_settings: None, bus: FakeBus) -> None:
    """`list --json` prints one object per queue."""
    code, out, _ = _run(bus, "list", "--json")
    data = json.loads(out)
    assert code == 0
    assert [m["sequence_number"] for m in data["queues"][0]["messages"]] == [3, 5, 7, 9]


def test_cli_replay_exit_codes(app_settings: None, bus: FakeBus) -> None:
    """A clean replay exits 0, a failed send 1; the JSON report names each outcome."""
    code, out, _ = _run(bus, "replay", "--sequence", "3", "--json", "--wait", "1")
    assert code == 0
    assert json.loads(out)["counts"] == {"replayed": 1}
    bus.failing_sends = 1
    code, out, _ = _run(bus, "replay", "--reason", "UnknownSku", "--wait", "1")
    assert code == 1
    assert "seq 7  failed" in out


def test_cli_without_a_service_bus_connection_exits_2(app_settings: None) -> None:
    """No ServiceBusConnection in the settings: a one-line message naming it and exit code 2."""
    err = io.StringIO()
    assert main(["list"], err=err) == 2
    assert "ServiceBusConnection" in err.getvalue()


def test_cli_replay_needs_one_choice(app_settings: None, capsys: pytest.CaptureFixture[str]) -> None:
    """`replay` without --sequence, --reason or --all is a usage error."""
    with pytest.raises(SystemExit) as exit_info:
        main(["replay"])
    assert exit_info.value.code == 2
