"""Claiming orders before writing them, so that two instances never write the same change.

A claim is an ETag-conditional update of the order's checkpoint that marks a write as pending, with its
owner (the invocation that started it) and time. All orders of a batch are claimed in one go; an order that
another invocation is writing right now is waited for, briefly, one by one, then given back to be tried
after the claim's lease. A pending claim is taken over (and the order *repaired*) when it is our own (the
flow ran again within this invocation), or when its lease ran out: the invocation that set it died
half-way. The owner is the invocation, not the message: two live hosts can hold the same message at once
(its lock expired while the first still worked), and the second must wait, not write too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.errors import SyncError
from shared.model.applied import OrderVersion
from shared.model.crm import OrderWritePlan
from shared.model.order import OrderStatus
from shared.state.store import Claim, ConcurrentUpdate, OrderCheckpoint, StateStore
from shared.timeutil import utc_now

# A claim older than this belongs to an attempt that died; a younger one to an instance still writing.
PENDING_LEASE = timedelta(seconds=60)
CONTENTION_WAIT_SECONDS = 5.0
CONTENTION_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class ClaimRequest:
    order_id: str
    checkpoint: OrderCheckpoint | None  # as read at the start of the batch
    content_hash: str  # of what we are about to write
    owner: str
    amazon_updated: datetime
    status: OrderStatus

    @classmethod
    def of(
        cls, order_id: str, checkpoint: OrderCheckpoint | None, plan: OrderWritePlan, owner: str
    ) -> ClaimRequest:
        return cls(order_id, checkpoint, plan.content_hash, owner, plan.amazon_updated, plan.status)

    @property
    def version(self) -> OrderVersion:
        return OrderVersion.snapshot(self.amazon_updated, self.status, self.content_hash)


@dataclass(frozen=True)
class Claimed:
    claimed: OrderCheckpoint  # the checkpoint as we now hold it
    basis: OrderCheckpoint | None  # what it was before our claim: where the CRM was left
    repair: bool  # an earlier attempt did not finish


@dataclass(frozen=True)
class Covered:
    """While we waited, another instance wrote this change (or a newer one)."""


ClaimOutcome = Claimed | Covered | SyncError


class ClaimDesk:
    def __init__(
        self,
        state: StateStore,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._state = state
        self._clock = clock
        self._sleep = sleep

    def claim_all(self, requests: Sequence[ClaimRequest]) -> dict[str, ClaimOutcome]:
        outcomes: dict[str, ClaimOutcome] = {}
        ready = [
            request for request in requests if not self._held_by_other(request.checkpoint, request.owner)
        ]
        contended = [request for request in requests if request not in ready]
        try:
            results = self._state.claim_all(
                [
                    Claim(request.checkpoint, request.order_id, request.content_hash, request.owner)
                    for request in ready
                ]
            )
        except SyncError as exc:
            return {request.order_id: exc for request in requests}
        for request in ready:
            result = results[request.order_id]
            if isinstance(result, ConcurrentUpdate):
                contended.append(request)
            else:
                outcomes[request.order_id] = Claimed(result, request.checkpoint, _pending(request.checkpoint))
        for request in contended:
            try:
                outcomes[request.order_id] = self._wait_and_claim(request)
            except SyncError as exc:
                outcomes[request.order_id] = exc
        return outcomes

    def _wait_and_claim(self, request: ClaimRequest) -> ClaimOutcome:
        deadline = self._clock() + timedelta(seconds=CONTENTION_WAIT_SECONDS)
        checkpoint = self._state.get_order(request.order_id)
        while True:
            if self._held_by_other(checkpoint, request.owner):
                if self._clock() >= deadline:
                    return ConcurrentUpdate(
                        f"order {request.order_id} is being written by another invocation",
                        retry_after=PENDING_LEASE.total_seconds(),
                    )
                self._sleep(CONTENTION_POLL_SECONDS)
                checkpoint = self._state.get_order(request.order_id)
                continue
            settled = checkpoint.settled if checkpoint is not None else None
            if settled is not None and settled.covers(request.version):
                return Covered()
            try:
                claimed = self._state.claim(
                    checkpoint, request.order_id, content_hash=request.content_hash, owner=request.owner
                )
            except ConcurrentUpdate as exc:
                if self._clock() >= deadline:
                    return exc
                checkpoint = self._state.get_order(request.order_id)
                continue
            return Claimed(claimed, checkpoint, _pending(checkpoint))

    def _held_by_other(self, checkpoint: OrderCheckpoint | None, owner: str) -> bool:
        """A live claim of another message. Our own (redelivered) or an expired one is ours to repair."""
        pending = checkpoint.pending if checkpoint is not None else None
        if pending is None or pending.owner == owner:
            return False
        return pending.since is not None and self._clock() - pending.since <= PENDING_LEASE


def _pending(checkpoint: OrderCheckpoint | None) -> bool:
    return checkpoint is not None and checkpoint.is_pending
