"""The SQS -> Service Bus bridge: SP-API notifications arrive in Amazon SQS and are forwarded, each minute by
a timer, to the AMAZON_NOTIFICATIONS_QUEUE Service Bus queue. The composition root (shared/runtime.py) builds
one `Bridge` per worker; `run_bridge(settings)` is a one-shot run on connectors of its own.

Nothing here imports boto3 or azure-servicebus at module import: the connectors import them on first use.
"""

from shared.bridge.forwarder import (
    Bridge,
    BridgeFailed,
    BridgeOptions,
    BridgeReport,
    idle_reason,
    run_bridge,
)

__all__ = ["Bridge", "BridgeFailed", "BridgeOptions", "BridgeReport", "idle_reason", "run_bridge"]
