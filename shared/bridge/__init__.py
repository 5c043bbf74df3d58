"""The SQS -> Service Bus bridge: SP-API notifications arrive in Amazon SQS and are forwarded, each minute by
a timer, to the AMAZON_NOTIFICATIONS_QUEUE Service Bus queue. `run_bridge(settings)` is the timer's call.

Nothing here imports boto3 or azure-servicebus at module import: the connectors import them on first use.
"""

from shared.bridge.forwarder import Bridge, BridgeFailed, BridgeOptions, BridgeReport, run_bridge

__all__ = ["Bridge", "BridgeFailed", "BridgeOptions", "BridgeReport", "run_bridge"]
