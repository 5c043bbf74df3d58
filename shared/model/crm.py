"""The Dataverse side of an order, as plain values: records to write, the state to reach, the plan.

The mapping produces these; the Dataverse connector turns them into requests. Neither the mapping nor a
flow ever sees a verb, a header or a URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.model.order import OrderStatus

# Dataverse's salesorder state -> allowed status reasons (CDM Order.cdm.json, out of the box).
# Orgs may add status reasons (solutions do), so other values above 100000 are accepted too.
OUT_OF_BOX_STATUSES = {0: {1, 2}, 1: {3}, 2: {4}, 3: {100001, 100002}}
CUSTOM_STATUS_MIN = 100000


class CrmState(NamedTuple):
    """A salesorder's statecode and statuscode."""

    statecode: int
    statuscode: int


NEW_ORDER_STATE = CrmState(0, 1)  # Dataverse creates a salesorder as Active / New
CANCELED, FULFILLED, INVOICED = 2, 3, 4
CLOSED_STATECODES = frozenset({CANCELED, FULFILLED, INVOICED})  # a closed salesorder is read-only


class StateTarget(BaseModel):
    """Where an Amazon status puts the salesorder (from the mapping file, so validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statecode: int = Field(ge=0, le=3)
    statuscode: int

    @model_validator(mode="after")
    def _correlated(self) -> StateTarget:
        allowed = OUT_OF_BOX_STATUSES[self.statecode]
        if self.statuscode not in allowed and self.statuscode < CUSTOM_STATUS_MIN:
            raise ValueError(f"statuscode {self.statuscode} does not belong to statecode {self.statecode}")
        return self

    @property
    def state(self) -> CrmState:
        return CrmState(self.statecode, self.statuscode)


@dataclass(frozen=True)
class Reference:
    """A lookup target: a record of `entity_set` by GUID or by alternate key."""

    entity_set: str
    key: str | Mapping[str, str]


@dataclass(frozen=True)
class RecordWrite:
    """Create-or-update one record by its alternate key."""

    entity_set: str
    key: Mapping[str, str]  # alternate-key columns -> values
    fields: Mapping[str, Any]
    binds: Mapping[str, Reference] = field(default_factory=dict)  # navigation property -> target

    @property
    def identity(self) -> tuple[str, str]:
        """A hashable name of the record: entity set and its key values."""
        return (self.entity_set, key_text(self.key))


def key_text(key: Mapping[str, str]) -> str:
    return "\x1f".join(f"{column}={value}" for column, value in sorted(key.items()))


@dataclass(frozen=True)
class ProductRef:
    product_id: str
    uom_id: str | None


@dataclass(frozen=True)
class Lookups:
    """Ids the mapping needs from Dataverse, looked up (and cached) by the flow before mapping."""

    currency_ids: Mapping[str, str]  # ISO code -> transactioncurrencyid
    price_list_ids: Mapping[str, str]  # price list name -> pricelevelid
    products: Mapping[str, ProductRef]  # SellerSKU -> product


@dataclass(frozen=True)
class OrderWritePlan:
    """Everything that makes one Amazon order a Dynamics sales order."""

    order_id: str
    amazon_updated: datetime
    status: OrderStatus
    customer: RecordWrite
    salesorder: RecordWrite
    lines: tuple[RecordWrite, ...]
    target_state: StateTarget
    unknown_skus: tuple[str, ...]
    hold: bool

    @property
    def records(self) -> tuple[RecordWrite, ...]:
        """In write order: the customer and the order before the lines that point at them."""
        return (self.customer, self.salesorder, *self.lines)

    @cached_property
    def content_hash(self) -> str:
        """Fingerprint of everything we would write: equal hashes mean there is nothing to do."""
        payload = {
            "customer": asdict(self.customer),
            "salesorder": asdict(self.salesorder),
            "lines": [asdict(line) for line in self.lines],
            "state": self.target_state.model_dump(),
        }
        text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
