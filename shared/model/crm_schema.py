"""What the app needs to exist in Dataverse and at Amazon, as plain declarations.

The declaration modules (shared/provision/schema/) build these; the Dataverse and Amazon connectors turn them
into requests, and the provisioning commands compare them with what exists. They live in the model because
both sides use them: connectors may import the model, never the provisioning package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class ColumnType(StrEnum):
    """Column types by their AttributeType name (the types the app writes)."""

    STRING = "String"
    MEMO = "Memo"
    INTEGER = "Integer"
    DECIMAL = "Decimal"
    MONEY = "Money"
    DATETIME = "DateTime"
    BOOLEAN = "Boolean"


# Text fits either a single-line (String) or a multi-line (Memo) column: the app writes the same value to both.
_INTERCHANGEABLE = frozenset({ColumnType.STRING, ColumnType.MEMO})


@dataclass(frozen=True)
class Column:
    """A column the app writes. `max_length` is for text; `precision` for Decimal and Money."""

    table: str  # the table's logical name (salesorder)
    name: str  # the column's logical name (new_amazonorderid)
    type: ColumnType
    label: str
    max_length: int | None = None
    precision: int | None = None
    description: str = "Written by the Amazon Seller Central sync."

    def accepts(self, found: ColumnType | str) -> bool:
        """Whether an existing column of type `found` can take what the app writes here."""
        return found == self.type or (self.type in _INTERCHANGEABLE and found in _INTERCHANGEABLE)


@dataclass(frozen=True)
class Lookup:
    """A lookup column: a row of `table` points at a row of `target`. Dataverse creates it with its one-to-many
    relationship; its navigation property is named like the column, so a write binds `<name>@odata.bind`."""

    table: str
    name: str  # logical name of the lookup column (new_salesorderid)
    target: str  # logical name of the table it points at (salesorder)
    relationship: str  # schema name of the relationship (new_salesorder_financetransaction)
    label: str
    description: str = "Written by the Amazon Seller Central sync."


@dataclass(frozen=True)
class AlternateKey:
    """An alternate key the app upserts by. Its index must be Active before an upsert may use it."""

    table: str
    name: str  # logical name (new_amazonorderkey); the schema name is the same, as Dataverse lower-cases it
    columns: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class CustomTable:
    """A table of the app's own. Its primary name column comes with it; other columns are `Column`s."""

    name: str  # logical name (new_amazonsettlement)
    label: str
    plural_label: str
    primary_name: str  # logical name of the primary name column
    primary_name_label: str = "Name"
    primary_name_length: int = 200
    description: str = "Created by the Amazon Seller Central sync."
    organization_owned: bool = False


class ImageType(IntEnum):
    """sdkmessageprocessingstepimage.imagetype."""

    PRE = 0
    POST = 1
    BOTH = 2


@dataclass(frozen=True)
class ServiceBusEndpoint:
    """A serviceendpoint row: Dataverse posts a RemoteExecutionContext (JSON) to a Service Bus queue,
    authenticated with a shared access key. The key is never read back, never printed."""

    name: str
    namespace_address: str  # sb://<namespace>.servicebus.windows.net/
    queue: str
    sas_key_name: str
    sas_key: str = field(repr=False)
    description: str = "Dataverse events for the Amazon Seller Central sync."


@dataclass(frozen=True)
class StepImage:
    """A pre- or post-image: the row's columns before or after the change, sent with the context."""

    alias: str
    image_type: ImageType
    columns: tuple[str, ...] = ()  # empty: every column


@dataclass(frozen=True)
class ServiceEndpointStep:
    """An sdkmessageprocessingstep: `message` on `table` goes to `endpoint`, asynchronously after the change
    (Service Bus endpoints take asynchronous post-operation steps only)."""

    name: str
    endpoint: ServiceBusEndpoint
    message: str  # Create, Update or Delete
    table: str
    filtering_columns: tuple[str, ...] = ()  # Update only: fire when one of these changes
    images: tuple[StepImage, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Subscription:
    """An SP-API notification subscription, with its processing directive (event filter) if any."""

    notification_type: str
    payload_version: str
    processing_directive: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Feature:
    """Everything one feature of the app needs; the provisioning commands merge every feature's."""

    name: str
    tables: tuple[CustomTable, ...] = ()
    columns: tuple[Column, ...] = ()
    keys: tuple[AlternateKey, ...] = ()
    steps: tuple[ServiceEndpointStep, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    lookups: tuple[Lookup, ...] = ()
