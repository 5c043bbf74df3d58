"""Resync jobs (POST /api/resync) as rows of the state table.

- partition `j-resync`: one row per job: its kind, how many orders it queued, its date range, when it was
  created and last changed, and why it failed as a whole (nothing could be queued, say);
- partition `r-<job id>`: one row per order of a job that names order ids (or per SKU of a listings job), with
  its outcome (applied, or failed and why), upserted by the resync function. A message delivered twice writes the same row again, so
  the counts a status shows are exact, and no two instances ever contend for one counter.

A job that reads a date range keeps its progress in the backfill job of the same id instead
(flows/backfill_job.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.breakers import CircuitBreaker
from shared.state.store import row_key, table_client
from shared.state.table_rows import TableRows
from shared.timeutil import as_utc

if TYPE_CHECKING:
    from shared.config import Settings

JOB_PARTITION = "j-resync"
MAX_NOTE = 1000


@dataclass(frozen=True)
class ResyncJobRecord:
    job_id: str
    kind: str  # "orders", "range", "listings" (by SKU)
    queued: int  # orders or SKUs queued; 0 for a range, whose orders are found as it is read
    created_at: datetime
    updated_at: datetime | None = None
    range_start: datetime | None = None
    range_end: datetime | None = None
    failure: str | None = None  # the job failed as a whole (e.g. Service Bus refused to queue it)


@dataclass(frozen=True)
class ItemOutcome:
    """How one order of an order-id job, or one SKU of a listings job, ended."""

    item: str  # the Amazon order id, or the SKU
    applied: bool  # orders: the CRM holds Amazon's current version; SKUs: Amazon answered the CRM's values
    detail: str  # "written", "stale", "unchanged", "closed_in_crm", "sent", ..., or the failure's reason
    at: datetime


class ResyncJobStore:
    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    @classmethod
    def from_settings(cls, settings: Settings, *, breaker: CircuitBreaker | None = None) -> ResyncJobStore:
        return cls(TableRows(table_client(settings), breaker=breaker))

    def close(self) -> None:
        self._rows.close()

    def create(self, job: ResyncJobRecord) -> None:
        self._rows.put(_job_entity(job), etag=None)

    def read(self, job_id: str) -> ResyncJobRecord | None:
        entity = self._rows.get(JOB_PARTITION, row_key(job_id))
        return None if entity is None else _job_record(entity)

    def mark_failed(self, job_id: str, failure: str, *, at: datetime) -> None:
        self._rows.merge(
            {
                "PartitionKey": JOB_PARTITION,
                "RowKey": row_key(job_id),
                "Failure": failure[:MAX_NOTE],
                "UpdatedAt": at,
            }
        )

    def record_outcomes(self, job_id: str, outcomes: Sequence[ItemOutcome]) -> None:
        self._rows.upsert_all(
            [
                {
                    "PartitionKey": _outcome_partition(job_id),
                    "RowKey": row_key(outcome.item),
                    "Item": outcome.item,
                    "Applied": outcome.applied,
                    "Detail": outcome.detail[:MAX_NOTE],
                    "At": outcome.at,
                }
                for outcome in outcomes
            ]
        )

    def outcomes(self, job_id: str) -> list[ItemOutcome]:
        entities = self._rows.query("PartitionKey eq @pk", {"pk": _outcome_partition(job_id)})
        return [
            ItemOutcome(
                str(entity.get("Item") or entity["OrderId"]),  # OrderId: rows written before listings jobs
                bool(entity.get("Applied")),
                str(entity.get("Detail", "")),
                as_utc(entity["At"]),
            )
            for entity in entities
        ]


def _outcome_partition(job_id: str) -> str:
    return "r-" + row_key(job_id)


def _job_entity(job: ResyncJobRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": JOB_PARTITION,
        "RowKey": row_key(job.job_id),
        "JobId": job.job_id,
        "Kind": job.kind,
        "Queued": job.queued,
        "CreatedAt": job.created_at,
        "UpdatedAt": job.updated_at or job.created_at,
    }
    if job.range_start is not None and job.range_end is not None:
        entity.update(RangeStart=job.range_start, RangeEnd=job.range_end)
    if job.failure:
        entity["Failure"] = job.failure[:MAX_NOTE]
    return entity


def _job_record(entity: dict[str, Any]) -> ResyncJobRecord:
    def moment(name: str) -> datetime | None:
        value = entity.get(name)
        return as_utc(value) if isinstance(value, datetime) else None

    return ResyncJobRecord(
        job_id=str(entity.get("JobId") or entity["RowKey"]),
        kind=str(entity.get("Kind", "")),
        queued=int(entity.get("Queued", 0)),
        created_at=as_utc(entity["CreatedAt"]),
        updated_at=moment("UpdatedAt"),
        range_start=moment("RangeStart"),
        range_end=moment("RangeEnd"),
        failure=str(entity["Failure"]) if entity.get("Failure") else None,
    )
