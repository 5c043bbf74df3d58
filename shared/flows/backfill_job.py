"""A backfill job as its state-table row holds it: range, mode, page token or report progress, counts, lease.

Kept apart from the flow (flows/orders_backfill.py) so the row's columns are read and written in one place.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import PermanentError
from shared.state.watermarks import ProgressRow, Window
from shared.timeutil import utc_now

JOB_KIND = "orders-backfill"
REPORT_SPAN = timedelta(days=30)  # one report per 30 days keeps each report's processing time and size modest


class BackfillRangeInvalid(PermanentError):
    reason = "BackfillRangeInvalid"


class Mode(StrEnum):
    PROBE = "probe"  # the first searchOrders page decides
    SEARCH = "search"
    REPORT = "report"


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class BackfillRange:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BackfillJob:
    """A backfill's progress, as its state-table row holds it."""

    row: ProgressRow
    job_id: str
    start: datetime
    end: datetime
    marketplaces: tuple[str, ...]
    mode: Mode = Mode.PROBE
    status: JobStatus = JobStatus.RUNNING
    window: Window | None = None  # search mode: where the pages go on
    segment: int = 0  # report mode: index into segments()
    report_id: str | None = None
    report_status: str | None = None
    document_id: str | None = None
    lines_done: int = 0  # the report's lines whose orders are applied (header = line 1)
    report_attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    counts: Counter[str] = field(default_factory=Counter)
    note: str = ""

    def segments(self) -> list[tuple[datetime, datetime, str]]:
        """(data start, data end, marketplace) of each report, in order."""
        found = []
        start = self.start
        while start < self.end:
            end = min(start + REPORT_SPAN, self.end)
            found += [(start, end, marketplace) for marketplace in self.marketplaces]
            start = end
        return found

    def to_row(self) -> ProgressRow:
        window = self.window
        row = ProgressRow(self.row.kind, self.row.name, {}, self.row.etag)
        return row.with_fields(
            JobId=self.job_id,
            RangeStart=self.start,
            RangeEnd=self.end,
            Marketplaces=",".join(self.marketplaces),
            Mode=self.mode.value,
            Status=self.status.value,
            WindowStart=window.start if window else None,
            WindowEnd=window.end if window else None,
            Cursor=window.cursor if window else None,
            CursorIssued=window.cursor_issued if window else None,
            Segment=self.segment,
            Segments=len(self.segments()),
            ReportId=self.report_id,
            ReportStatus=self.report_status,
            DocumentId=self.document_id,
            LinesDone=self.lines_done,
            ReportAttempts=self.report_attempts,
            LeaseOwner=self.lease_owner,
            LeaseUntil=self.lease_until,
            Note=self.note[:1000] or None,
            Updated=utc_now(),
            **{f"Orders_{name}": count for name, count in self.counts.items()},
        )

    @classmethod
    def of(cls, row: ProgressRow) -> BackfillJob:
        values = row.fields

        def text(name: str) -> str | None:
            value = values.get(name)
            return str(value) if value not in (None, "") else None

        def moment(name: str) -> datetime | None:
            value = values.get(name)
            return value if isinstance(value, datetime) else None

        window_start, window_end = moment("WindowStart"), moment("WindowEnd")
        window = (
            Window(window_start, window_end, text("Cursor"), moment("CursorIssued"))
            if window_start and window_end
            else None
        )
        start, end = moment("RangeStart"), moment("RangeEnd")
        if start is None or end is None:
            raise ValueError(f"backfill row {row.name} has no range")
        return cls(
            row=row,
            job_id=text("JobId") or row.name,
            start=start,
            end=end,
            marketplaces=tuple((text("Marketplaces") or "").split(",")),
            mode=Mode(text("Mode") or Mode.PROBE),
            status=JobStatus(text("Status") or JobStatus.RUNNING),
            window=window,
            segment=int(values.get("Segment", 0)),  # type: ignore[arg-type]
            report_id=text("ReportId"),
            report_status=text("ReportStatus"),
            document_id=text("DocumentId"),
            lines_done=int(values.get("LinesDone", 0)),  # type: ignore[arg-type]
            report_attempts=int(values.get("ReportAttempts", 0)),  # type: ignore[arg-type]
            lease_owner=text("LeaseOwner"),
            lease_until=moment("LeaseUntil"),
            counts=Counter(
                {
                    name.removeprefix("Orders_"): int(value)  # type: ignore[arg-type]
                    for name, value in values.items()
                    if name.startswith("Orders_")
                }
            ),
            note=text("Note") or "",
        )


@dataclass(frozen=True)
class BackfillOptions:
    marketplaces: tuple[str, ...]
    step_seconds: float = 120.0  # a step taken outside the sweep timer (a queue message, a notification)


def job_id_for(backfill_range: BackfillRange, marketplaces: Sequence[str]) -> str:
    """The same range asked for twice (a redelivered queue message) is the same job."""
    text = f"{backfill_range.start.isoformat()}|{backfill_range.end.isoformat()}|{','.join(marketplaces)}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]
