"""What the CRM already holds for an Amazon order, and the one rule that says a change is stale.

Order sync asks "is this stale?" at three moments: when a notification arrives (before any Amazon call),
after the order is fetched and planned, and after waiting for another instance that was writing the same
order. Each asks the same question of the same record, with what it knows at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.model.crm import CrmState
from shared.model.order import OrderStatus


@dataclass(frozen=True)
class OrderVersion:
    """A version of an Amazon order as far as we know it: announced by a notification (its time only),
    fetched from Amazon (time and status), or planned (also the hash of what we would write)."""

    amazon_updated: datetime
    status: OrderStatus | None = None
    content_hash: str | None = None
    fetched: bool = False

    @classmethod
    def announced(cls, amazon_updated: datetime) -> OrderVersion:
        return cls(amazon_updated)

    @classmethod
    def snapshot(
        cls, amazon_updated: datetime, status: OrderStatus, content_hash: str | None = None
    ) -> OrderVersion:
        return cls(amazon_updated, status, content_hash, fetched=True)


@dataclass(frozen=True)
class AppliedOrder:
    """The last write that reached the CRM for one Amazon order (the checkpoint's committed part)."""

    amazon_updated: datetime  # Amazon lastUpdatedTime of the snapshot written
    status: OrderStatus
    content_hash: str
    crm_state: CrmState | None  # where the write left the salesorder
    salesorder_id: str | None = None

    def covers(self, version: OrderVersion) -> bool:
        """True when writing `version` would change nothing or move the order backwards:
        - the same content was written already;
        - Amazon's version is older than the one written (notifications and snapshots arrive out of order);
        - an announced version (not fetched yet) is the very one written, so fetching it would be wasted;
        - its status is behind the written one (Amazon's statuses only move forward).
        An equal time with different content is not covered: the mapping or the CRM's products changed."""
        if version.content_hash is not None and version.content_hash == self.content_hash:
            return True
        if version.amazon_updated < self.amazon_updated:
            return True
        if not version.fetched and version.amazon_updated == self.amazon_updated:
            return True
        return version.status is not None and version.status.rank < self.status.rank
