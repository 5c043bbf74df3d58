"""A local stand-in for the European Central Bank's reference-rate files (no internet here).

Serves a fixed, deterministic table in the ECB's own XML format at the ECB's paths:
`/stats/eurofxref/eurofxref-daily.xml` (the latest day), `eurofxref-hist-90d.xml` (the last 90 days) and
`eurofxref-hist.xml` (every day from `first_day`). Like the ECB it publishes on weekdays only, rates per one
euro, four significant decimals (yen two). Each currency wobbles a little from day to day, so a transaction's
posting-date rate visibly differs from today's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Final

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse, HttpEmulator

BASE_PATH: Final = "/stats/eurofxref/"
DAILY, LAST_90_DAYS, HISTORY = "eurofxref-daily.xml", "eurofxref-hist-90d.xml", "eurofxref-hist.xml"
# Units per euro around which the table moves (roughly early 2025).
CENTRAL_RATES: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("1.0850"),
    "GBP": Decimal("0.8350"),
    "CAD": Decimal("1.5300"),
    "JPY": Decimal("162.00"),
    "SEK": Decimal("11.2000"),
    "PLN": Decimal("4.2500"),
    "AUD": Decimal("1.6900"),
    "MXN": Decimal("21.9000"),
    "TRY": Decimal("37.5000"),
    "INR": Decimal("91.5000"),
    "SGD": Decimal("1.4500"),
    "BRL": Decimal("6.3000"),
}


def rate_on(currency: str, day: date) -> Decimal:
    """The table's rate of `currency` on `day`: within about 1 % of its central rate."""
    central = CENTRAL_RATES[currency]
    wobble = Decimal(str(round(math.sin(day.toordinal() / 5 + len(currency) * ord(currency[0])) / 100, 6)))
    places = Decimal("0.01") if currency == "JPY" else Decimal("0.0001")
    return (central * (1 + wobble)).quantize(places)


def reference_document(days: list[date]) -> bytes:
    cubes = "".join(
        f"<Cube time='{day.isoformat()}'>"
        + "".join(f"<Cube currency='{code}' rate='{rate_on(code, day)}'/>" for code in CENTRAL_RATES)
        + "</Cube>"
        for day in sorted(days, reverse=True)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<gesmes:Envelope xmlns:gesmes='http://www.gesmes.org/xml/2002-08-01' "
        "xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'>"
        "<gesmes:subject>Reference rates</gesmes:subject>"
        "<gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>"
        f"<Cube>{cubes}</Cube></gesmes:Envelope>"
    ).encode()


class EcbRatesStandIn(HttpEmulator):
    server_name: ClassVar[str] = "ecb-rates"

    def __init__(self, *, first_day: date = date(2025, 1, 1), today: date | None = None) -> None:
        super().__init__()
        self.first_day = first_day
        self.today = today

    def url(self, file: str = HISTORY) -> str:
        return f"{self.base_url}{BASE_PATH}{file}"

    def business_days(self, since: date) -> list[date]:
        last = self.today or datetime.now(UTC).date()
        count = (last - since).days + 1
        return [day for day in (since + timedelta(days=n) for n in range(count)) if day.weekday() < 5]

    def operation_of(self, request: EmulatorRequest) -> str:
        return request.path.removeprefix(BASE_PATH)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        last = self.today or datetime.now(UTC).date()
        since = {
            DAILY: last - timedelta(days=6),
            LAST_90_DAYS: last - timedelta(days=90),
            HISTORY: self.first_day,
        }.get(self.operation_of(request))
        if request.method != "GET" or since is None:
            return EmulatorResponse(404, b"Not Found", {"Content-Type": "text/plain"})
        days = self.business_days(since)
        if self.operation_of(request) == DAILY:
            days = days[-1:]
        return EmulatorResponse(200, reference_document(days), {"Content-Type": "text/xml"})

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        return EmulatorResponse(429, b"Too Many Requests", {"Content-Type": "text/plain"})

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        return EmulatorResponse(status, b"Service Unavailable", {"Content-Type": "text/plain"})
