"""Publish every applied inventory change, either direction, to the inventory-changes topic.

Subscribers (documented with the topic in the README) filter on the application properties `source`
(crm | amazon-fba | amazon-mfn) and `marketplaceId`. The body holds SKU, marketplace, quantity, source and time: no buyer
data. The message id is derived from the change, so publishing it again after a failure is dropped by the
topic's duplicate detection; callers publish after the change is applied and record that they did, so a
failed publish is tried again on the message's next delivery and never lost.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence

from shared.errors import TransientError
from shared.model.inventory import InventoryChange
from shared.servicebus.sender import NotificationSender, OutgoingMessage

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 10.0


class PublishFailed(TransientError):
    reason = "InventoryTopicUnavailable"


class InventoryPublisher:
    def __init__(self, sender: NotificationSender | None) -> None:
        self._sender = sender  # None: no topic configured, nothing is published
        self.published = 0
        self._lock = threading.Lock()

    def publish(self, changes: Sequence[InventoryChange]) -> None:
        """Send the changes to the topic; raises PublishFailed unless Service Bus accepted every one."""
        if not changes or self._sender is None:
            return
        result = self._sender.send([_message(change) for change in changes], timeout=PUBLISH_TIMEOUT_SECONDS)
        if len(result.accepted) != len(changes):
            raise PublishFailed(
                f"inventory topic accepted {len(result.accepted)} of {len(changes)} changes"
                + (f" ({result.error})" if result.error else "")
            )
        with self._lock:
            self.published += len(changes)
        log.info("Published %d inventory change(s)", len(changes))

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()


def _message(change: InventoryChange) -> OutgoingMessage:
    digest = hashlib.sha256(change.identity.encode("utf-8")).hexdigest()
    return OutgoingMessage(
        body=change.body(),
        message_id=f"inventory-{digest[:48]}",
        application_properties={
            "source": change.source.value,
            "marketplaceId": change.marketplace_id,
            "sku": change.sku,
        },
        subject="inventory-change",
    )
