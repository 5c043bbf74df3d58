"""SP-API notification envelopes and the ORDER_CHANGE payload.

Amazon writes the whole envelope as the SQS message body: NotificationVersion, NotificationType,
PayloadVersion, EventTime, Payload and NotificationMetadata{ApplicationId, SubscriptionId, PublishTime,
NotificationId}. Most types use PascalCase keys; REPORT_PROCESSING_FINISHED (and other newer types) use
camelCase, so every envelope field accepts both. ORDER_CHANGE carries status and SKUs but no money and no
buyer data, which is why order sync fetches the order itself.

Parsing failures raise MalformedNotification whose message names the offending field and never echoes
its value (the destination postal code alone is personal data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import PermanentError
from shared.timeutil import UtcDateTime

ORDER_CHANGE = "ORDER_CHANGE"

# What an identifier read from a body may look like: NotificationIds are UUIDs, AmazonOrderIds look like
# 113-1234567-1234567, types like ORDER_CHANGE. Anything else (a name, an address, an email) is not shown.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


class MalformedNotification(PermanentError):
    """The message is not a notification we can read. Dead-lettered on first delivery, never retried."""

    reason = "MalformedNotification"


def _both(name: str) -> Any:
    """Accept PascalCase (most notification types) and camelCase (REPORT_PROCESSING_FINISHED)."""
    return Field(validation_alias=AliasChoices(name, name[0].lower() + name[1:]))


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class NotificationMetadata(_Model):
    application_id: str = _both("ApplicationId")
    subscription_id: str = _both("SubscriptionId")
    publish_time: UtcDateTime = _both("PublishTime")
    notification_id: str = Field(
        min_length=1, validation_alias=AliasChoices("NotificationId", "notificationId")
    )


class NotificationEnvelope(_Model):
    notification_version: str = _both("NotificationVersion")
    notification_type: str = Field(
        min_length=1, validation_alias=AliasChoices("NotificationType", "notificationType")
    )
    payload_version: str = _both("PayloadVersion")
    event_time: UtcDateTime = _both("EventTime")
    payload: dict[str, Any] = _both("Payload")
    metadata: NotificationMetadata = _both("NotificationMetadata")

    @property
    def notification_id(self) -> str:
        return self.metadata.notification_id


# --- ORDER_CHANGE (schemas/notifications/OrderChangeNotification.json) ---------------------------------
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
    purchase_date: UtcDateTime | None = Field(alias="PurchaseDate")
    destination_postal_code: str | None = Field(alias="DestinationPostalCode", repr=False)
    fulfillment_type: str = Field(alias="FulfillmentType")
    order_type: str = Field(alias="OrderType")
    order_items: list[OrderChangeItem] = Field(alias="OrderItems")


class OrderChangeTrigger(_Pascal):
    time_of_order_change: UtcDateTime | None = Field(alias="TimeOfOrderChange")
    change_reason: str = Field(alias="ChangeReason")


class OrderChange(_Pascal):
    notification_level: str = Field(alias="NotificationLevel")
    seller_id: str = Field(alias="SellerId")
    amazon_order_id: str = Field(min_length=1, max_length=100, alias="AmazonOrderId")
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
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNotification("message body is not UTF-8 text") from None
    else:
        text = body
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedNotification(
            f"message body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise MalformedNotification(f"message body is JSON {type(data).__name__}, not a notification object")
    try:
        return NotificationEnvelope.model_validate(data)
    except ValidationError as exc:
        raise MalformedNotification(f"not a valid notification envelope: {_describe(exc, data)}") from None


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
