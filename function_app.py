"""Azure Functions entry point (Python v2 programming model). Triggers only: decode, call a flow, settle.

Heavy SDKs are imported inside the functions, on first use, so a cold start pays only for what runs.
"""

from __future__ import annotations

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

app = func.FunctionApp()


@app.service_bus_queue_trigger(
    arg_name="messages",
    queue_name="%AMAZON_NOTIFICATIONS_QUEUE%",
    connection="ServiceBusConnection",
    cardinality="many",
    auto_complete_messages=False,
)
def amazon_notifications(
    messages: list[servicebus.ServiceBusReceivedMessage], message_actions: servicebus.ServiceBusMessageActions
) -> None:
    """ORDER_CHANGE notifications -> Dynamics sales orders; every message completed, abandoned or dead-lettered."""
    from shared.runtime import get_runtime
    from shared.servicebus.settlement import run_and_settle

    run_and_settle(messages, message_actions, get_runtime().order_sync.handle)
