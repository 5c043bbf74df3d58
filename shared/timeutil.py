"""UTC everywhere: Amazon sends ISO-8601 with Z, Dataverse stores UTC, and comparisons must never mix
naive and aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already (what Amazon means when it omits Z)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime) -> str:
    """'2026-11-27T12:00:00Z' (milliseconds kept when present), the form both APIs accept."""
    text = as_utc(moment).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
