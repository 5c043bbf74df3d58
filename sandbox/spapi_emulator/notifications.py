"""Notifications API v1: destinations (SQS / EventBridge) and subscriptions per notification type.

After Amazon's model ``notifications.json`` and what Amazon answers in practice:

- destination operations are grantless: they need an LWA ``client_credentials`` token with scope
  ``sellingpartnerapi::notifications``; a seller token is 403;
- ``createSubscription`` / ``getSubscription`` / ``getSubscriptions`` act for the seller and need the seller's
  token; ``getSubscriptionById`` / ``deleteSubscriptionById`` are documented as grantless, yet
  python-amazon-sp-api sends the seller token for the delete: both kinds are accepted there;
- a second destination for the same SQS ARN is ``409 Conflict``; a second subscription for the same type and
  payload version is ``409 StateConflict`` (even for another destination); a destination that still has
  subscriptions cannot be deleted;
- ``processingDirective.eventFilter`` (ORDER_CHANGE: ``marketplaceIds``, ``orderChangeTypes``;
  ANY_OFFER_CHANGED: ``marketplaceIds``, ``aggregationSettings``) and ``filterExpression`` are mutually
  exclusive and checked against the notification type.

``publish(envelope)`` plays Amazon's side of delivery: it finds the subscriptions whose type and event
filter match and appends one ``Delivery`` per destination to ``outbox`` (tests forward those to SQS).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sandbox.amazon_samples import DEFAULT_APPLICATION_ID
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, ApiError, invalid_input, not_found
from sandbox.spapi_emulator.params import int_parameter, json_body, require_fields
from sandbox.spapi_emulator.routes import Access, Route

BASE: Final = "/notifications/v1"
SQS_ARN: Final = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")
MAX_DESTINATION_NAME: Final = 256
ORDER_CHANGE_TYPES: Final = ("BuyerRequestedChange", "DeliveryTipChange", "OrderStatusChange")
AGGREGATION_PERIODS: Final = ("FiveMinutes", "TenMinutes")

# Notification types and the payload versions a subscription may ask for. "1.0" is accepted everywhere
# (python-amazon-sp-api sends it by default and Amazon takes it); the others are the schemas' versions.
NOTIFICATION_TYPES: Final[Mapping[str, frozenset[str]]] = {
    name: frozenset({"1.0", *extra})
    for name, extra in {
        "ACCOUNT_STATUS_CHANGED": (),
        "ANY_OFFER_CHANGED": (),
        "B2B_ANY_OFFER_CHANGED": (),
        "BRANDED_ITEM_CONTENT_CHANGE": (),
        "DATA_KIOSK_QUERY_PROCESSING_FINISHED": ("2023-11-15",),
        "DETAIL_PAGE_TRAFFIC_EVENT": ("2020-09-04",),
        "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE": (),
        "FBA_INVENTORY_AVAILABILITY_CHANGES": (),
        "FBA_OUTBOUND_SHIPMENT_STATUS": (),
        "FEE_PROMOTION": (),
        "FEED_PROCESSING_FINISHED": ("2020-09-04",),
        "FULFILLMENT_ORDER_STATUS": (),
        "ITEM_INVENTORY_EVENT_CHANGE": ("2020-09-04",),
        "ITEM_PRODUCT_TYPE_CHANGE": (),
        "ITEM_SALES_EVENT_CHANGE": ("2020-09-04",),
        "LISTINGS_ITEM_ISSUES_CHANGE": ("2023-12-13",),
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": (),
        "LISTINGS_ITEM_STATUS_CHANGE": (),
        "MFN_ORDER_STATUS_CHANGE": (),
        "ORDER_CHANGE": (),
        "PRICING_HEALTH": (),
        "PRODUCT_TYPE_DEFINITIONS_CHANGE": (),
        "REPORT_PROCESSING_FINISHED": ("2020-09-04",),
        "SHIPMENT_TRACKING_MILESTONE_CHANGED": (),
        "TRANSACTION_UPDATE": (),
    }.items()
}
# eventFilterType per notification type, and the filter keys each one takes.
SUBSCRIPTIONS_QUERY: Final = ("notificationTypes", "payloadVersion", "pageSize", "nextToken")
EVENT_FILTERS: Final[Mapping[str, frozenset[str]]] = {
    "ORDER_CHANGE": frozenset({"eventFilterType", "marketplaceIds", "orderChangeTypes"}),
    "ANY_OFFER_CHANGED": frozenset({"eventFilterType", "marketplaceIds", "aggregationSettings"}),
    "SHIPMENT_TRACKING_MILESTONE_CHANGED": frozenset({"eventFilterType", "trackingIdentifier"}),
}


@dataclass(frozen=True)
class Delivery:
    """A notification Amazon would have sent: where to, through which subscription, and the envelope."""

    destination_id: str
    resource: Mapping[str, Any]
    subscription_id: str
    envelope: Mapping[str, Any]


class NotificationsApi:
    def __init__(self, ctx: EmulatorContext, application_id: str = DEFAULT_APPLICATION_ID) -> None:
        self._ctx = ctx
        self.application_id = application_id
        self._destinations: dict[str, dict[str, Any]] = {}
        self._subscriptions: dict[str, dict[str, Any]] = {}  # id -> Subscription + "notificationType"
        self.outbox: list[Delivery] = []

    def routes(self) -> list[Route]:
        subs, dests = BASE + "/subscriptions", BASE + "/destinations"
        return [
            Route(
                "getSubscriptions", "GET", subs, Access.SELLER, self.get_subscriptions, SUBSCRIPTIONS_QUERY
            ),
            Route(
                "getSubscription",
                "GET",
                subs + "/{notificationType}",
                Access.SELLER,
                self.get_subscription,
                ("payloadVersion",),
            ),
            Route(
                "createSubscription",
                "POST",
                subs + "/{notificationType}",
                Access.SELLER,
                self.create_subscription,
            ),
            Route(
                "getSubscriptionById",
                "GET",
                subs + "/{notificationType}/{subscriptionId}",
                Access.EITHER,
                self.get_subscription_by_id,
            ),
            Route(
                "deleteSubscriptionById",
                "DELETE",
                subs + "/{notificationType}/{subscriptionId}",
                Access.EITHER,
                self.delete_subscription_by_id,
            ),
            Route("getDestinations", "GET", dests, Access.GRANTLESS, self.get_destinations),
            Route("createDestination", "POST", dests, Access.GRANTLESS, self.create_destination),
            Route(
                "getDestination", "GET", dests + "/{destinationId}", Access.GRANTLESS, self.get_destination
            ),
            Route(
                "deleteDestination",
                "DELETE",
                dests + "/{destinationId}",
                Access.GRANTLESS,
                self.delete_destination,
            ),
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self._destinations.clear()
            self._subscriptions.clear()
            self.outbox.clear()

    # --- test helpers -----------------------------------------------------------------------------------
    @property
    def destinations(self) -> list[dict[str, Any]]:
        with self._ctx.lock:
            return copy.deepcopy(list(self._destinations.values()))

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription as the API shows it, plus its ``notificationType``."""
        with self._ctx.lock:
            return copy.deepcopy(list(self._subscriptions.values()))

    def subscriptions_for(self, notification_type: str) -> list[dict[str, Any]]:
        return [s for s in self.subscriptions if s["notificationType"] == notification_type]

    def publish(self, envelope: Mapping[str, Any]) -> list[Delivery]:
        """Deliver `envelope` to every matching subscription's destination (recorded in ``outbox``)."""
        notification_type = envelope.get("NotificationType") or envelope.get("notificationType")
        deliveries = []
        with self._ctx.lock:
            for subscription in self._subscriptions.values():
                if subscription["notificationType"] != notification_type:
                    continue
                if not _filter_matches(subscription.get("processingDirective"), envelope):
                    continue
                destination = self._destinations[subscription["destinationId"]]
                delivered = _with_subscription_id(envelope, subscription["subscriptionId"])
                deliveries.append(
                    Delivery(
                        destination["destinationId"],
                        destination["resource"],
                        subscription["subscriptionId"],
                        delivered,
                    )
                )
            self.outbox.extend(deliveries)
        return deliveries

    # --- destinations (grantless) -------------------------------------------------------------------------
    def create_destination(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        body = json_body(request)
        require_fields(body, "name", "resourceSpecification")
        name, spec = body["name"], body["resourceSpecification"]
        if not isinstance(name, str) or len(name) > MAX_DESTINATION_NAME:
            raise invalid_input(f"name must be a string of at most {MAX_DESTINATION_NAME} characters.")
        if not isinstance(spec, dict) or len([k for k in ("sqs", "eventBridge") if spec.get(k)]) != 1:
            raise invalid_input("resourceSpecification must hold exactly one of sqs or eventBridge.")
        destination_id = self._ctx.uuid()
        if spec.get("sqs"):
            arn = spec["sqs"].get("arn") if isinstance(spec["sqs"], dict) else None
            if not isinstance(arn, str) or not SQS_ARN.match(arn) or len(arn) > 1000:
                raise invalid_input(
                    "resourceSpecification.sqs.arn must be an SQS queue ARN (arn:aws:sqs:region:account:queue)."
                )
            resource: dict[str, Any] = {"sqs": {"arn": arn}}
        else:
            bridge = spec["eventBridge"]
            if not isinstance(bridge, dict) or not bridge.get("region") or not bridge.get("accountId"):
                raise invalid_input("resourceSpecification.eventBridge needs region and accountId.")
            resource = {
                "eventBridge": {
                    "name": f"aws.partner/sellingpartnerapi.amazon.com/{bridge['accountId']}/{self.application_id}",
                    "region": bridge["region"],
                    "accountId": bridge["accountId"],
                }
            }
        destination = {"name": name, "destinationId": destination_id, "resource": resource}
        with self._ctx.lock:
            arn = resource.get("sqs", {}).get("arn")
            if arn and any(
                d["resource"].get("sqs", {}).get("arn") == arn for d in self._destinations.values()
            ):
                # Why this matters: provisioning must look the destination up (getDestinations), not
                # create it again, or every redeploy fails here.
                raise ApiError(
                    409,
                    "Conflict",
                    "The requested resource conflict with a resource in the server.",
                    f"A destination with arn {arn} already exists for the application {self.application_id}",
                )
            self._destinations[destination_id] = destination
        return EmulatorResponse.json(200, {"payload": copy.deepcopy(destination)})

    def get_destinations(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        return EmulatorResponse.json(200, {"payload": self.destinations})

    def get_destination(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        with self._ctx.lock:
            destination = self._destinations.get(path["destinationId"])
            if destination is None:
                raise not_found(f"Destination {path['destinationId']} was not found.")
            return EmulatorResponse.json(200, {"payload": copy.deepcopy(destination)})

    def delete_destination(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        destination_id = path["destinationId"]
        with self._ctx.lock:
            if destination_id not in self._destinations:
                raise not_found(f"Destination {destination_id} was not found.")
            if any(s["destinationId"] == destination_id for s in self._subscriptions.values()):
                # Why this matters: tear-down has to delete the subscriptions first.
                raise ApiError(
                    403, "Unauthorized", "The requested action is forbidden.", "Destination has subscriptions"
                )
            del self._destinations[destination_id]
        return EmulatorResponse.json(200, {})

    # --- subscriptions (the seller's) --------------------------------------------------------------------
    def create_subscription(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        notification_type = _known_type(path["notificationType"])
        body = json_body(request)
        require_fields(body, "payloadVersion", "destinationId")
        version, destination_id = body["payloadVersion"], body["destinationId"]
        if version not in NOTIFICATION_TYPES[notification_type]:
            raise invalid_input(f"payloadVersion {version!r} is not supported for {notification_type}.")
        directive = _processing_directive(notification_type, body.get("processingDirective"))
        with self._ctx.lock:
            if destination_id not in self._destinations:
                raise invalid_input(f"Destination {destination_id} was not found.")
            for existing in self._subscriptions.values():
                same_expression = (existing.get("processingDirective") or {}).get("filterExpression") == (
                    directive or {}
                ).get("filterExpression")
                if (
                    existing["notificationType"] == notification_type
                    and existing["payloadVersion"] == version
                    and same_expression
                ):
                    # Why this matters: re-running provisioning must treat this as "already subscribed".
                    raise ApiError(
                        409,
                        "StateConflict",
                        "The resource specified conflicts with the current state.",
                        f"Subscription already exist for notification type {notification_type}",
                    )
            subscription: dict[str, Any] = {
                "subscriptionId": self._ctx.uuid(),
                "payloadVersion": version,
                "destinationId": destination_id,
            }
            if directive:
                subscription["processingDirective"] = directive
            self._subscriptions[subscription["subscriptionId"]] = {
                **subscription,
                "notificationType": notification_type,
            }
        return EmulatorResponse.json(200, {"payload": subscription})

    def get_subscription(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        notification_type = _known_type(path["notificationType"])
        version = request.query_value("payloadVersion")
        found = [
            s
            for s in self.subscriptions_for(notification_type)
            if version is None or s["payloadVersion"] == version
        ]
        if not found:
            raise not_found(f"No subscription found for notification type {notification_type}.")
        latest = max(found, key=lambda s: str(s["payloadVersion"]))
        return EmulatorResponse.json(200, {"payload": _public(latest)})

    def get_subscriptions(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        types = request.query_list("notificationTypes")
        if len(types) != 1:
            raise invalid_input("notificationTypes must name exactly one notification type.")
        notification_type = _known_type(types[0])
        page_size = int_parameter(request, "pageSize", low=30, high=100, default=30)
        version = request.query_value("payloadVersion")
        found = [
            _public(s)
            for s in self.subscriptions_for(notification_type)
            if version is None or s["payloadVersion"] == version
        ]
        offset = _offset(request.query_value("nextToken"))
        page: dict[str, Any] = {"subscriptions": found[offset : offset + page_size]}
        if offset + page_size < len(found):
            page["nextToken"] = f"offset-{offset + page_size}"
        return EmulatorResponse.json(200, {"payload": page})

    def get_subscription_by_id(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        subscription = self._by_id(path)
        return EmulatorResponse.json(200, {"payload": _public(subscription)})

    def delete_subscription_by_id(
        self, request: EmulatorRequest, path: Mapping[str, str]
    ) -> EmulatorResponse:
        subscription = self._by_id(path)
        with self._ctx.lock:
            self._subscriptions.pop(subscription["subscriptionId"], None)
        return EmulatorResponse.json(200, {})

    def _by_id(self, path: Mapping[str, str]) -> dict[str, Any]:
        notification_type = _known_type(path["notificationType"])
        with self._ctx.lock:
            subscription = self._subscriptions.get(path["subscriptionId"])
            if subscription is None or subscription["notificationType"] != notification_type:
                raise not_found(
                    f"Subscription {path['subscriptionId']} was not found for {notification_type}."
                )
            return copy.deepcopy(subscription)


def _known_type(name: str) -> str:
    if name not in NOTIFICATION_TYPES:
        raise invalid_input(f"{name} is not a valid notificationType.")
    return name


def _public(subscription: Mapping[str, Any]) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for key, value in subscription.items() if key != "notificationType"}


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.startswith("offset-") or not token[7:].isdigit():
        raise invalid_input("The nextToken is invalid.")
    return int(token[7:])


def _processing_directive(notification_type: str, directive: Any) -> dict[str, Any] | None:
    if directive is None:
        return None
    if not isinstance(directive, dict):
        raise invalid_input(UNPARSEABLE_BODY, "processingDirective must be an object.")
    event_filter, expression = directive.get("eventFilter"), directive.get("filterExpression")
    if event_filter is not None and expression is not None:
        raise invalid_input("eventFilter and filterExpression are mutually exclusive.")
    if expression is not None:
        if not isinstance(expression, str) or not 1 <= len(expression) <= 256:
            raise invalid_input("filterExpression must be a string of 1 to 256 characters.")
        return {"filterExpression": expression}
    if event_filter is None:
        return {}
    if not isinstance(event_filter, dict):
        raise invalid_input(UNPARSEABLE_BODY, "eventFilter must be an object.")
    filter_type = event_filter.get("eventFilterType")
    if not filter_type:
        raise invalid_input(UNPARSEABLE_BODY, "eventFilter.eventFilterType is required.")
    # Why this matters: the filter type must be the subscription's own notification type.
    if filter_type != notification_type or notification_type not in EVENT_FILTERS:
        raise invalid_input(
            f"eventFilterType {filter_type} is not supported for notification type {notification_type}."
        )
    unsupported = sorted(set(event_filter) - EVENT_FILTERS[notification_type])
    if unsupported:
        raise invalid_input(
            f"{', '.join(unsupported)} cannot be used in an eventFilter for {notification_type}."
        )
    marketplace_ids = event_filter.get("marketplaceIds")
    if marketplace_ids is not None and not (
        isinstance(marketplace_ids, list) and all(isinstance(m, str) and m for m in marketplace_ids)
    ):
        raise invalid_input("eventFilter.marketplaceIds must be a list of marketplace ids.")
    change_types = event_filter.get("orderChangeTypes")
    if change_types is not None and (
        not isinstance(change_types, list) or any(t not in ORDER_CHANGE_TYPES for t in change_types)
    ):
        raise invalid_input(
            f"eventFilter.orderChangeTypes must be a list of {', '.join(ORDER_CHANGE_TYPES)}."
        )
    aggregation = event_filter.get("aggregationSettings")
    if aggregation is not None and (
        not isinstance(aggregation, dict)
        or aggregation.get("aggregationTimePeriod") not in AGGREGATION_PERIODS
    ):
        raise invalid_input(
            f"aggregationSettings.aggregationTimePeriod must be one of {', '.join(AGGREGATION_PERIODS)}."
        )
    return {"eventFilter": copy.deepcopy(event_filter)}


def _filter_matches(directive: Mapping[str, Any] | None, envelope: Mapping[str, Any]) -> bool:
    event_filter = (directive or {}).get("eventFilter")
    if not event_filter:
        return True
    payload = envelope.get("Payload") or {}
    change = payload.get("OrderChangeNotification") or {}
    offer = payload.get("AnyOfferChangedNotification") or {}
    marketplace = (change.get("Summary") or {}).get("MarketplaceId") or (
        offer.get("OfferChangeTrigger") or {}
    ).get("MarketplaceId")
    wanted_marketplaces: Sequence[str] | None = event_filter.get("marketplaceIds")
    if wanted_marketplaces and marketplace not in wanted_marketplaces:
        return False
    wanted_changes: Sequence[str] | None = event_filter.get("orderChangeTypes")
    return not (wanted_changes and change.get("OrderChangeType") not in wanted_changes)


def _with_subscription_id(envelope: Mapping[str, Any], subscription_id: str) -> dict[str, Any]:
    delivered = copy.deepcopy(dict(envelope))
    for key in ("NotificationMetadata", "notificationMetadata"):
        if isinstance(delivered.get(key), dict):
            field = "SubscriptionId" if key[0] == "N" else "subscriptionId"
            delivered[key][field] = subscription_id
    return delivered
