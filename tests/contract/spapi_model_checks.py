"""Reading Amazon's SP-API models (Swagger 2.0) and checking emulator output against them.

The models are read from ``SPAPI_MODELS_DIR`` (the ``spapi_models_dir`` fixture), never copied. Schemas are
validated as JSON Schema draft 4 with ``#/definitions/...`` resolved against the model's own definitions.
Because Swagger objects do not forbid extra keys, two stricter checks run as well: no field the model does
not declare (unless the schema allows additional properties), and string values inside the
"**Possible values**" lists that the model's descriptions give.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

POSSIBLE_VALUES = re.compile(r"\*\*Possible values?:?\*\*:?(.*?)(?:\*\*Note|$)", re.DOTALL)
USAGE_PLAN_ROW = re.compile(r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|")
METHODS = ("get", "put", "post", "delete", "patch")

MODELS = {
    "orders": "models/orders-api-model/orders_2026-01-01.json",
    "ordersV0": "models/orders-api-model/ordersV0.json",
    "notifications": "models/notifications-api-model/notifications.json",
    "finances": "models/finances-api-model/finances_2024-06-19.json",
    "reports": "models/reports-api-model/reports_2021-06-30.json",
    "listings": "models/listings-items-api-model/listingsItems_2021-08-01.json",
    "feeds": "models/feeds-api-model/feeds_2021-06-30.json",
    "fbaInventory": "models/fba-inventory-api-model/fbaInventory.json",
    "sellers": "models/sellers-api-model/sellers.json",
}


def load_json(models_dir: Path, relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((models_dir / relative).read_text(encoding="utf-8"))
    return data


def operations(model: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (HTTP method, path template, operation object)."""
    found = {}
    for path, methods in model["paths"].items():
        for method, candidate in methods.items():
            if method in METHODS and isinstance(candidate, dict) and "operationId" in candidate:
                found[candidate["operationId"]] = (method.upper(), path, candidate)
    return found


def operation(model: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return operations(model)[operation_id][2]


def query_parameters(model: dict[str, Any], operation_id: str) -> dict[str, dict[str, Any]]:
    _, path, op = operations(model)[operation_id]
    shared = model["paths"][path].get("parameters", [])
    return {p["name"]: p for p in [*shared, *op.get("parameters", [])] if p.get("in") == "query"}


def usage_plan(op: dict[str, Any]) -> tuple[float, int]:
    """(rate, burst) from the "Usage Plan" table of an operation's description."""
    match = USAGE_PLAN_ROW.search(op["description"])
    assert match, f"no usage plan table in {op['operationId']}"
    return float(match.group(1)), int(match.group(2))


def response_schema(model: dict[str, Any], operation_id: str, status: int) -> str:
    """The definition name a response status of an operation is declared with."""
    ref: str = operation(model, operation_id)["responses"][str(status)]["schema"]["$ref"]
    return ref.removeprefix("#/definitions/")


def conformance_problems(model: dict[str, Any], definition: str, instance: Any) -> list[str]:
    """Schema errors, undeclared fields and values outside documented lists, as readable strings."""
    definitions = model["definitions"]
    validator = Draft4Validator(
        {"definitions": definitions, "$ref": f"#/definitions/{definition}"},
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)
    ]
    _strict_walk(definitions, {"$ref": f"#/definitions/{definition}"}, instance, "", problems)
    return problems


def documented_values(description: str) -> set[str] | None:
    match = POSSIBLE_VALUES.search(description)
    if not match:
        return None
    values = set(re.findall(r"`([A-Z0-9_]+)`", match.group(1)))
    return values or None  # "Possible value: `Shipment`" style lists of mixed-case words are examples


def _resolve(definitions: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        resolved: dict[str, Any] = definitions[schema["$ref"].removeprefix("#/definitions/")]
        schema = resolved
    if "allOf" in schema:  # EventFilter, Context: the union of the parts' properties
        merged: dict[str, Any] = {"type": "object", "properties": dict(schema.get("properties", {}))}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(definitions, part).get("properties", {}))
        return merged
    return schema


def _strict_walk(
    definitions: dict[str, Any], schema: dict[str, Any], instance: Any, path: str, problems: list[str]
) -> None:
    allowed = documented_values(schema.get("description", ""))
    resolved = _resolve(definitions, schema)
    if allowed is None and resolved.get("type") == "string":
        allowed = documented_values(resolved.get("description", ""))
    if isinstance(instance, dict):
        if resolved.get("additionalProperties"):
            return  # free-form objects (listing attributes, report options)
        properties = resolved.get("properties", {})
        for key, value in instance.items():
            if key not in properties:
                problems.append(f"{path}/{key}: not declared in the model")
            else:
                _strict_walk(definitions, properties[key], value, f"{path}/{key}", problems)
    elif isinstance(instance, list):
        for index, value in enumerate(instance):
            item_schema = dict(resolved.get("items", {}))
            if allowed is not None:  # "Possible values" on an array of strings speak of its items
                item_schema.setdefault("description", schema.get("description", ""))
            _strict_walk(definitions, item_schema, value, f"{path}/{index}", problems)
    elif isinstance(instance, str) and allowed is not None and instance not in allowed:
        problems.append(f"{path}: {instance!r} is not among the documented values {sorted(allowed)}")
