"""Daily reference exchange rates, and the rate Dataverse wants: units of a currency per one unit of the base.

Dataverse's `transactioncurrency.exchangerate` is "the exchange rate between the transaction currency and the
base currency": an amount divided by it gives the base-currency value. A reference table (the ECB's) quotes
every currency against one anchor (the euro), so the rate between any two is a cross rate:
rate(currency, base) = quote(currency) / quote(base), the anchor quoting 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

# Dataverse keeps exchange rates with 10 decimals (transactioncurrency.exchangerate precision).
RATE_QUANTUM = Decimal("0.0000000001")
# Reference rates are published on business days only: a weekend or holiday uses the last published day,
# but never one older than this (a gap that long means the table does not cover the date).
MAX_RATE_AGE = timedelta(days=7)


@dataclass(frozen=True)
class ExchangeRate:
    """The rate used for an amount, as stored with it."""

    currency: str
    base_currency: str
    rate: Decimal  # units of `currency` per one unit of `base_currency`
    rate_date: date  # the day the rate was published for
    source: str  # where it came from ("ecb", "dataverse", "same currency")

    def to_base(self, amount: Decimal) -> Decimal:
        return (amount / self.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RateTable:
    """Reference rates by day: `quotes[day][currency]` units of the currency per one unit of `anchor`."""

    anchor: str
    quotes: Mapping[date, Mapping[str, Decimal]]
    source: str

    @property
    def latest_day(self) -> date | None:
        return max(self.quotes, default=None)

    def rate(self, currency: str, base_currency: str, on: date) -> ExchangeRate | None:
        """The rate of `on`, or of the last day published before it (within a week); None when not covered."""
        for offset in range(MAX_RATE_AGE.days + 1):
            day = on - timedelta(days=offset)
            quotes = self.quotes.get(day)
            if quotes is None:
                continue
            numerator, denominator = self._quote(quotes, currency), self._quote(quotes, base_currency)
            if numerator is None or denominator is None:
                return None
            rate = (numerator / denominator).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)
            return ExchangeRate(currency, base_currency, rate, day, self.source)
        return None

    def _quote(self, quotes: Mapping[str, Decimal], currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.anchor else quotes.get(currency)


def same_currency(currency: str, on: date) -> ExchangeRate:
    return ExchangeRate(currency, currency, Decimal(1), on, "same currency")
