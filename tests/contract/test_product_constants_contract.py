"""The product's own copies of Amazon's enums agree with Amazon's published models and schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.amazon.rate_limits import PUBLISHED_USAGE_PLANS
from shared.config import ORDER_DATASETS
from shared.model.order import NOTIFICATION_STATUSES, OrderStatus


def _orders_model(models: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (models / "models/orders-api-model/orders_2026-01-01.json").read_text("utf-8")
    )
    return data


def test_included_data_matches_the_orders_model(spapi_models_dir: Path) -> None:
    """SPAPI_INCLUDED_DATA accepts exactly the datasets of getOrder's includedData enum."""
    parameters = _orders_model(spapi_models_dir)["paths"]["/orders/2026-01-01/orders/{orderId}"]["get"][
        "parameters"
    ]
    [included] = [parameter for parameter in parameters if parameter["name"] == "includedData"]
    assert set(included["items"]["enum"]) == ORDER_DATASETS


def test_canonical_statuses_are_the_models_fulfillment_statuses(spapi_models_dir: Path) -> None:
    """Every FulfillmentStatus of the model has a canonical status, and nothing else does."""
    model_statuses = set(_orders_model(spapi_models_dir)["definitions"]["FulfillmentStatus"]["enum"])
    assert {status.value for status in OrderStatus} == model_statuses


def test_every_order_change_status_is_understood(spapi_models_dir: Path) -> None:
    """ORDER_CHANGE's Summary.OrderStatus values all map to a canonical status (its rank guards against
    snapshots that lag behind the notification)."""
    schema = json.loads(
        (spapi_models_dir / "schemas/notifications/OrderChangeNotification.json").read_text("utf-8")
    )
    summary = schema["properties"]["Payload"]["properties"]["OrderChangeNotification"]["properties"][
        "Summary"
    ]
    assert set(summary["properties"]["OrderStatus"]["enum"]) == set(NOTIFICATION_STATUSES)


def test_published_usage_plans_match_rate_limits_json(spapi_models_dir: Path) -> None:
    """The token buckets start from the rates and bursts Amazon publishes for each operation we call (of
    the operation's current model: getOrder exists in the deprecated v0 model too, with another plan)."""
    rows = json.loads((spapi_models_dir / "rate_limits.json").read_text("utf-8"))
    published: dict[str, set[tuple[float, int]]] = {}
    for row in rows:
        if not row["deprecated"]:
            published.setdefault(row["operationId"], set()).add((row["rate_per_second"], row["burst"]))
    for operation, plan in PUBLISHED_USAGE_PLANS.items():
        assert (plan.rate, plan.burst) in published[operation], operation
