"""An AMQP 1.0 stand-in for Azure Service Bus queues that the unmodified azure-servicebus SDK talks to.

with ServiceBusStandIn({"orders": QueueOptions(max_delivery_count=3)}) as bus:
    client = ServiceBusClient.from_connection_string(bus.connection_string)
"""

from .codec import MessageView
from .queues import MAX_DELIVERY_COUNT_EXCEEDED, SERVER_BUSY, QueueOptions
from .standin import ServiceBusStandIn

__all__ = ["MAX_DELIVERY_COUNT_EXCEEDED", "SERVER_BUSY", "MessageView", "QueueOptions", "ServiceBusStandIn"]
