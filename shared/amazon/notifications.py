"""SP-API notification envelopes and the ORDER_CHANGE payload.

Amazon writes the whole envelope as the SQS message body: NotificationVersion, NotificationType,
PayloadVersion, EventTime, Payload and NotificationMetadata{ApplicationId, SubscriptionId, PublishTime,
NotificationId}. Most types use PascalCase keys; REPORT_PROCESSING_FINISHED (and other newer types) use
camelCase, so every envelope field accepts both. ORDER_CHANGE carries status and SKUs but no money and no
buyer data, which is why order sync fetches the order itself.

Parsing failures raise MalformedNotification whose message names the offending field and never echoes
its value (the destination postal code alone is personal data).

Whatever a stranger can put on the queue is bounded before it is trusted (the limits are in the README):
the body's size, how deeply it nests, and the length of every string and id. Anything larger did not come
from Amazon, and reading it unbounded could exhaust memory, the recursion limit or Table Storage's key size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from shared.bounded_json import JsonLimits, UnreadableJson, load_object
from shared.errors import PermanentError
from shared.timeutil import as_utc

ORDER_CHANGE = "ORDER_CHANGE"
# The envelope and payload versions this code was written for, per type (Amazon's schemas). A new version
# may change what a field means; it is dead-lettered (replay after an upgrade) rather than misread.
SUPPORTED_VERSIONS: dict[str, frozenset[str]] = {
    ORDER_CHANGE: frozenset({"1.0"}),
    "FBA_INVENTORY_AVAILABILITY_CHANGES": frozenset({"1.0"}),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": frozenset({"1.0"}),
    "LISTINGS_ITEM_STATUS_CHANGE": frozenset({"1.0"}),
    # Both payload versions Amazon publishes; they differ only in EnforcementActions, which we do not read.
    "LISTINGS_ITEM_ISSUES_CHANGE": frozenset({"1.0", "2023-12-13"}),
    "TRANSACTION_UPDATE": frozenset({"1.0"}),
    "REPORT_PROCESSING_FINISHED": frozenset({"2020-09-04"}),
    "FEED_PROCESSING_FINISHED": frozenset({"2020-09-04"}),
}

# --- limits on what we read ---------------------------------------------------------------------------
MAX_BODY_BYTES = 256 * 1024  # Amazon SQS's and Service Bus Standard's message limit
MAX_DEPTH = 32  # Amazon's notifications nest 6 levels at most
MAX_STRING = 4096  # characters in any string value or key
MAX_ID = 128  # NotificationId, SubscriptionId, ApplicationId (Service Bus message ids have 128 too)
MAX_ORDER_ID = 64  # AmazonOrderId is 19 characters (3-7-7); SellerId about 14
MAX_ITEMS = 1000  # order items in one ORDER_CHANGE
LIMITS = JsonLimits(MAX_BODY_BYTES, MAX_DEPTH, MAX_STRING)

# What an identifier read from a body may look like: NotificationIds are UUIDs, AmazonOrderIds look like
# 113-1234567-1234567, types like ORDER_CHANGE. Anything else (a name, an address, an email) is not shown.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


class MalformedNotification(PermanentError):
    """The message is not a notification we can read. Dead-lettered on first delivery, never retried."""

    reason = "MalformedNotification"


def _both(name: str, **constraints: Any) -> Any:
    """Accept PascalCase (most notification types) and camelCase (REPORT_PROCESSING_FINISHED)."""
    return Field(validation_alias=AliasChoices(name, name[0].lower() + name[1:]), **constraints)


def _text_only(value: Any) -> Any:
    """Timestamps must be ISO-8601 text: a number would be read as seconds since 1970."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 date-time string")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(as_utc)]


def _printable(value: str) -> str:
    """No control or format characters (a terminal escape, a right-to-left override), no lone surrogates:
    an id travels into URLs, table keys and log lines."""
    if (
        not value.isprintable()
        or any("\ud800" <= char <= "\udfff" for char in value)
        or value != value.strip()
    ):
        raise ValueError("must be printable text without leading or trailing spaces")
    return value


