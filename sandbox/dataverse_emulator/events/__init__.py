"""Events to Azure: registered steps turn writes into RemoteExecutionContext messages for a sink.

Modules: messages (the platform's sdkmessage/sdkmessagefilter rows), registration (checks on endpoints, steps
and images), context (the RemoteExecutionContext body, two shapes), pipeline (matching writes to steps,
commit-time delivery), sinks (EventMessage and the Service Bus sink).
"""

from .context import ContextShape
from .pipeline import EventPipeline, Undelivered
from .sinks import EventMessage, EventSink, ServiceBusSink

__all__ = ["ContextShape", "EventMessage", "EventPipeline", "EventSink", "ServiceBusSink", "Undelivered"]
