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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class ListingsMapping(_Strict):
    """CRM -> Amazon listings: which price list's items are the offer price in which marketplace."""

    price_lists: dict[str, str]  # marketplace id -> pricelevel name

    def marketplaces_of(self, price_list: str) -> list[str]:
        return [marketplace for marketplace, name in self.price_lists.items() if name == price_list]


class ShipmentsMapping(_Strict):
    """CRM carrier names (compared case-insensitively) -> Amazon carrierCode; others go as "Other" + name."""

    carriers: dict[str, str]

    def carrier_code(self, carrier: str) -> str | None:
        wanted = carrier.strip().lower()
        return next((code for name, code in self.carriers.items() if name.lower() == wanted), None)


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
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    ship_date: str = Field(min_length=1)


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


class ProductColumns(_Strict):
    sku: str = Field(min_length=1)  # the seller SKU
    quantity: str = Field(min_length=1)  # the stock sent to Amazon as merchant-fulfilled quantity


class FbaStockColumns(_Strict):
    """The custom table holding Amazon's fulfillable FBA quantity per product and marketplace."""

    table: str = Field(min_length=1)
    entity_set: str = Field(min_length=1)
    key: str = Field(min_length=1)  # alternate key: "<marketplaceId>_<productid>"
    name: str = Field(min_length=1)
    product: str = Field(min_length=1)  # lookup to product
    sku: str = Field(min_length=1)
    marketplace_id: str = Field(min_length=1)
    fulfillable: str = Field(min_length=1)
    as_of: str = Field(min_length=1)


class Columns(_Strict):
    salesorder: SalesOrderColumns
    salesorderdetail: LineColumns
    contact: ContactColumns
    account: AccountColumns
    product: ProductColumns
    fba_stock: FbaStockColumns


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
    listings: ListingsMapping
    shipments: ShipmentsMapping

    @field_validator("status")
    @classmethod
    def _every_status(cls, value: dict[OrderStatus, StateTarget]) -> dict[OrderStatus, StateTarget]:
        missing = [status.value for status in OrderStatus if status not in value]
        if missing:
            raise ValueError(f"no target for Amazon status {', '.join(missing)}")
        return value

    @model_validator(mode="after")
    def _price_lists_in_one_currency(self) -> MappingConfig:
        """Each marketplace of listings.price_lists is known (its currency), and one price list serves
        marketplaces of one currency only (a price list has one currency)."""
        unknown = sorted(set(self.listings.price_lists) - set(self.marketplaces))
        if unknown:
            raise ValueError(
                f"listings.price_lists names marketplaces without a currency: {', '.join(unknown)}"
            )
        for name in set(self.listings.price_lists.values()):
            currencies = {self.marketplaces[m].currency for m in self.listings.marketplaces_of(name)}
            if len(currencies) > 1:
                raise ValueError(
                    f"listings.price_lists: price list {name!r} serves marketplaces in several currencies"
                )
        return self


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
