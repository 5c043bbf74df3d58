"""An AMQP 1.0 stand-in for Azure Service Bus queues and topics that the unmodified azure-servicebus SDK talks to.

    topics = {"changes": TopicOptions({"all": SubscriptionOptions(), "crm": SubscriptionOptions(
        correlation={"source": "crm"})})}
    with ServiceBusStandIn({"orders": QueueOptions(max_delivery_count=3)}, topics=topics) as bus:
        client = ServiceBusClient.from_connection_string(bus.connection_string)

What it does: SASL ANONYMOUS and $cbs put-token (any token; 404 for a queue that does not exist when
auto_create_queues is off); senders with single messages and batches; peek-lock and receive-and-delete
receivers on a queue and its $DeadLetterQueue with credit, prefetch and drain; complete, abandon, release and
dead-letter on the link; lock expiry and MaxDeliveryCountExceeded; duplicate detection by message_id;
$management renew-lock, peek-message and update-disposition; scheduled_enqueue_time_utc (the message stays
invisible until then). Topics (declared, never auto-created) copy each message to every subscription whose
correlation filter (application properties) accepts it; duplicate detection is the topic's; a subscription is
received from, settled, dead-lettered and inspected like a queue under `<topic>/Subscriptions/<name>`.

Not there: SQL filters and rule actions, sessions, defer, receive-by-sequence-number and schedule_messages
(refused), time-to-live expiry, transactions, SASL PLAIN (proton's wheel cannot check it as a server; the SDK never offers it).
"""

from .codec import MessageView
from .queues import (
    MAX_DELIVERY_COUNT_EXCEEDED,
    SERVER_BUSY,
    QueueOptions,
    SubscriptionOptions,
    TopicOptions,
    subscription_path,
)
from .standin import ServiceBusStandIn

__all__ = [
    "MAX_DELIVERY_COUNT_EXCEEDED",
    "SERVER_BUSY",
    "MessageView",
    "QueueOptions",
    "ServiceBusStandIn",
    "SubscriptionOptions",
    "TopicOptions",
    "subscription_path",
]
