"""Exchange rates for the money rows: the rate of each posting date, and Dataverse's currencies kept current.

Once per finance run: Dataverse's active currencies and base currency are read (one query each), the reference
table is fetched when the one in hand is older than `refresh` (the ECB publishes once per business day), and
every currency whose `transactioncurrency.exchangerate` differs from the table's latest day is updated: the
daily refresh. A row's base value uses the rate of its own posting date from the table (a late transaction
gets the rate of the day it was posted, not of the day it arrived). Without a rates source, or for a day the
table does not cover, Dataverse's current rate is used and the row says so (`ratesource` = "dataverse").

A rates outage never stops the money: the run goes on with the table it has, or with Dataverse's rates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from shared.dataverse.currencies import CrmCurrencies, CrmCurrency
from shared.errors import SyncError
from shared.model.exchange_rates import ExchangeRate, RateTable, same_currency
from shared.rates.ecb import ReferenceRates
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

DATAVERSE_SOURCE = "dataverse"
RATE_TOLERANCE = Decimal("0.0000000001")  # Dataverse keeps 10 decimals


class RateKeeper:
    def __init__(
        self,
        currencies: CrmCurrencies,
        source: ReferenceRates | None,
        *,
        refresh: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._currencies = currencies
        self._source = source
        self._refresh = refresh
        self._clock = clock
        self._table: RateTable | None = None
        self._fetched_at: datetime | None = None
        self._by_code: dict[str, CrmCurrency] = {}
        self._base: str | None = None

    @property
    def base_currency(self) -> str | None:
        return self._base

    def prepare(self, *, update_dataverse: bool = True) -> int:
        """Read Dataverse's currencies, refresh the table when due and (`update_dataverse`) bring Dataverse's
        rates up to its latest day; returns how many currencies were updated."""
        currencies = self._currencies.active()
        self._by_code = {currency.code: currency for currency in currencies}
        base_id = self._currencies.base_currency_id()
        self._base = next((c.code for c in currencies if c.currency_id == base_id), None)
        self._refresh_table()
        return self._update_dataverse() if update_dataverse else 0

    def currency_id(self, code: str) -> str | None:
        currency = self._by_code.get(code.upper())
        return currency.currency_id if currency else None

    def rate(self, currency: str, posted: datetime) -> ExchangeRate | None:
        """The rate for an amount in `currency` posted at `posted`, or None when neither source knows it."""
        base = self._base
        if base is None:
            return None
        if currency == base:
            return same_currency(currency, posted.date())
        if self._table is not None:
            found = self._table.rate(currency, base, posted.date())
            if found is not None:
                return found
        known = self._by_code.get(currency)
        if known is None or not known.exchange_rate:
            return None
        return ExchangeRate(currency, base, known.exchange_rate, self._clock().date(), DATAVERSE_SOURCE)

    def _refresh_table(self) -> None:
        now = self._clock()
        if self._source is None:
            return
        if (
            self._table is not None
            and self._fetched_at is not None
            and now - self._fetched_at < self._refresh
        ):
            return
        try:
            self._table = self._source.fetch()
            self._fetched_at = now
        except SyncError as exc:
            log.warning(
                "Exchange rates: %s (%s); going on with %s",
                exc.reason,
                exc,
                "the rates fetched before" if self._table else "Dataverse's rates",
            )

    def _update_dataverse(self) -> int:
        table, base = self._table, self._base
        day = table.latest_day if table else None
        if table is None or base is None or day is None:
            return 0
        updated = 0
        for code, currency in self._by_code.items():
            if code == base:
                continue
            rate = table.rate(code, base, day)
            if rate is None or (
                currency.exchange_rate is not None
                and abs(currency.exchange_rate - rate.rate) < RATE_TOLERANCE
            ):
                continue
            self._currencies.set_rate(currency.currency_id, rate.rate)
            self._by_code[code] = CrmCurrency(currency.currency_id, code, rate.rate)
            updated += 1
        if updated:
            log.info("Exchange rates: %d Dataverse currencies updated to the rates of %s", updated, day)
        return updated
