"""The SQS -> Service Bus bridge with fakes for both sides and a fake clock: no sockets, no sleeping.

FakeSqs behaves like a standard queue: received messages are invisible until their visibility timeout ends,
each receive issues a new receipt handle, a delete or release with a receipt that is not the current one (or
has expired) fails per entry, and a long poll on an empty queue advances the clock. FakeServiceBus keeps
messages by message_id and drops repeats, like duplicate detection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.amazon.notifications import read_envelope_facts
from shared.bridge import Bridge, BridgeFailed, BridgeOptions, BridgeReport, run_bridge
from shared.bridge.forwarder import application_properties, to_service_bus
from shared.bridge.sqs import BatchOutcome, EntryFailure, SqsMessage
from shared.config import Settings
from shared.errors import ConfigurationError, SyncError
from shared.servicebus.sender import OutgoingMessage, SendResult, ServiceBusSendFailed
from tests.builders import order_change, settings_env

START_WALL = 1_800_000_000.0


# --- fakes ----------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> float:
        return START_WALL + (self.now - 1000.0)


@dataclass
class _Stored:
    message: SqsMessage
    visible_at: float = 0.0
    receives: int = 0
    receipt: str = ""


@dataclass
class ReceiveCall:
    max_messages: int
    wait_seconds: int
    visibility_timeout: int
    at: float


class FakeSqs:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.stored: dict[str, _Stored] = {}
        self.receives: list[ReceiveCall] = []
        self.deleted: list[str] = []
        self.released: list[str] = []
        self.fail_delete_ids: dict[str, str] = {}  # message id -> error code, once
        self.on_receive: Callable[[], None] | None = None
        self.events: list[str] = []
        self._counter = 0

    def add(
        self, body: str, *, message_id: str | None = None, sent_at: float | None = None, **attrs: str
    ) -> str:
        self._counter += 1
        message_id = message_id or f"sqs-{self._counter:04d}"
        sent_ms = int(1000 * (sent_at if sent_at is not None else self.clock.wall()))
        message = SqsMessage(message_id, "", body, {"SentTimestamp": str(sent_ms), **attrs})
        self.stored[message_id] = _Stored(message, visible_at=self.clock.now)
        return message_id

    def in_queue(self) -> int:
        return len(self.stored)

    def receive(self, *, max_messages: int, wait_seconds: int, visibility_timeout: int) -> list[SqsMessage]:
        self.receives.append(ReceiveCall(max_messages, wait_seconds, visibility_timeout, self.clock.now))
        if self.on_receive is not None:
            self.on_receive()
        visible = self._visible(max_messages)
        if not visible and wait_seconds:
            upcoming = [s.visible_at for s in self.stored.values() if s.visible_at > self.clock.now]
            end = self.clock.now + wait_seconds
            self.clock.now = min([end, *upcoming])  # a long poll returns as soon as something is visible
            visible = self._visible(max_messages)
        out = []
        for stored in visible:
            stored.receives += 1
            stored.receipt = f"{stored.message.message_id}#{stored.receives}"
            stored.visible_at = self.clock.now + visibility_timeout
            attributes = {
                **stored.message.attributes,
                "ApproximateReceiveCount": str(stored.receives),
            }
            out.append(
                SqsMessage(stored.message.message_id, stored.receipt, stored.message.body, attributes, {})
            )
        self.events.extend(f"receive:{m.message_id}" for m in out)
        return out

    def _visible(self, limit: int) -> list[_Stored]:
        return [s for s in self.stored.values() if s.visible_at <= self.clock.now][:limit]

    def _valid(self, message: SqsMessage) -> _Stored | None:
        stored = self.stored.get(message.message_id)
        if stored is None or stored.receipt != message.receipt_handle or stored.visible_at <= self.clock.now:
            return None
        return stored

    def delete(self, messages: Sequence[SqsMessage]) -> BatchOutcome:
        ok, bad = [], []
        for message in messages:
            self.events.append(f"delete:{message.message_id}")
            code = self.fail_delete_ids.pop(message.message_id, None)
            if code is None and self._valid(message) is None:
                code = "ReceiptHandleIsInvalid"
            if code is not None:
                bad.append(EntryFailure(message.message_id, code))
                continue
            del self.stored[message.message_id]
            self.deleted.append(message.message_id)
            ok.append(message.message_id)
        return BatchOutcome(tuple(ok), tuple(bad))

    def release(self, messages: Sequence[SqsMessage]) -> BatchOutcome:
        ok, bad = [], []
        for message in messages:
            stored = self._valid(message)
            if stored is None:
                bad.append(EntryFailure(message.message_id, "MessageNotInflight"))
                continue
            stored.visible_at = self.clock.now
            self.released.append(message.message_id)
            ok.append(message.message_id)
        return BatchOutcome(tuple(ok), tuple(bad))

    def close(self) -> None:
        pass


@dataclass
class FakeServiceBus:
    clock: FakeClock
    events: list[str]
    messages: dict[str, OutgoingMessage] = field(default_factory=dict)
    duplicates_dropped: int = 0
    timeouts: list[float] = field(default_factory=list)
    batch_size: int = 100  # messages per batch: more are sent as several batches
    fail_next_batches: int = 0
    fail_batch_numbers: set[int] = field(default_factory=set)  # 1-based, counted over every send
    batches: int = 0
    time_out_next_batches: int = 0
    send_takes: float = 0.01
    too_large_ids: set[str] = field(default_factory=set)
    during_send: Callable[[], None] | None = None

    def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
        self.timeouts.append(timeout)
        if self.during_send is not None:
            self.during_send()
        accepted: list[int] = []
        too_large = [i for i, m in enumerate(messages) if m.message_id in self.too_large_ids]
        fitting = [i for i in range(len(messages)) if i not in too_large]
        for start in range(0, len(fitting), self.batch_size):
            batch = fitting[start : start + self.batch_size]
            self.clock.advance(self.send_takes)
            self.batches += 1
            if self.fail_next_batches or self.batches in self.fail_batch_numbers:
                self.fail_next_batches = max(0, self.fail_next_batches - 1)
                return SendResult(
                    tuple(accepted), tuple(too_large), ServiceBusSendFailed("busy", outcome_unknown=False)
                )
            if self.time_out_next_batches:
                self.time_out_next_batches -= 1
                self.clock.advance(timeout)
                self._store(messages, batch)  # it lands after all, like a stalled broker
                return SendResult(
                    tuple(accepted), tuple(too_large), ServiceBusSendFailed("slow", outcome_unknown=True)
                )
            self._store(messages, batch)
            accepted.extend(batch)
        return SendResult(tuple(accepted), tuple(too_large))

    def _store(self, messages: Sequence[OutgoingMessage], batch: list[int]) -> None:
        for i in batch:
            message = messages[i]
            self.events.append(f"send:{message.message_id}")
            if message.message_id in self.messages:
                self.duplicates_dropped += 1
            else:
                self.messages[message.message_id] = message

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqs(clock: FakeClock) -> FakeSqs:
    return FakeSqs(clock)


@pytest.fixture
def bus(clock: FakeClock, sqs: FakeSqs) -> FakeServiceBus:
    return FakeServiceBus(clock, sqs.events)


def bridge(sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock, **options: float) -> Bridge:
    opts = BridgeOptions(**{"max_seconds": 50.0, **options})  # type: ignore[arg-type]
    return Bridge(sqs, bus, opts, clock=clock, wall_clock=clock.wall)


def notification(notification_id: str, order_id: str = "113-0000000-0000001") -> str:
    envelope = order_change(order_id, notification_id=notification_id)
    return json.dumps(envelope)


def camel_notification(notification_id: str) -> str:
    return json.dumps(
        {
            "notificationVersion": "2020-09-04",
            "notificationType": "REPORT_PROCESSING_FINISHED",
            "payloadVersion": "2020-09-04",
            "eventTime": "2026-11-27T10:00:00Z",
            "payload": {"reportProcessingFinishedNotification": {"reportId": "1"}},
            "notificationMetadata": {
                "applicationId": "amzn1.sellerapps.app.1",
                "subscriptionId": "sub-1",
                "publishTime": "2026-11-27T10:00:00Z",
                "notificationId": notification_id,
            },
        }
    )


def make_settings(**overrides: str | None) -> Settings:
    """Settings from a valid base; a None override sets the field to None whatever the environment holds."""
    values: dict[str, Any] = {**settings_env(), **overrides}
    return Settings(**values)


def message(body: str, message_id: str = "sqs-1", **attributes: str) -> SqsMessage:
    return SqsMessage(message_id, "receipt", body, attributes)


# --- mapping ----------------------------------------------------------------------------------------------------


def test_message_id_is_the_pascal_case_notification_id() -> None:
    """An SP-API envelope with NotificationMetadata.NotificationId gives that id (and its type as subject)."""
    outgoing = to_service_bus(message(notification("nid-pascal")))
    assert outgoing.message_id == "nid-pascal"
    assert outgoing.subject == "ORDER_CHANGE"


def test_message_id_is_the_camel_case_notification_id() -> None:
    """A camelCase envelope (REPORT_PROCESSING_FINISHED style) gives notificationMetadata.notificationId."""
    outgoing = to_service_bus(message(camel_notification("nid-camel")))
    assert outgoing.message_id == "nid-camel"
    assert outgoing.subject == "REPORT_PROCESSING_FINISHED"


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"NotificationType": "ORDER_CHANGE"}',
        '{"NotificationMetadata": {"NotificationId": 42}}',
        '{"NotificationMetadata": {"NotificationId": "   "}}',
        json.dumps({"NotificationMetadata": {"NotificationId": "x" * 129}}),
        "",
    ],
)
def test_message_id_falls_back_to_the_sqs_message_id_when_the_body_is_no_readable_notification(
    body: str,
) -> None:
    """Without a usable NotificationId (not JSON, missing, not a string, blank, over 128 chars) the SQS MessageId is used."""
    outgoing = to_service_bus(message(body, message_id="sqs-fallback"))
    assert outgoing.message_id == "sqs-fallback"
    assert outgoing.body == body.encode("utf-8")


def test_the_body_travels_byte_for_byte_as_json_content() -> None:
    """The Service Bus body is the SQS body's UTF-8 bytes, unchanged (whitespace, key order, non-ASCII)."""
    body = '{ "NotificationMetadata":{"NotificationId":"n-1"},  "Payload": {"Sku": "Tür-é-✓"} }\n'
    outgoing = to_service_bus(message(body))
    assert outgoing.body == body.encode("utf-8")
    assert outgoing.content_type == "application/json"


