"""Reference rates in the ECB's format, cross rates to Dataverse's base currency, and the daily refresh."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import cast

import pytest

from sandbox.ecb_rates import rate_on, reference_document
from shared.dataverse.currencies import CrmCurrencies, CrmCurrency
from shared.flows.exchange_rates import DATAVERSE_SOURCE, RateKeeper
from shared.model.exchange_rates import RateTable
from shared.rates.ecb import RatesInvalid, RatesUnavailable, ReferenceRates, parse_reference_rates

MONDAY, FRIDAY, SUNDAY = date(2025, 3, 3), date(2025, 3, 7), date(2025, 3, 9)

ECB_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time="2025-03-07"><Cube currency="USD" rate="1.0830"/><Cube currency="GBP" rate="0.8398"/></Cube>
    <Cube time="2025-03-06"><Cube currency="USD" rate="1.0790"/><Cube currency="GBP" rate="0.8376"/></Cube>
  </Cube>
</gesmes:Envelope>"""


def test_the_ecb_format_gives_every_day_and_currency() -> None:
    """Each <Cube time> is a day; each rate is units of the currency per euro."""
    table = parse_reference_rates(ECB_SAMPLE)
    assert table.anchor == "EUR"
    assert table.latest_day == FRIDAY
    assert table.quotes[date(2025, 3, 6)]["GBP"] == Decimal("0.8376")


def test_a_cross_rate_is_units_of_the_currency_per_unit_of_the_base() -> None:
    """Base USD: EUR = 1/1.0830, GBP = 0.8398/1.0830 (Dataverse's exchangerate: amount / rate = base value)."""
    table = parse_reference_rates(ECB_SAMPLE)
    euro = table.rate("EUR", "USD", FRIDAY)
    pound = table.rate("GBP", "USD", FRIDAY)
    assert euro is not None
    assert pound is not None
    assert euro.rate == (Decimal(1) / Decimal("1.0830")).quantize(Decimal("1e-10"))
    assert pound.rate == (Decimal("0.8398") / Decimal("1.0830")).quantize(Decimal("1e-10"))
    assert euro.to_base(Decimal("100.00")) == Decimal("108.30")


def test_a_weekend_uses_the_last_published_day_and_a_gap_of_weeks_none() -> None:
    """Sunday's rate is Friday's; a day the table does not come near is not guessed."""
    table = parse_reference_rates(ECB_SAMPLE)
    sunday = table.rate("GBP", "USD", SUNDAY)
    assert sunday is not None
    assert sunday.rate_date == FRIDAY
    assert table.rate("GBP", "USD", date(2025, 1, 2)) is None
    assert table.rate("CHF", "USD", FRIDAY) is None


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b"<Cube><Cube time='2025-03-07'><Cube currency='USD' rate='-1'/></Cube></Cube>",
        b"<Cube><Cube time='yesterday'/></Cube>",
        b"not xml",
        b"<Cube/>",
    ],
)
def test_documents_that_are_not_reference_rates_are_refused(document: bytes) -> None:
    """Entity declarations, negative rates, bad days, non-XML and empty tables are all RatesInvalid."""
    with pytest.raises(RatesInvalid):
        parse_reference_rates(document)


def test_the_sandbox_stand_in_serves_the_ecb_format() -> None:
    """The stand-in's document reads back to its own table (weekdays only)."""
    table = parse_reference_rates(reference_document([MONDAY, FRIDAY]))
    assert sorted(table.quotes) == [MONDAY, FRIDAY]
    assert table.quotes[MONDAY]["JPY"] == rate_on("JPY", MONDAY)


# --- RateKeeper: Dataverse's currencies and the daily refresh ---------------------------------------------
class FakeCurrencies:
    def __init__(self) -> None:
        self.rows = {
            "USD": CrmCurrency("usd-id", "USD", Decimal(1)),
            "EUR": CrmCurrency("eur-id", "EUR", Decimal("0.92")),
            "GBP": CrmCurrency("gbp-id", "GBP", Decimal("0.79")),
        }
        self.updates: list[tuple[str, Decimal]] = []

    def active(self) -> list[CrmCurrency]:
        return list(self.rows.values())

    def base_currency_id(self) -> str:
        return "usd-id"

    def set_rate(self, currency_id: str, rate: Decimal) -> None:
        self.updates.append((currency_id, rate))
        code = next(code for code, row in self.rows.items() if row.currency_id == currency_id)
        self.rows[code] = CrmCurrency(currency_id, code, rate)


class FakeSource:
    def __init__(self, table: RateTable | Exception) -> None:
        self.table = table
        self.fetches = 0

    def fetch(self) -> RateTable:
        self.fetches += 1
        if isinstance(self.table, Exception):
            raise self.table
        return self.table


def keeper(currencies: FakeCurrencies, source: FakeSource | None) -> RateKeeper:
    return RateKeeper(
        cast(CrmCurrencies, currencies),
        cast(ReferenceRates, source),
        clock=lambda: datetime(2025, 3, 9, 12, tzinfo=UTC),
    )


def test_dataverse_rates_follow_the_latest_day_and_only_when_they_changed() -> None:
    """The first run updates EUR and GBP to Friday's cross rates; the next run writes nothing."""
    currencies = FakeCurrencies()
    rates = keeper(currencies, FakeSource(parse_reference_rates(ECB_SAMPLE)))
    assert rates.prepare() == 2
    assert dict(currencies.updates)["eur-id"] == (Decimal(1) / Decimal("1.0830")).quantize(Decimal("1e-10"))
    assert rates.prepare() == 0
    assert len(currencies.updates) == 2


def test_a_row_gets_the_rate_of_its_posting_date_not_of_today() -> None:
    """A GBP amount posted on Thursday uses Thursday's rate, though Friday's is newer."""
    rates = keeper(FakeCurrencies(), FakeSource(parse_reference_rates(ECB_SAMPLE)))
    rates.prepare()
    thursday = rates.rate("GBP", datetime(2025, 3, 6, 18, tzinfo=UTC))
    assert thursday is not None
    assert (thursday.rate_date, thursday.source) == (date(2025, 3, 6), "ecb")
    same = rates.rate("USD", datetime(2025, 3, 6, tzinfo=UTC))
    assert same is not None
    assert same.rate == 1


def test_without_the_source_the_rows_use_dataverse_rates_and_say_so() -> None:
    """An outage of the rate source stops nothing: Dataverse's current rate is used, marked as such."""
    rates = keeper(FakeCurrencies(), FakeSource(RatesUnavailable("down")))
    assert rates.prepare() == 0
    found = rates.rate("EUR", datetime(2025, 3, 6, tzinfo=UTC))
    assert found is not None
    assert (found.rate, found.source) == (Decimal("0.92"), DATAVERSE_SOURCE)
