"""Writing order plans to the CRM: chunking, and what to do when a write fails or its answer is lost.

Orders go out in groups, one $batch per group (at most `orders_per_batch` orders and the $batch operation
limit), one atomic change set per order (built by the Dataverse connector), so an order is never left
without its lines and writing it again changes nothing.

Two decisions live here:
- a *repair* (an earlier attempt may or may not have committed) reads the CRM's actual state first, so a
  state action (cancel, fulfil) already carried out is not sent again, and a closed order is left alone;
- a refusal our checkpoint cannot explain (an order closed by hand, a state table restored from backup) is
  tried once more as a repair; a lost $batch answer is re-read and tried once more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shared.dataverse.changesets import OrderWritten
from shared.dataverse.errors import AmbiguousWrite
from shared.dataverse.orders import CrmOrders, operations_of
from shared.errors import SyncError
from shared.model.crm import CLOSED_STATECODES, CrmState, OrderWritePlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteJob:
    plan: OrderWritePlan
    crm_state: CrmState | None  # where the CRM order is as far as our checkpoint knows; None: never written
    repair: bool = False  # an earlier attempt did not finish: read the CRM before deciding

    def as_repair(self) -> WriteJob:
        return WriteJob(self.plan, self.crm_state, repair=True)


@dataclass(frozen=True)
class ClosedInCrm:
    """Nothing written: the CRM order is already canceled, fulfilled or invoiced (read-only)."""

    state: CrmState
    salesorder_id: str | None = None


WriteOutcome = OrderWritten | ClosedInCrm | SyncError


class OrderWriter:
    def __init__(self, crm: CrmOrders, *, orders_per_batch: int = 50) -> None:
        self._crm = crm
        self._orders_per_batch = orders_per_batch

    def write(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        """One outcome per job, in the order given."""
        outcomes = self._write_all(jobs)
        unexplained = [
            index
            for index, (job, outcome) in enumerate(zip(jobs, outcomes, strict=True))
            if isinstance(outcome, SyncError) and not outcome.transient and not job.repair
        ]
        if unexplained:
            retried = self._write_all([jobs[index].as_repair() for index in unexplained])
            for index, outcome in zip(unexplained, retried, strict=True):
                outcomes[index] = outcome
        return outcomes

    def _write_all(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for chunk in self._chunks(jobs):
            try:
                outcomes += self._write_chunk(chunk)
            except AmbiguousWrite:
                # The batch may have committed. Read the CRM and try once more: what is done is skipped
                # (closed orders, states reached), the rest is idempotent.
                log.warning("Dataverse $batch answer lost; re-reading %d orders before retrying", len(chunk))
                try:
                    outcomes += self._write_chunk([job.as_repair() for job in chunk])
                except SyncError as exc:
                    outcomes += [exc] * len(chunk)
            except SyncError as exc:
                outcomes += [exc] * len(chunk)
        return outcomes

    def _chunks(self, jobs: Sequence[WriteJob]) -> Iterator[list[WriteJob]]:
        chunk: list[WriteJob] = []
        operations = 0
        for job in jobs:
            size = operations_of(job.plan)
            if chunk and (
                len(chunk) >= self._orders_per_batch or operations + size > self._crm.max_operations
            ):
                yield chunk
                chunk, operations = [], 0
            chunk.append(job)
            operations += size
        if chunk:
            yield chunk

    def _write_chunk(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        located = [
            self._crm.locate(job.plan, known_state=job.crm_state, read_state=job.repair) for job in jobs
        ]
        outcomes: dict[int, WriteOutcome] = {}
        to_send: list[int] = []
        for index, crm in enumerate(located):
            if crm.state is not None and crm.state.statecode in CLOSED_STATECODES:
                outcomes[index] = ClosedInCrm(crm.state, crm.ids.get(jobs[index].plan.salesorder.identity))
            else:
                to_send.append(index)
        results = self._crm.write([(jobs[index].plan, located[index]) for index in to_send])
        outcomes.update(zip(to_send, results, strict=True))
        return [outcomes[index] for index in range(len(jobs))]