def test_sqs_attributes_become_application_properties() -> None:
    """MessageId, system attributes and message attributes travel under `sqs.`, as the strings SQS returns."""
    sqs_message = SqsMessage(
        "mid-1",
        "r",
        "{}",
        {
            "SentTimestamp": "1795784830142",
            "ApproximateReceiveCount": "2",
            "ApproximateFirstReceiveTimestamp": "1795784830152",
            "SenderId": "AIDAEXAMPLE",
        },
        {"Source": "spapi", "Count": "12", "Blob": b"\x00\x01"},
    )
    assert application_properties(sqs_message) == {
        "sqs.MessageId": "mid-1",
        "sqs.SentTimestamp": "1795784830142",
        "sqs.ApproximateReceiveCount": "2",
        "sqs.ApproximateFirstReceiveTimestamp": "1795784830152",
        "sqs.SenderId": "AIDAEXAMPLE",
        "sqs.attr.Source": "spapi",
        "sqs.attr.Count": "12",
        "sqs.attr.Blob": b"\x00\x01",
    }


def test_envelope_facts_never_fail_on_odd_json() -> None:
    """Metadata that is not an object, or null keys, yield no ids rather than an error."""
    assert read_envelope_facts('{"NotificationMetadata": "x"}').notification_id is None
    assert (
        read_envelope_facts(
            '{"NotificationMetadata": null, "notificationMetadata": {"notificationId": "c"}}'
        ).notification_id
        == "c"
    )


