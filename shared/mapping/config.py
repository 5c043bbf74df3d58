"""The declarative mapping: built-in defaults (defaults.toml) merged with the user's MAPPING_FILE.

Users change status tables, column names and policies here without touching code. The file is validated
when the app starts: a typo fails with the path of the bad entry, not on the first order.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import ConfigurationError
from shared.model.crm import StateTarget
from shared.model.order import OrderStatus

PiiAction = Literal["keep", "mask", "omit"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SalesOrderMapping(_Strict):
    name: str
    description: str
    price_lists: dict[str, str]

    def price_list_for(self, currency: str) -> str | None:
        name = self.price_lists.get(currency, self.price_lists.get("default", ""))
        return name or None


class ProductPolicy(_Strict):
    unknown_sku: Literal["write_in", "hold"]


class CustomerPolicy(_Strict):
    mode: Literal["buyer_contact", "marketplace_account"]
    account_name: str
    anonymous_contact_name: str


class PiiPolicy(_Strict):
    buyer_name: PiiAction
    buyer_email: PiiAction
    ship_to_name: PiiAction
    ship_to_street: PiiAction
    ship_to_city: PiiAction
    ship_to_state: PiiAction
    ship_to_postal_code: PiiAction
    ship_to_country: PiiAction
    ship_to_phone: PiiAction


class SalesOrderColumns(_Strict):
    order_id: str = Field(min_length=1)
    name: str
    description: str
    marketplace_id: str
    fulfillment_channel: str
    amazon_status: str
    last_updated: str
    grand_total: str
    freight: str
    submitted: str
    deliver_by: str
    ship_to_name: str
    ship_to_line1: str
    ship_to_line2: str
    ship_to_line3: str
    ship_to_city: str
    ship_to_state: str
    ship_to_postal_code: str
    ship_to_country: str
    ship_to_phone: str


class LineColumns(_Strict):
    order_id: str = Field(min_length=1)
    order_item_id: str = Field(min_length=1)
    seller_sku: str
    asin: str


class ContactColumns(_Strict):
    buyer_id: str = Field(min_length=1)
    first_name: str
    last_name: str
    email: str
    description: str


class AccountColumns(_Strict):
    marketplace_id: str = Field(min_length=1)
    name: str


class Columns(_Strict):
    salesorder: SalesOrderColumns
    salesorderdetail: LineColumns
    contact: ContactColumns
    account: AccountColumns


class Marketplace(_Strict):
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class MappingConfig(_Strict):
    salesorder: SalesOrderMapping
    status: dict[OrderStatus, StateTarget]
    products: ProductPolicy
    customer: CustomerPolicy
    pii: PiiPolicy
    columns: Columns
    marketplaces: dict[str, Marketplace]

    @field_validator("status")
    @classmethod
    def _every_status(cls, value: dict[OrderStatus, StateTarget]) -> dict[OrderStatus, StateTarget]:
        missing = [status.value for status in OrderStatus if status not in value]
        if missing:
            raise ValueError(f"no target for Amazon status {', '.join(missing)}")
        return value


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_prefix(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return value.replace("{prefix}", prefix)
    if isinstance(value, dict):
        return {key: _with_prefix(item, prefix) for key, item in value.items()}
    return value


def load_mapping(path: Path | None = None, *, prefix: str = "new_") -> MappingConfig:
    """Defaults merged with `path`, "{prefix}" substituted in column names, validated."""
    data = tomllib.loads(files("shared.mapping").joinpath("defaults.toml").read_text("utf-8"))
    if path is not None:
        try:
            override = tomllib.loads(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"MAPPING_FILE cannot be read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"MAPPING_FILE is not valid TOML: {exc}") from None
        data = _merge(data, override)
    data["columns"] = _with_prefix(data.get("columns", {}), prefix)
    try:
        return MappingConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"MAPPING_FILE is invalid: {problems}") from None


if __name__ == "__main__":  # python -m shared.mapping.config [--show] [file]
    arguments = [arg for arg in sys.argv[1:] if arg != "--show"]
    mapping = load_mapping(Path(arguments[0]) if arguments else None)
    print(mapping.model_dump_json(indent=2) if "--show" in sys.argv else "mapping OK")  # noqa: T201
