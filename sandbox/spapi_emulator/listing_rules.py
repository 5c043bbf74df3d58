"""What Amazon accepts in a listings submission (patchListingsItem and JSON_LISTINGS_FEED messages).

Two levels, as Amazon answers them: a body it cannot read (no patches, an unknown op, a value that is not a
list of objects) is refused outright (400); a readable submission with wrong values is INVALID with issues
(code, message, severity, attributeNames, categories). The values checked are the ones the product writes:
``fulfillment_availability`` quantity (a whole number >= 0), ``purchasable_offer`` price (> 0) and currency
(the marketplace's), and the product type (the listing's own).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sandbox.amazon_samples import MARKETPLACES
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, invalid_input

PATCH_OPS: Final = ("add", "replace", "merge", "delete")
# "Only top-level listings item attributes can be patched. Patching nested attributes is not supported."
ATTRIBUTE_PATH: Final = re.compile(r"^/attributes/([a-z0-9_]+)$")


def check_patches(patches: Any) -> None:
    """The shape JSON Patch needs before anything can be validated (400 otherwise)."""
    if not isinstance(patches, list) or not patches:
        raise invalid_input(UNPARSEABLE_BODY, "patches must be a non-empty list.")
    for operation in patches:
        if (
            not isinstance(operation, dict)
            or operation.get("op") not in PATCH_OPS
            or not isinstance(operation.get("path"), str)
        ):
            raise invalid_input(
                UNPARSEABLE_BODY, f"Each patch needs an op ({', '.join(PATCH_OPS)}) and a path."
            )
        value = operation.get("value")
        if operation["op"] != "delete" and value is None:
            raise invalid_input(UNPARSEABLE_BODY, f"The {operation['op']} operation needs a value.")
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise invalid_input(UNPARSEABLE_BODY, "A patch value must be a list of objects.")


def validate_attributes(
    attributes: Mapping[str, Any], previous: Mapping[str, Any], marketplace_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Issues for the values the emulator knows the rules of (stock, price, currency), checked on what the
    submission changes (entries already stored as they are were accepted before)."""

    def changed(name: str) -> list[dict[str, Any]]:
        return [entry for entry in attributes.get(name, []) if entry not in previous.get(name, [])]

    issues = []
    for entry in changed("fulfillment_availability"):
        quantity = entry.get("quantity")
        if not entry.get("fulfillment_channel_code"):
            issues.append(
                issue(
                    "90220",
                    "'fulfillment_channel_code' is required but not supplied.",
                    ["fulfillment_availability"],
                    "MISSING_ATTRIBUTE",
                )
            )
        if quantity is not None and (
            not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0
        ):
            issues.append(
                issue(
                    "4000001",
                    f"The provided value for 'Quantity' is invalid: {quantity!r} (must be a whole number of 0 or more).",
                    ["fulfillment_availability"],
                    "INVALID_ATTRIBUTE",
                )
            )
    for offer in changed("purchasable_offer"):
        marketplace_id = offer.get("marketplace_id")
        marketplace = MARKETPLACES.get(str(marketplace_id))
        if marketplace is None or marketplace_id not in marketplace_ids:
            issues.append(
                issue(
                    "4000001",
                    f"The provided value for 'Marketplace' is invalid: {marketplace_id!r}.",
                    ["purchasable_offer"],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        if offer.get("currency") != marketplace.currency:
            issues.append(
                issue(
                    "4000001",
                    f"The provided value for 'Currency' is invalid: {offer.get('currency')!r} (the marketplace sells in {marketplace.currency}).",
                    ["purchasable_offer"],
                    "INVALID_PRICE",
                )
            )
        price = offer_price(offer)
        if price is None or price <= 0:
            issues.append(
                issue(
                    "4000001",
                    "The provided value for 'Your Price' is invalid: it must be greater than 0.",
                    ["purchasable_offer"],
                    "INVALID_PRICE",
                )
            )
    return issues


def product_type_issues(listing_product_type: str | None, product_type: Any) -> list[dict[str, Any]]:
    """A submission must name the listing's own product type (no issue for a listing that does not exist)."""
    if listing_product_type is not None and product_type != listing_product_type:
        return [
            issue(
                "4000003",
                f"The Amazon product type specified is invalid or not supported: {product_type!r} (the listing is {listing_product_type}).",
                [],
                "INVALID_ATTRIBUTE",
            )
        ]
    return []


def apply_operation(
    attributes: dict[str, list[dict[str, Any]]], name: str, operation: Mapping[str, Any]
) -> None:
    value = copy.deepcopy(operation.get("value") or [])
    op = operation["op"]
    if op in ("add", "replace"):
        attributes[name] = value
    elif op == "merge":
        merged = attributes.setdefault(name, [])
        for entry in value:
            key = _entry_key(entry)
            existing = next((e for e in merged if key is not None and _entry_key(e) == key), None)
            if existing is None:
                merged.append(entry)
            else:
                existing.update(entry)
    elif not value:  # delete the whole attribute
        attributes.pop(name, None)
    else:  # delete the entries named by the value
        keys = {_entry_key(entry) for entry in value}
        attributes[name] = [e for e in attributes.get(name, []) if _entry_key(e) not in keys]


def _entry_key(entry: Mapping[str, Any]) -> Any:
    return entry.get("marketplace_id") or entry.get("fulfillment_channel_code")


def offer_entry(marketplace_id: str, currency: str, price: Decimal) -> dict[str, Any]:
    return {
        "marketplace_id": marketplace_id,
        "currency": currency,
        "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
    }


def offer_price(offer: Mapping[str, Any]) -> Decimal | None:
    try:
        value = offer["our_price"][0]["schedule"][0]["value_with_tax"]
        if isinstance(value, bool):
            return None
        return Decimal(str(value))
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return None


def issue(code: str, message: str, attributes: list[str], category: str) -> dict[str, Any]:
    issue: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR"}
    if attributes:
        issue["attributeNames"] = attributes
    issue["categories"] = [category]
    return issue