# --- a run ------------------------------------------------------------------------------------------------------


def test_every_message_is_forwarded_then_deleted(sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock) -> None:
    """25 messages arrive on Service Bus with their NotificationIds, each deleted from SQS only after its send."""
    for i in range(25):
        sqs.add(notification(f"n-{i}"))
    report = bridge(sqs, bus, clock).run()
    assert sorted(bus.messages) == sorted(f"n-{i}" for i in range(25))
    assert sqs.in_queue() == 0
    assert (report.received, report.forwarded, report.deleted, report.failed_sends) == (25, 25, 25, 0)
    assert report.ok
    assert all(call.visibility_timeout == 40 and call.max_messages == 10 for call in sqs.receives)


def test_a_delete_never_precedes_the_send_of_the_same_message(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """For every message the Service Bus send comes before its SQS delete."""
    ids = {sqs.add(notification(f"n-{i}")): f"n-{i}" for i in range(12)}
    bridge(sqs, bus, clock).run()
    position = {event: i for i, event in enumerate(sqs.events)}
    for sqs_id, nid in ids.items():
        assert position[f"send:{nid}"] < position[f"delete:{sqs_id}"]


def test_a_refused_send_deletes_nothing_releases_the_batch_and_stops_the_run(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """Service Bus refusing -> no delete, the messages are released at once, the run reports and stops."""
    for i in range(5):
        sqs.add(notification(f"n-{i}"))
    bus.fail_next_batches = 1
    report = bridge(sqs, bus, clock).run()
    assert sqs.deleted == []
    assert sorted(sqs.released) == sorted(sqs.stored)
    assert (report.received, report.forwarded, report.failed_sends, report.released) == (5, 0, 5, 5)
    assert len(sqs.receives) == 1
    assert not report.ok
    with pytest.raises(BridgeFailed):
        report.raise_for_failures()
    # the next run forwards everything
    again = bridge(sqs, bus, clock).run()
    assert again.forwarded == 5
    assert again.ok
    assert sqs.in_queue() == 0
    assert len(bus.messages) == 5


def test_a_timed_out_send_that_lands_later_is_dropped_as_a_duplicate_by_the_next_run(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A send whose acknowledgement never came keeps the messages in SQS; their resend is a duplicate, not a loss."""
    for i in range(3):
        sqs.add(notification(f"n-{i}"))
    bus.time_out_next_batches = 1
    first = bridge(sqs, bus, clock).run()
    assert first.failed_sends == 3
    assert sqs.deleted == []
    second = bridge(sqs, bus, clock).run()
    assert second.forwarded == 3
    assert bus.duplicates_dropped == 3
    assert len(bus.messages) == 3
    assert sqs.in_queue() == 0


def test_when_a_later_batch_fails_only_the_accepted_batches_are_deleted(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A receive batch split over several Service Bus batches: what was accepted is deleted, the rest released."""
    ids = [sqs.add(notification(f"n-{i}")) for i in range(10)]
    bus.batch_size = 4
    bus.fail_batch_numbers = {2}
    report = bridge(sqs, bus, clock).run()
    assert sorted(sqs.deleted) == sorted(ids[:4])
    assert sorted(sqs.released) == sorted(ids[4:])
    assert (report.forwarded, report.deleted, report.failed_sends) == (4, 4, 6)
    assert len(sqs.receives) == 1


def test_a_partial_delete_failure_is_reported_and_the_message_comes_back_as_a_duplicate(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """DeleteMessageBatch failing one entry: reported as failed_deletes; the redelivery is dropped by Service Bus."""
    ids = [sqs.add(notification(f"n-{i}")) for i in range(4)]
    sqs.fail_delete_ids[ids[2]] = "InternalError"
    report = bridge(sqs, bus, clock, max_seconds=10).run()
    assert (report.forwarded, report.deleted, report.failed_deletes) == (4, 3, 1)
    assert not report.ok
    assert "InternalError" in report.errors[0]
    assert sqs.in_queue() == 1
    clock.advance(40)  # its visibility timeout ends
    again = bridge(sqs, bus, clock, max_seconds=10).run()
    assert again.deleted == 1
    assert bus.duplicates_dropped == 1
    assert sqs.in_queue() == 0


def test_repeats_within_one_receive_batch_are_sent_once_and_all_deleted(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """Two SQS messages with the same NotificationId: one Service Bus message, both SQS messages deleted."""
    sqs.add(notification("same"))
    sqs.add(notification("same"))
    sqs.add(notification("other"))
    report = bridge(sqs, bus, clock, max_seconds=5).run()
    assert (report.received, report.forwarded, report.duplicates_skipped, report.deleted) == (3, 2, 1, 3)
    assert bus.duplicates_dropped == 0
    assert sqs.in_queue() == 0


def test_a_message_too_large_for_service_bus_stays_in_flight_and_is_reported(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A message no batch can hold is neither deleted nor released (it would come straight back); the rest flow."""
    big = sqs.add(notification("big"))
    sqs.add(notification("small"))
    bus.too_large_ids = {"big"}
    report = bridge(sqs, bus, clock, max_seconds=5).run()
    assert list(bus.messages) == ["small"]
    assert big in sqs.stored
    assert big not in sqs.released
    assert report.failed_sends == 1
    assert not report.ok


def test_a_non_notification_is_forwarded_under_its_sqs_message_id(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A body that is not a notification still reaches Service Bus (order sync dead-letters it), keyed by MessageId."""
    sqs_id = sqs.add("this is not a notification")
    bridge(sqs, bus, clock, max_seconds=5).run()
    assert bus.messages[sqs_id].body == b"this is not a notification"
    assert sqs.in_queue() == 0


# --- time ---------------------------------------------------------------------------------------------------------


def test_an_idle_run_long_polls_within_its_budget(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """On an empty queue a 50 s run polls 20 + 20 + 8 s and stops before its budget ends."""
    report = bridge(sqs, bus, clock).run()
    assert [call.wait_seconds for call in sqs.receives] == [20, 20, 8]  # never a short poll on an idle queue
    assert report.elapsed <= 50
    assert report.received == 0
    assert report.ok


def test_a_run_with_a_continuous_trickle_stops_within_its_budget(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A message arriving every 0.3 s keeps every poll short; the run still ends inside BRIDGE_MAX_SECONDS."""
    started = clock.now

    def trickle() -> None:
        clock.advance(0.3)
        sqs.add(notification(f"t-{len(sqs.receives)}"))

    sqs.on_receive = trickle
    report = bridge(sqs, bus, clock, max_seconds=12).run()
    assert clock.now - started <= 12
    assert clock.now - started > 12 - 2  # busy: it keeps receiving with short polls into the last second
    assert report.received == report.forwarded == report.deleted > 10
    assert all(call.wait_seconds <= 20 for call in sqs.receives)
    assert sqs.receives[-1].wait_seconds == 0


def test_every_send_ends_before_the_visibility_timeout_less_the_delete_reserve(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A message returned at the very end of a 20 s long poll still gets a send timeout inside its visibility."""
    options = BridgeOptions(max_seconds=50, visibility_timeout=40, send_timeout=10, delete_reserve=5)
    receive_started: list[float] = []

    def arrives_late() -> None:
        receive_started.append(clock.now)
        if len(sqs.receives) == 1:
            clock.advance(19.5)  # the poll waits, then a message arrives
            sqs.add(notification("late"))

    sqs.on_receive = arrives_late
    Bridge(sqs, bus, options, clock=clock, wall_clock=clock.wall).run()
    # receive started at t0, send started at t0 + 19.5: at most 40 - 5 - 19.5 = 15.5 s, capped at 10
    assert bus.timeouts[0] <= 10
    assert receive_started[0] + 19.5 + bus.timeouts[0] <= receive_started[0] + 40 - 5
    assert options.longest_poll == 20


def test_the_long_poll_is_shortened_so_a_send_always_fits_the_visibility_timeout() -> None:
    """With a short visibility timeout the poll shrinks to what leaves a full send and delete inside it."""
    assert BridgeOptions(visibility_timeout=20, send_timeout=10, delete_reserve=5).longest_poll == 5
    assert BridgeOptions(visibility_timeout=3, send_timeout=1, delete_reserve=0.5).longest_poll == 1
    with pytest.raises(ValueError, match="visibility_timeout"):
        BridgeOptions(visibility_timeout=10, send_timeout=10, delete_reserve=5)


def test_messages_received_too_close_to_the_end_of_the_budget_are_released_unsent(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """If less than min_send_timeout remains, the batch is not sent but released for the next run."""
    options = BridgeOptions(max_seconds=10, forward_reserve=0.2, min_send_timeout=0.5)

    def poll_eats_the_budget() -> None:
        clock.advance(9.6)
        sqs.add(notification("edge"))

    sqs.on_receive = poll_eats_the_budget
    report = Bridge(sqs, bus, options, clock=clock, wall_clock=clock.wall).run()
    assert bus.messages == {}
    assert report.deferred == 1
    assert report.released == 1
    assert report.ok


def test_a_send_that_overran_the_visibility_timeout_still_deletes_and_nothing_is_lost(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """A stalled send ends after the receipts expired: the delete is tried (reported late), SQS refuses the stale
    receipts, the messages come back, the next run's resend is dropped as a duplicate and the delete succeeds."""
    for i in range(3):
        sqs.add(notification(f"n-{i}"))
    original = bus.send

    def stalled_send(messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
        bus.send = original  # type: ignore[method-assign]  # only this once
        result = original(messages, timeout=timeout)
        clock.advance(45)  # the host paused past the 40 s visibility timeout
        return result

    bus.send = stalled_send  # type: ignore[method-assign]
    report = bridge(sqs, bus, clock, max_seconds=60).run()
    # first batch: forwarded, delete refused (stale receipts); they came back in the same run, were sent
    # again (dropped as duplicates by Service Bus) and deleted with fresh receipts.
    assert report.late_deletes == 3
    assert report.failed_deletes == 3
    assert report.deleted == 3
    assert report.forwarded == 6
    assert not report.ok
    assert bus.duplicates_dropped == 3
    assert len(bus.messages) == 3
    assert sqs.in_queue() == 0


def test_latencies_measure_sqs_sent_timestamp_to_service_bus_acceptance(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """Each forwarded message yields one latency: SQS SentTimestamp to the moment Service Bus accepted it."""
    sqs.add(notification("n-1"), sent_at=clock.wall() - 2.0)
    report = bridge(sqs, bus, clock, max_seconds=5).run()
    assert len(report.latencies) == 1
    assert 2.0 <= report.latencies[0] <= 2.1


def test_a_failing_receive_ends_the_run_with_a_reported_error(clock: FakeClock, bus: FakeServiceBus) -> None:
    """SQS unavailable: the run stops at once and says why, without touching Service Bus."""
    from shared.bridge.sqs import SqsUnavailable

    class Down(FakeSqs):
        def receive(self, **kwargs: int) -> list[SqsMessage]:
            raise SqsUnavailable("SQS ReceiveMessage failed: ServiceUnavailable", code="ServiceUnavailable")

    report = bridge(Down(clock), bus, clock).run()
    assert report.errors == ["receive: SQS ReceiveMessage failed: ServiceUnavailable"]
    assert bus.timeouts == []


def test_a_crash_between_send_and_delete_loses_nothing(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """An exception after the send propagates; SQS redelivers after the visibility timeout and Service Bus drops it."""
    sqs.add(notification("n-1"))
    original_delete = sqs.delete

    def crash(messages: Sequence[SqsMessage]) -> BatchOutcome:
        raise RuntimeError("host died")

    sqs.delete = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        bridge(sqs, bus, clock).run()
    sqs.delete = original_delete  # type: ignore[method-assign]
    assert list(bus.messages) == ["n-1"]
    clock.advance(40)
    report = bridge(sqs, bus, clock, max_seconds=5).run()
    assert report.deleted == 1
    assert bus.duplicates_dropped == 1
    assert sqs.in_queue() == 0


# --- settings and entry point ----------------------------------------------------------------------------------


def test_a_disabled_bridge_returns_at_once_without_connecting() -> None:
    """BRIDGE_ENABLED=false: no connector is built, the report says why."""
    settings = make_settings(BRIDGE_ENABLED="false", SQS_QUEUE_URL="http://127.0.0.1:9/1/q")
    report = run_bridge(settings)
    assert report.skipped == "BRIDGE_ENABLED is false"
    assert (report.receives, report.received) == (0, 0)
    assert report.ok


def test_a_bridge_without_a_queue_url_returns_at_once_without_connecting() -> None:
    """SQS_QUEUE_URL unset: the bridge is idle."""
    settings = make_settings(SQS_QUEUE_URL=None)
    report = run_bridge(settings)
    assert report.skipped == "SQS_QUEUE_URL is not set"
    assert report.ok


def test_run_bridge_uses_and_keeps_the_connectors_it_is_given(
    sqs: FakeSqs, bus: FakeServiceBus, clock: FakeClock
) -> None:
    """Injected connectors and clocks are used as given, with the budget from BRIDGE_MAX_SECONDS."""
    settings = make_settings(BRIDGE_MAX_SECONDS="6", SQS_QUEUE_URL="http://127.0.0.1:9/1/q")
    sqs.add(notification("n-1"))
    report = run_bridge(settings, sqs=sqs, sender=bus, clock=clock, wall_clock=clock.wall)
    assert report.forwarded == 1
    assert report.elapsed <= 6
    assert BridgeOptions.from_settings(settings).forward_reserve == 2.0
    tiny = make_settings(BRIDGE_MAX_SECONDS="1.5")
    assert BridgeOptions.from_settings(tiny).forward_reserve == 0.5


def test_half_a_key_pair_is_a_configuration_error() -> None:
    """AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY (or the reverse) fails naming the settings."""
    from shared.bridge.sqs import Boto3SqsQueue

    settings = make_settings(
        SQS_QUEUE_URL="http://127.0.0.1:9/1/q", AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY=None
    )
    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        Boto3SqsQueue.from_settings(settings)


def test_report_summary_holds_counts_only() -> None:
    """The summary logged after each run is counts and timing, nothing from a message."""
    report = BridgeReport(received=2, forwarded=2, deleted=2, elapsed=1.23456)
    assert report.summary()["elapsed"] == 1.235
    assert set(report.summary()) >= {"received", "forwarded", "deleted", "failed_sends", "failed_deletes"}


def test_importing_the_bridge_loads_neither_boto3_nor_the_service_bus_sdk() -> None:
    """`import shared.bridge` stays cheap: the SDKs are imported on first use."""
    code = (
        "import sys, shared.bridge, shared.bridge.sqs, shared.servicebus.sender;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') or m.startswith('azure.servicebus')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the SQS connector on boto3 (botocore's Stubber: real client, scripted answers) --------------------------

QUEUE_URL = "http://127.0.0.1:9/123456789012/notifications"


@pytest.fixture
def stubbed():
    import boto3
    from botocore.stub import Stubber

    from shared.bridge.sqs import Boto3SqsQueue

    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(client) as stubber:
        yield Boto3SqsQueue(QUEUE_URL, poll_client=client, control_client=client), stubber
        stubber.assert_no_pending_responses()


def received(message_id: str, receipt: str) -> SqsMessage:
    return SqsMessage(message_id, receipt, "{}", {})


def test_receive_asks_for_every_attribute_with_the_given_wait_and_visibility(stubbed) -> None:
    """ReceiveMessage carries MaxNumberOfMessages, WaitTimeSeconds, VisibilityTimeout and All attributes."""
    queue, stubber = stubbed
    stubber.add_response(
        "receive_message",
        {
            "Messages": [
                {
                    "MessageId": "m-1",
                    "ReceiptHandle": "r-1",
                    "Body": '{"a": 1}',
                    "Attributes": {"SentTimestamp": "1795784830142", "ApproximateReceiveCount": "1"},
                    "MessageAttributes": {
                        "S": {"DataType": "String", "StringValue": "v"},
                        "N": {"DataType": "Number.int", "StringValue": "7"},
                        "B": {"DataType": "Binary", "BinaryValue": b"\x01"},
                    },
                }
            ]
        },
        expected_params={
            "QueueUrl": QUEUE_URL,
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": 20,
            "VisibilityTimeout": 40,
            "MessageSystemAttributeNames": ["All"],
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        },
    )
    [got] = queue.receive(max_messages=10, wait_seconds=20, visibility_timeout=40)
    assert (got.message_id, got.receipt_handle, got.body) == ("m-1", "r-1", '{"a": 1}')
    assert got.message_attributes == {"S": "v", "N": "7", "B": b"\x01"}
    assert got.sent_at == 1795784830.142
    assert "r-1" not in repr(got)
    assert '"a"' not in repr(got)


def test_receive_refuses_waits_sqs_does_not_allow(stubbed) -> None:
    """WaitTimeSeconds over 20 or more than 10 messages never reach SQS."""
    queue, _ = stubbed
    with pytest.raises(ValueError, match="0-20"):
        queue.receive(max_messages=10, wait_seconds=21, visibility_timeout=40)
    with pytest.raises(ValueError, match="1-10"):
        queue.receive(max_messages=11, wait_seconds=1, visibility_timeout=40)


def test_delete_reports_each_entry_of_a_partly_failed_batch(stubbed) -> None:
    """DeleteMessageBatch with one Failed entry: that message id and its code, the rest succeeded."""
    queue, stubber = stubbed
    stubber.add_response(
        "delete_message_batch",
        {
            "Successful": [{"Id": "m0"}, {"Id": "m2"}],
            "Failed": [{"Id": "m1", "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}],
        },
        expected_params={
            "QueueUrl": QUEUE_URL,
            "Entries": [
                {"Id": "m0", "ReceiptHandle": "r-a"},
                {"Id": "m1", "ReceiptHandle": "r-b"},
                {"Id": "m2", "ReceiptHandle": "r-c"},
            ],
        },
    )
    outcome = queue.delete([received("a", "r-a"), received("b", "r-b"), received("c", "r-c")])
    assert outcome.succeeded == ("a", "c")
    assert outcome.failed == (EntryFailure("b", "ReceiptHandleIsInvalid", sender_fault=True),)


def test_delete_splits_into_calls_of_ten_and_a_failed_call_fails_only_its_entries(stubbed) -> None:
    """12 deletes are two calls; when the second call fails as a whole, its 2 entries are reported failed."""
    queue, stubber = stubbed
    stubber.add_response(
        "delete_message_batch", {"Successful": [{"Id": f"m{i}"} for i in range(10)], "Failed": []}
    )
    stubber.add_client_error(
        "delete_message_batch", service_error_code="ServiceUnavailable", http_status_code=503
    )
    outcome = queue.delete([received(f"id-{i}", f"r-{i}") for i in range(12)])
    assert len(outcome.succeeded) == 10
    assert [(f.message_id, f.code) for f in outcome.failed] == [
        ("id-10", "ServiceUnavailable"),
        ("id-11", "ServiceUnavailable"),
    ]


def test_an_entry_sqs_does_not_mention_counts_as_not_deleted(stubbed) -> None:
    """An answer missing an entry never turns into a silent success."""
    queue, stubber = stubbed
    stubber.add_response("delete_message_batch", {"Successful": [{"Id": "m0"}], "Failed": []})
    outcome = queue.delete([received("a", "r-a"), received("b", "r-b")])
    assert outcome.succeeded == ("a",)
    assert outcome.failed == (EntryFailure("b", "NoAnswer", sender_fault=False),)


def test_release_sets_the_visibility_timeout_to_zero(stubbed) -> None:
    """Releasing is ChangeMessageVisibilityBatch with VisibilityTimeout 0 per entry."""
    queue, stubber = stubbed
    stubber.add_response(
        "change_message_visibility_batch",
        {"Successful": [{"Id": "m0"}], "Failed": []},
        expected_params={
            "QueueUrl": QUEUE_URL,
            "Entries": [{"Id": "m0", "ReceiptHandle": "r-a", "VisibilityTimeout": 0}],
        },
    )
    assert queue.release([received("a", "r-a")]).succeeded == ("a",)


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("AWS.SimpleQueueService.NonExistentQueue", "SqsRefused"),
        ("AccessDenied", "SqsRefused"),
        ("ThrottlingException", "SqsUnavailable"),
    ],
)
def test_receive_errors_are_typed_by_what_can_fix_them(stubbed, code: str, error_type: str) -> None:
    """A missing queue or denied access is a configuration error; throttling and 5xx are transient."""
    queue, stubber = stubbed
    stubber.add_client_error(
        "receive_message", service_error_code=code, service_message="secret details", http_status_code=400
    )
    with pytest.raises(SyncError) as caught:
        queue.receive(max_messages=10, wait_seconds=1, visibility_timeout=40)
    assert type(caught.value).__name__ == error_type
    assert code in str(caught.value)
    assert "secret details" not in str(caught.value)
    assert caught.value.transient is (error_type == "SqsUnavailable")


def test_the_sqs_client_follows_the_settings() -> None:
    """Region, SQS_ENDPOINT and the keys from the settings reach the boto3 client."""
    from shared.bridge.sqs import sqs_client

    settings = make_settings(
        AWS_REGION="eu-west-1",
        SQS_ENDPOINT="http://127.0.0.1:4566",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example-secret",
    )
    client = sqs_client(settings, read_timeout=30, max_attempts=3)
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.config.read_timeout == 30  # type: ignore[attr-defined]
    assert client._request_signer._credentials.access_key == "AKIAEXAMPLE"  # type: ignore[attr-defined]
    client.close()


# --- the Service Bus sender (the SDK's real ServiceBusMessageBatch, a fake link) -----------------------------


class FakeSdkSender:
    def __init__(self, batch_bytes: int, failures: list[Exception]) -> None:
        self.batch_bytes = batch_bytes
        self.failures = failures
        self.sent: list[list[str]] = []
        self.timeouts: list[float] = []
        self.closed = False
        self.batches_created = 0

    def create_message_batch(self):
        from azure.servicebus import ServiceBusMessageBatch

        self.batches_created += 1
        return ServiceBusMessageBatch(max_size_in_bytes=self.batch_bytes)

    def send_messages(self, batch, *, timeout: float) -> None:
        self.timeouts.append(timeout)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append([m.message_id for m in batch._messages])

    def close(self) -> None:
        self.closed = True


class FakeSdkClient:
    def __init__(self, sender: FakeSdkSender) -> None:
        self.sender = sender
        self.queues: list[str] = []
        self.closed = False

    def get_queue_sender(self, queue: str) -> FakeSdkSender:
        self.queues.append(queue)
        return self.sender

    def close(self) -> None:
        self.closed = True


def outgoing(message_id: str, size: int = 150) -> OutgoingMessage:
    return OutgoingMessage(b"x" * size, message_id, {"sqs.MessageId": message_id})


def test_the_sender_splits_batches_when_full_and_sends_them_in_order() -> None:
    """Messages fill ServiceBusMessageBatches up to the size limit; each full batch is sent, then the next."""
    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=2000, failures=[])
    client = FakeSdkClient(link)
    sender = ServiceBusQueueSender(client, "amazon-notifications", unopened_batch_bytes=1000)  # type: ignore[arg-type]
    result = sender.send([outgoing(f"id-{i}") for i in range(10)], timeout=5)
    assert result.accepted == tuple(range(10))
    assert result.error is None
    assert [len(batch) for batch in link.sent] == [4, 4, 2]
    assert [m for batch in link.sent for m in batch] == [f"id-{i}" for i in range(10)]
    assert client.queues == ["amazon-notifications"]
    sender.close()
    assert link.closed
    assert client.closed


def test_the_first_send_opens_the_link_within_the_timeout_and_later_ones_use_its_limit() -> None:
    """Before a send succeeded no create_message_batch (it opens the link outside any timeout) is called and
    batches use the lowest tier's limit; afterwards they use the limit the link reports."""
    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=2000, failures=[])
    sender = ServiceBusQueueSender(FakeSdkClient(link), "q", unopened_batch_bytes=1000)  # type: ignore[arg-type]
    sender.send([outgoing(f"a-{i}") for i in range(8)], timeout=5)
    assert link.batches_created == 0
    assert [len(batch) for batch in link.sent] == [4, 4]
    sender.send([outgoing(f"b-{i}") for i in range(8)], timeout=5)
    assert link.batches_created >= 1
    assert [len(batch) for batch in link.sent[2:]] == [8]


def test_the_sender_reports_the_batches_accepted_before_a_failure_and_stops() -> None:
    """When the second batch is refused the first batch's positions are accepted, the rest not attempted."""
    from azure.servicebus.exceptions import ServiceBusServerBusyError

    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=1000, failures=[])
    original = link.send_messages
    calls = {"n": 0}

    def second_fails(batch, *, timeout: float) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ServiceBusServerBusyError(message="busy")
        original(batch, timeout=timeout)

    link.send_messages = second_fails  # type: ignore[method-assign]
    sender = ServiceBusQueueSender(FakeSdkClient(link), "q", unopened_batch_bytes=1000)  # type: ignore[arg-type]
    result = sender.send([outgoing(f"id-{i}") for i in range(10)], timeout=5)
    assert result.accepted == (0, 1, 2, 3)
    assert result.error is not None
    assert result.error.outcome_unknown is False
    assert calls["n"] == 2
    assert "ServiceBusServerBusyError" in str(result.error)


def test_a_send_timeout_is_reported_as_an_unknown_outcome() -> None:
    """OperationTimeoutError: the batch may still land, so the failure says the outcome is unknown."""
    from azure.servicebus.exceptions import OperationTimeoutError

    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=100_000, failures=[OperationTimeoutError(message="late")])
    result = ServiceBusQueueSender(FakeSdkClient(link), "q").send([outgoing("a")], timeout=2.5)  # type: ignore[arg-type]
    assert result.accepted == ()
    assert result.error is not None
    assert result.error.outcome_unknown
    assert 0 < link.timeouts[0] <= 2.5


def test_a_message_larger_than_an_empty_batch_is_set_aside_and_the_rest_sent() -> None:
    """A message no batch of the namespace can hold (checked against the link's own limit) is reported
    too_large; its neighbours are sent."""
    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=1000, failures=[])
    sender = ServiceBusQueueSender(FakeSdkClient(link), "q", unopened_batch_bytes=1000)  # type: ignore[arg-type]
    result = sender.send([outgoing("a"), outgoing("huge", size=5000), outgoing("b")], timeout=5)
    assert result.accepted == (0, 2)
    assert result.too_large == (1,)
    assert link.sent == [["a", "b"]]


def test_a_message_over_the_lowest_tier_limit_is_sent_when_the_namespace_allows_it() -> None:
    """Over 256 KB-style limits but within the link's (Premium) limit: the sender learns the limit and sends it."""
    from shared.servicebus.sender import ServiceBusQueueSender

    link = FakeSdkSender(batch_bytes=10_000, failures=[])
    sender = ServiceBusQueueSender(FakeSdkClient(link), "q", unopened_batch_bytes=1000)  # type: ignore[arg-type]
    result = sender.send([outgoing("a"), outgoing("big", size=5000)], timeout=5)
    assert result.accepted == (0, 1)
    assert result.too_large == ()


def test_the_send_timeout_covers_every_batch_together() -> None:
    """Each batch gets what is left of the one timeout; none is started once it is used up."""
    from shared.servicebus.sender import ServiceBusQueueSender

    fake_now = [0.0]
    link = FakeSdkSender(batch_bytes=1000, failures=[])
    original = link.send_messages

    def slow(batch, *, timeout: float) -> None:
        fake_now[0] += 3.0
        original(batch, timeout=timeout)

    link.send_messages = slow  # type: ignore[method-assign]
    client: Any = FakeSdkClient(link)
    sender = ServiceBusQueueSender(client, "q", clock=lambda: fake_now[0], unopened_batch_bytes=1000)
    result = sender.send([outgoing(f"id-{i}") for i in range(10)], timeout=5)
    assert link.timeouts == [5.0, 2.0]
    assert result.accepted == tuple(range(8))
    assert result.error is not None
    assert "no time left" in str(result.error)