PrintableId = Annotated[str, AfterValidator(_printable)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class NotificationMetadata(_Model):
    application_id: str = _both("ApplicationId", max_length=MAX_ID)
    subscription_id: str = _both("SubscriptionId", max_length=MAX_ID)
    publish_time: IsoDateTime = _both("PublishTime")
    # Amazon's are UUIDs; printable ASCII is what a dedupe key, a log line and a message id can all carry.
    notification_id: str = _both("NotificationId", min_length=1, max_length=MAX_ID, pattern=r"^[\x21-\x7e]+$")


class NotificationEnvelope(_Model):
    notification_version: str = _both("NotificationVersion", max_length=16)
    notification_type: str = _both("NotificationType", min_length=1, max_length=MAX_ID)
    payload_version: str = _both("PayloadVersion", max_length=16)
    event_time: IsoDateTime = _both("EventTime")
    payload: dict[str, Any] = _both("Payload")
    metadata: NotificationMetadata = _both("NotificationMetadata")

    @property
    def notification_id(self) -> str:
        return self.metadata.notification_id


# --- ORDER_CHANGE (Amazon's OrderChangeNotification schema) ---------------------------------------------
class _Pascal(_Model):
    """ORDER_CHANGE payloads are PascalCase only; fields follow the schema's names."""


class OrderChangeItem(_Pascal):
    order_item_id: str = Field(min_length=1, alias="OrderItemId")
    seller_sku: str = Field(alias="SellerSKU")
    supply_source_id: str | None = Field(alias="SupplySourceId")
    quantity: int = Field(alias="Quantity", ge=0)
    order_item_status: str | None = Field(None, alias="OrderItemStatus")
    quantity_shipped: int | None = Field(None, alias="QuantityShipped", ge=0)
    is_buyer_requested_cancel: bool | None = Field(None, alias="IsBuyerRequestedCancel")


class OrderChangeSummary(_Pascal):
    marketplace_id: str = Field(alias="MarketplaceId")
    # A string, not an enum: a status Amazon adds later must not dead-letter every notification.
    order_status: str = Field(alias="OrderStatus")
    purchase_date: IsoDateTime | None = Field(alias="PurchaseDate")
    destination_postal_code: str | None = Field(alias="DestinationPostalCode", repr=False)
    fulfillment_type: str = Field(alias="FulfillmentType")
    order_type: str = Field(alias="OrderType")
    order_items: list[OrderChangeItem] = Field(alias="OrderItems", max_length=MAX_ITEMS)


class OrderChangeTrigger(_Pascal):
    time_of_order_change: IsoDateTime | None = Field(alias="TimeOfOrderChange")
    change_reason: str = Field(alias="ChangeReason")


class OrderChange(_Pascal):
    notification_level: str = Field(alias="NotificationLevel")
    seller_id: str = Field(alias="SellerId", max_length=MAX_ORDER_ID)
    amazon_order_id: PrintableId = Field(min_length=1, max_length=MAX_ORDER_ID, alias="AmazonOrderId")
    order_change_type: str = Field(alias="OrderChangeType")
    trigger: OrderChangeTrigger = Field(alias="OrderChangeTrigger")
    summary: OrderChangeSummary = Field(alias="Summary")


@dataclass(frozen=True)
class EnvelopeFacts:
    """The identifiers of a notification, and nothing else of its body."""

    notification_id: str | None = None
    notification_type: str | None = None
    amazon_order_id: str | None = None  # ORDER_CHANGE only


def read_envelope_facts(body: bytes | str) -> EnvelopeFacts:
    """NotificationId, NotificationType and (ORDER_CHANGE only) AmazonOrderId, as far as present and
    identifier-like; never raises.

    Lenient on purpose: the bridge forwards whatever SQS holds, and dead letters are often malformed
    notifications whose identifiers still help find them. A value that does not look like an identifier
    (it could be a name or an address) is left out.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or absurdly nested
        return EnvelopeFacts()
    if not isinstance(data, dict):
        return EnvelopeFacts()
    metadata = _envelope_field(data, "NotificationMetadata")
    notification_id = (
        _identifier(_envelope_field(metadata, "NotificationId")) if isinstance(metadata, dict) else None
    )
    notification_type = _identifier(_envelope_field(data, "NotificationType"))
    amazon_order_id = None
    if notification_type == ORDER_CHANGE:
        payload = _envelope_field(data, "Payload")
        change = payload.get("OrderChangeNotification") if isinstance(payload, dict) else None
        if isinstance(change, dict):  # ORDER_CHANGE payloads are PascalCase only (Amazon's schema)
            amazon_order_id = _identifier(change.get("AmazonOrderId"))
    return EnvelopeFacts(notification_id, notification_type, amazon_order_id)


def _envelope_field(data: dict[str, Any], name: str) -> Any:
    """An envelope field in PascalCase (most types) or camelCase (REPORT_PROCESSING_FINISHED and newer)."""
    value = data.get(name)
    return value if value is not None else data.get(name[0].lower() + name[1:])


def _identifier(value: object) -> str | None:
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else None


def parse_envelope(body: bytes | str) -> NotificationEnvelope:
    """Decode and validate a notification envelope, or raise MalformedNotification saying what is wrong."""
    try:
        data = load_object(body, LIMITS, kind="notification")
    except UnreadableJson as exc:
        raise MalformedNotification(str(exc)) from None
    try:
        return NotificationEnvelope.model_validate(data)
    except ValidationError as exc:
        raise MalformedNotification(f"not a valid notification envelope: {_describe(exc, data)}") from None


def check_versions(envelope: NotificationEnvelope) -> None:
    """Refuse an envelope or payload version this code does not know for its type (SUPPORTED_VERSIONS)."""
    known = SUPPORTED_VERSIONS.get(envelope.notification_type, frozenset())
    for name, version in (
        ("NotificationVersion", envelope.notification_version),
        ("PayloadVersion", envelope.payload_version),
    ):
        if version not in known:
            raise UnsupportedVersion(
                f"{envelope.notification_type} {name} {version[:16]!r} is not one this app reads "
                f"({', '.join(sorted(known)) or 'none'}); replay it after upgrading"
            )


class UnsupportedVersion(PermanentError):
    reason = "UnsupportedNotificationVersion"


class UnknownNotificationType(PermanentError):
    reason = "UnknownNotificationType"


# The types Amazon sends that some part of this app handles (or will). A type that differs from one of
# these only in case, spaces or dashes is no type Amazon sends: somebody typed it, so it is dead-lettered
# rather than quietly completed as "not for us".
KNOWN_TYPES = frozenset(SUPPORTED_VERSIONS)


def near_miss(notification_type: str) -> str | None:
    """The known type `notification_type` almost is ('order_change ' -> ORDER_CHANGE), or None."""
    normal = notification_type.strip().upper().replace("-", "_").replace(" ", "_")
    return normal if normal in KNOWN_TYPES and normal != notification_type else None


def parse_order_change(envelope: NotificationEnvelope) -> OrderChange:
    """The ORDER_CHANGE payload of an envelope, validated against Amazon's schema."""
    payload = envelope.payload.get("OrderChangeNotification")
    if payload is None:
        raise MalformedNotification("ORDER_CHANGE payload has no OrderChangeNotification")
    try:
        return OrderChange.model_validate(payload)
    except ValidationError as exc:
        raise MalformedNotification(
            f"invalid ORDER_CHANGE payload: {_describe(exc, payload, prefix='Payload.OrderChangeNotification')}"
        ) from None


def _describe(exc: ValidationError, data: dict[str, Any], prefix: str = "") -> str:
    """'Payload.OrderChangeNotification.Summary.OrderItems.0.Quantity: Input should be a valid integer'."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:5]:
        path = ".".join(str(item) for item in error["loc"])
        if prefix:
            path = f"{prefix}.{path}"
        parts.append(f"{path}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
