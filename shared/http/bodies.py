"""What each endpoint accepts, as pydantic models: bodies, query strings and route parameters.

Unknown members and parameters are refused (a typo must not silently mean "everything"). Limits that are
settings (how many orders, how long a range) arrive in the validation context.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.amazon.listings import SELLER_SKU_PATTERN
from shared.amazon.orders import ORDER_ID_PATTERN, SEARCH_LAG
from shared.flows.resync_messages import JOB_ID_PATTERN

_ORDER_ID = re.compile(ORDER_ID_PATTERN)
_SELLER_SKU = re.compile(SELLER_SKU_PATTERN)
_REASON = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # dead-letter reasons are printable codes
MAX_SEQUENCE_NUMBERS = 1000


def _order_id(value: str) -> str:
    if not _ORDER_ID.fullmatch(value):
        raise ValueError("an Amazon order id has the form 113-1234567-1234567")
    return value


def _seller_sku(value: str) -> str:
    if not _SELLER_SKU.fullmatch(value):
        raise ValueError(
            "a seller SKU has 1 to 40 printable ASCII characters, without leading or trailing spaces"
        )
    return value


def _iso_text(value: Any) -> Any:
    """Moments as ISO 8601 text only: a number would be taken for seconds since 1970."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("a moment is ISO 8601 text with an offset, e.g. 2026-11-27T00:00:00Z")
    return value


AmazonOrderId = Annotated[str, Field(strict=True), AfterValidator(_order_id)]
SellerSku = Annotated[str, Field(strict=True), AfterValidator(_seller_sku)]
IsoMoment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True)


def _setting(info: ValidationInfo, name: str) -> Any:
    return (info.context or {})[name]


# --- POST /api/resync ------------------------------------------------------------------------------------
class ResyncBody(_Strict):
    """Exactly one kind of resync: `amazonOrderIds`, a range `from` .. `to` (ISO 8601 with an offset), or
    `skus` (the CRM's current stock and prices sent to those SKUs' Amazon listings again)."""

    amazon_order_ids: list[AmazonOrderId] | None = Field(None, alias="amazonOrderIds", min_length=1)
    start: IsoMoment | None = Field(None, alias="from")
    end: IsoMoment | None = Field(None, alias="to")
    skus: list[SellerSku] | None = Field(None, min_length=1)

    @field_validator("amazon_order_ids")
    @classmethod
    def _bounded(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        most = _setting(info, "max_orders")
        if value is not None and len(value) > most:
            raise ValueError(f"at most {most} order ids per resync (RESYNC_MAX_ORDERS); resync by date range")
        return value

    @field_validator("skus")
    @classmethod
    def _bounded_skus(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        most = _setting(info, "max_skus")
        if value is not None and len(value) > most:
            raise ValueError(f"at most {most} SKUs per resync (RESYNC_MAX_SKUS); split the list")
        return value

    @model_validator(mode="after")
    def _one_kind(self, info: ValidationInfo) -> ResyncBody:
        ranged = self.start is not None or self.end is not None
        kinds = (self.amazon_order_ids is not None) + ranged + (self.skus is not None)
        if kinds != 1:
            raise ValueError("give exactly one of amazonOrderIds, from and to, or skus")
        if ranged:
            self._check_range(_setting(info, "now"), _setting(info, "max_range"))
        return self

    def _check_range(self, now: datetime, max_range: timedelta) -> None:
        if self.start is None or self.end is None:
            raise ValueError("from and to go together")
        if self.end <= self.start:
            raise ValueError("to must be later than from")
        if self.end - self.start > max_range:
            raise ValueError(f"the range may span at most {max_range.days} days (RESYNC_MAX_RANGE_DAYS)")
        if self.start > now - SEARCH_LAG:
            raise ValueError(
                "from must be at least 2 minutes in the past (Amazon's order data lags that much)"
            )

    @property
    def date_range(self) -> tuple[datetime, datetime]:
        if self.start is None or self.end is None:
            raise ValueError("not a date-range resync")
        return self.start, self.end


# --- POST /api/failures/replay ---------------------------------------------------------------------------
class ReplayBody(_Strict):
    """`sequenceNumbers` or `reason` (exactly one), of `queue` (default: the notifications queue)."""

    queue: str | None = None
    sequence_numbers: list[Annotated[StrictInt, Field(gt=0)]] | None = Field(
        None, alias="sequenceNumbers", min_length=1, max_length=MAX_SEQUENCE_NUMBERS
    )
    reason: str | None = Field(None, min_length=1, max_length=120, pattern=_REASON.pattern)
    dry_run: StrictBool = Field(False, alias="dryRun")

    @field_validator("queue")
    @classmethod
    def _known_queue(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _app_queue(value, info)

    @model_validator(mode="after")
    def _one_selection(self) -> ReplayBody:
        if (self.sequence_numbers is None) == (self.reason is None):
            raise ValueError("give either sequenceNumbers or reason")
        return self


# --- GET /api/failures -----------------------------------------------------------------------------------
class FailuresQuery(_Strict):
    queue: str | None = None
    limit: int = Field(100, ge=1, le=1000)  # messages shown per queue; counts cover every dead letter peeked

    @field_validator("queue")
    @classmethod
    def _known_queue(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _app_queue(value, info)


def _app_queue(value: str | None, info: ValidationInfo) -> str | None:
    queues = _setting(info, "queues")
    if value is not None and value not in queues:
        raise ValueError(f"not one of the app's queues ({', '.join(queues)})")
    return value


class NoQuery(_Strict):
    """Endpoints that take no query parameters (beyond the host's `code`)."""


# --- route parameters ------------------------------------------------------------------------------------
class JobRoute(_Strict):
    job_id: str = Field(alias="jobId", pattern=JOB_ID_PATTERN)


class OrderRoute(_Strict):
    amazon_order_id: AmazonOrderId = Field(alias="amazonOrderId")
