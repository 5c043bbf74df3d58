"""Dataverse's currencies: which one is the organization's base, and their exchange rates.

`transactioncurrency.exchangerate` is the number of units of the currency per one unit of the base currency
(the base currency's own rate is always 1 and cannot be changed). Dataverse copies it onto every record saved
in that currency, and computes the record's `_base` money columns with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient


@dataclass(frozen=True)
class CrmCurrency:
    currency_id: str
    code: str  # ISO 4217
    exchange_rate: Decimal | None


class CrmCurrencies:
    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    def active(self) -> list[CrmCurrency]:
        rows = self._client.query(
            "transactioncurrencies",
            select=("transactioncurrencyid", "isocurrencycode", "exchangerate"),
            filter="statecode eq 0",
        )
        return [
            CrmCurrency(
                str(row["transactioncurrencyid"]),
                str(row["isocurrencycode"]).upper(),
                Decimal(str(row["exchangerate"])) if row.get("exchangerate") is not None else None,
            )
            for row in rows
        ]

    def base_currency_id(self) -> str | None:
        """The organization's base currency (organization.basecurrencyid)."""
        rows = self._client.query("organizations", select=("_basecurrencyid_value",), top=1)
        row = next(iter(rows), None)
        value = row.get("_basecurrencyid_value") if row else None
        return str(value) if value else None

    def set_rate(self, currency_id: str, rate: Decimal) -> None:
        self._client.request(
            "PATCH",
            odata.entity_path("transactioncurrencies", currency_id),
            body={"exchangerate": float(rate)},
            headers={"If-Match": "*"},
            idempotent=True,
            what="exchange rate update",
        )
