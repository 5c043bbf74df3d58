"""A Dataverse event as the flows see it: what happened to which row, who did it, and the row's columns.

Dataverse posts a RemoteExecutionContext for every registered step (see shared/dataverse/events.py, which reads
both JSON shapes into this). For an Update the Target holds only the columns the request changed; the
post-image holds the columns the step asked for as they are after the change, so a flow reads keys such as
productnumber from there (`value()`), and asks `changed()` to know what the user actually touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from shared.timeutil import as_utc


@dataclass(frozen=True)
class EntityRef:
    """A lookup's value: the row it points at."""

    id: str
    logical_name: str


CrmValue = str | int | bool | Decimal | datetime | EntityRef | None


class VersionStamp(NamedTuple):
    """Orders the changes of one row: when Dataverse performed the operation, then the row's version number
    (RowVersion grows with every write, so it tells apart changes made within the same second)."""

    time: datetime
    sequence: int = 0

    def newer_than(self, other: VersionStamp | None) -> bool:
        return other is None or self > other


@dataclass(frozen=True)
class CrmRecord:
    """The Target or an image: a row's table, id, the columns it carries and its version number."""

    logical_name: str
    id: str
    attributes: Mapping[str, CrmValue] = field(default_factory=dict)
    row_version: int | None = None


@dataclass(frozen=True)
class CrmEvent:
    message: str  # Create, Update, Delete
    entity: str  # PrimaryEntityName
    record_id: str  # PrimaryEntityId
    operation_time: datetime  # OperationCreatedOn
    initiating_user_id: str  # who sent the request
    user_id: str  # whom the change was made as (the impersonated user, or a step's)
    organization_id: str
    correlation_id: str
    depth: int
    target: CrmRecord | None  # None for a Delete (its Target is a reference)
    pre_images: Mapping[str, CrmRecord] = field(default_factory=dict)
    post_images: Mapping[str, CrmRecord] = field(default_factory=dict)

    def changed(self, column: str) -> bool:
        """Whether the request set this column (an Update's Target carries only those)."""
        return self.target is not None and column in self.target.attributes

    def value(self, column: str) -> CrmValue:
        """The column's value after the change: the Target's if the request set it, else a post-image's,
        else a pre-image's (unchanged columns are the same before and after)."""
        for record in self._records():
            if column in record.attributes:
                return record.attributes[column]
        return None

    def has(self, column: str) -> bool:
        return any(column in record.attributes for record in self._records())

    def done_by(self, user_id: str) -> bool:
        """Whether `user_id` made the change or had it made (case-insensitive GUIDs)."""
        wanted = user_id.strip("{}").lower()
        return wanted in (self.initiating_user_id.lower(), self.user_id.lower())

    @property
    def version(self) -> VersionStamp:
        rows = [record.row_version for record in self._records() if record.row_version is not None]
        return VersionStamp(as_utc(self.operation_time), max(rows, default=0))

    def _records(self) -> list[CrmRecord]:
        records = [self.target] if self.target is not None else []
        return records + list(self.post_images.values()) + list(self.pre_images.values())


def as_decimal(value: CrmValue) -> Decimal | None:
    """A number column's value (Money and Decimal arrive as numbers or numeric text)."""
    if isinstance(value, bool) or value is None or isinstance(value, datetime | EntityRef):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def as_datetime(value: CrmValue) -> datetime | None:
    """A date column's value: the DataContract shape's dates are read already, the plain shape's are ISO text."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def as_text(value: CrmValue) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None


def as_reference(value: CrmValue) -> EntityRef | None:
    return value if isinstance(value, EntityRef) else None


def as_option(value: CrmValue) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return int(value)
