"""Every route of the SP-API emulator against Amazon's models and rate_limits.json: paths, methods, operation
names, query parameters, usage plans, the rate-limit header and the error statuses each operation may use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.spapi_emulator import DEFAULT_RATE_LIMITS, USAGE_PLANS, SpApiEmulator
from sandbox.spapi_emulator.routes import Route
from tests.contract.spapi_model_checks import MODELS, load_json, operations, query_parameters, usage_plan

# The error statuses each operation's handler can answer (403 and 429 come from the pipeline for all).
ERROR_STATUSES: dict[str, tuple[int, ...]] = {
    "getOrder": (400, 404),
    "searchOrders": (400,),
    "confirmShipment": (400, 404),
    "getSubscriptions": (400,),
    "getSubscription": (400, 404),
    "createSubscription": (400, 409),
    "getSubscriptionById": (400, 404),
    "deleteSubscriptionById": (400, 404),
    "getDestinations": (400,),
    "createDestination": (400, 409),
    "getDestination": (404,),
    "deleteDestination": (404,),
    "listTransactions": (400,),
    "getReports": (400,),
    "createReport": (400,),
    "cancelReport": (400, 404),
    "getReport": (404,),
    "getReportDocument": (400, 404),
    "getListingsItem": (400, 404),
    "patchListingsItem": (400,),
    "getFeeds": (400,),
    "createFeed": (400,),
    "getFeed": (404,),
    "createFeedDocument": (400,),
    "getFeedDocument": (400, 404),
    "getInventorySummaries": (400,),
    "getMarketplaceParticipations": (400,),
}


@pytest.fixture(scope="module")
def models(spapi_models_dir: Path) -> dict[str, dict[str, Any]]:
    return {name: load_json(spapi_models_dir, relative) for name, relative in MODELS.items()}


@pytest.fixture(scope="module")
def published(spapi_models_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        (spapi_models_dir / "rate_limits.json").read_text(encoding="utf-8")
    )
    return rows


def sp_api_routes() -> list[Route]:
    """The emulator's SP-API routes (not Login with Amazon, not the S3-like document URLs)."""
    return [route for route in SpApiEmulator().routes.routes if route.operation in DEFAULT_RATE_LIMITS]


def model_operation(models: dict[str, dict[str, Any]], route: Route) -> tuple[str, dict[str, Any]]:
    """(model name, operation object) of the model path and method the route serves."""
    for name, model in models.items():
        for operation_id, (method, path, op) in operations(model).items():
            if (method, path) == (route.method, route.template) and operation_id == route.operation:
                return name, op
    raise LookupError(f"{route.method} {route.template} ({route.operation}) is in no model")


def test_every_route_is_a_model_operation_with_the_same_name(models: dict[str, dict[str, Any]]) -> None:
    """Each emulated operation exists in Amazon's models with the same method, path template and operationId."""
    unmatched = []
    for route in sp_api_routes():
        try:
            model_operation(models, route)
        except LookupError as missing:
            unmatched.append(str(missing))

    assert unmatched == []


def test_every_usage_plan_belongs_to_a_served_operation() -> None:
    """The usage-plan table has no entry the emulator does not serve, and every served operation has one."""
    assert {route.operation for route in sp_api_routes()} == set(USAGE_PLANS)


def test_usage_plans_match_rate_limits_json_and_the_models_tables(
    models: dict[str, dict[str, Any]], published: list[dict[str, Any]]
) -> None:
    """Each operation's (rate, burst) equals rate_limits.json and the "Usage Plan" table of its model."""
    by_key = {(row["model"], row["operationId"]): (row["rate_per_second"], row["burst"]) for row in published}
    mismatches = {}
    for route in sp_api_routes():
        name, op = model_operation(models, route)
        emulated = DEFAULT_RATE_LIMITS[route.operation]
        if by_key[(MODELS[name], route.operation)] != emulated or usage_plan(op) != emulated:
            mismatches[route.operation] = (emulated, by_key[(MODELS[name], route.operation)], usage_plan(op))

    assert mismatches == {}


def test_routes_accept_exactly_the_models_query_parameters(models: dict[str, dict[str, Any]]) -> None:
    """The query parameters an operation accepts are those its model declares (unknown ones are refused)."""
    differences = {}
    for route in sp_api_routes():
        name, _ = model_operation(models, route)
        declared = set(query_parameters(models[name], route.operation))
        if set(route.query or ()) != declared:
            differences[route.operation] = (sorted(set(route.query or ())), sorted(declared))

    assert differences == {}


def test_success_responses_declare_the_rate_limit_header(models: dict[str, dict[str, Any]]) -> None:
    """The model's 2xx answer of every emulated operation declares x-amzn-RateLimit-Limit, which the emulator sends."""
    missing = []
    for route in sp_api_routes():
        _, op = model_operation(models, route)
        for status, response in op["responses"].items():
            if status.startswith("2") and "x-amzn-RateLimit-Limit" not in (response.get("headers") or {}):
                missing.append(f"{route.operation} {status}")

    assert missing == []


def test_the_error_statuses_the_emulator_uses_are_documented(models: dict[str, dict[str, Any]]) -> None:
    """Every status an operation can answer (plus 403, 429, 500, 503 for all) is among the model's responses."""
    undocumented = {}
    for route in sp_api_routes():
        _, op = model_operation(models, route)
        used = {*ERROR_STATUSES[route.operation], 403, 429, 500, 503}
        documented = {int(status) for status in op["responses"]}
        if used - documented:
            undocumented[route.operation] = sorted(used - documented)

    assert undocumented == {}
