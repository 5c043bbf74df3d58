"""Topics and subscriptions of the Service Bus stand-in against the unmodified azure-servicebus SDK: what the
inventory-changes topic's publisher and subscribers do, one documented behaviour per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import ServiceBusError

from sandbox.servicebus_broker import ServiceBusStandIn, SubscriptionOptions, TopicOptions, subscription_path

pytestmark = pytest.mark.sockets


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def bus() -> Iterator[ServiceBusStandIn]:
    with ServiceBusStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def declared(bus: ServiceBusStandIn, topic: str) -> str:
    subscriptions = {
        "all": SubscriptionOptions(),
        "from-crm": SubscriptionOptions(correlation={"source": "crm"}),
    }
    bus.add_topic(topic, TopicOptions(subscriptions))
    return topic


@pytest.fixture
def client(bus: ServiceBusStandIn) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(bus.connection_string, retry_total=0) as sb_client:
        yield sb_client


def publish(client: ServiceBusClient, topic: str, *messages: ServiceBusMessage) -> None:
    with client.get_topic_sender(topic) as sender:
        sender.send_messages(list(messages))


def receive(
    client: ServiceBusClient, topic: str, subscription: str, count: int = 10, **kwargs: object
) -> list[ServiceBusReceivedMessage]:
    received: list[ServiceBusReceivedMessage] = []
    with client.get_subscription_receiver(topic, subscription, **kwargs) as receiver:  # type: ignore[arg-type]
        while len(received) < count:
            batch = receiver.receive_messages(max_message_count=count - len(received), max_wait_time=1)
            if not batch:
                break
            for message in batch:
                receiver.complete_message(message)
            received += batch
    return received


def change(source: str, sku: str, message_id: str | None = None) -> ServiceBusMessage:
    return ServiceBusMessage(
        f'{{"sku": "{sku}"}}'.encode(),
        message_id=message_id or str(uuid.uuid4()),
        application_properties={"source": source},
    )


def test_each_subscription_receives_the_messages_its_filter_accepts(
    client: ServiceBusClient, declared: str
) -> None:
    """The unfiltered subscription gets everything; `source = 'crm'` only what the CRM side published."""
    publish(client, declared, change("crm", "A"), change("amazon", "B"), change("crm", "C"))
    everything = receive(client, declared, "all", count=3)
    from_crm = receive(client, declared, "from-crm", count=2)
    assert sorted(b"".join(m.body) for m in everything) == [b'{"sku": "A"}', b'{"sku": "B"}', b'{"sku": "C"}']
    assert [b"".join(m.body) for m in from_crm] == [b'{"sku": "A"}', b'{"sku": "C"}']
    assert from_crm[0].application_properties == {b"source": b"crm"}


def test_a_repeated_message_id_reaches_no_subscription_twice(
    client: ServiceBusClient, bus: ServiceBusStandIn, declared: str
) -> None:
    """Duplicate detection on the topic drops the repeat before it is copied to the subscriptions."""
    publish(client, declared, change("crm", "A", "change-1"))
    publish(client, declared, change("crm", "A", "change-1"))
    assert bus.counts(declared) == {"duplicates_dropped": 1}
    assert len(receive(client, declared, "all", count=1)) == 1
    assert bus.counts(subscription_path(declared, "all"))["active"] == 0


def test_a_subscriber_dead_letters_with_a_reason_into_the_subscriptions_own_queue(
    client: ServiceBusClient, bus: ServiceBusStandIn, declared: str
) -> None:
    """Dead-lettering from a subscription keeps reason and description, readable through its $DeadLetterQueue."""
    publish(client, declared, change("crm", "A"))
    with client.get_subscription_receiver(declared, "from-crm") as receiver:
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=1)
        receiver.dead_letter_message(message, reason="NotForUs", error_description="test")
    [dead] = receive(client, declared, "from-crm", count=1, sub_queue=ServiceBusSubQueue.DEAD_LETTER)
    assert (dead.dead_letter_reason, dead.dead_letter_error_description) == ("NotForUs", "test")
    assert bus.counts(subscription_path(declared, "all"))["active"] == 1


def test_an_undeclared_subscription_cannot_be_received_from(client: ServiceBusClient, declared: str) -> None:
    """Subscriptions exist only when declared, as on Service Bus where the template creates them."""
    with (
        pytest.raises(ServiceBusError),
        client.get_subscription_receiver(declared, "nobody") as receiver,
    ):
        receiver.receive_messages(max_message_count=1, max_wait_time=0.5)
