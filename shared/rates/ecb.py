"""The European Central Bank's euro foreign exchange reference rates, in the ECB's own XML format.

    <gesmes:Envelope ...><Cube><Cube time="2025-03-03"><Cube currency="USD" rate="1.0465"/>...</Cube>...

One `<Cube time=...>` per business day (the daily file has one, `eurofxref-hist-90d.xml` the last 90 days,
`eurofxref-hist.xml` every day since 1999); each rate is the units of a currency per one euro. Any URL serving
this format works (EXCHANGE_RATES_URL): a company's own rate service, or the sandbox's stand-in.

The document is parsed with the standard library, which resolves no external entities; a DOCTYPE (the way
entity bombs come in) is refused before parsing, and so is anything larger than the full history file.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ElementTree
from datetime import date
from decimal import Decimal, InvalidOperation

import requests

from shared.errors import PermanentError, TransientError
from shared.model.exchange_rates import RateTable
from shared.resilience import RetryPolicy, Sleep, call_with_retries, is_transient

ECB_LAST_90_DAYS = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml"
ANCHOR = "EUR"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # the full history since 1999 is about 6 MB
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class RatesUnavailable(TransientError):
    reason = "ExchangeRatesUnavailable"


class RatesInvalid(PermanentError):
    reason = "ExchangeRatesInvalid"


def parse_reference_rates(document: bytes, *, source: str = "ecb") -> RateTable:
    """Every day's rates of an ECB reference-rate document."""
    if len(document) > MAX_DOCUMENT_BYTES:
        raise RatesInvalid(f"exchange rate document larger than {MAX_DOCUMENT_BYTES} bytes")
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise RatesInvalid("exchange rate document declares a DTD; refused")
    try:
        root = ElementTree.fromstring(document)  # noqa: S314 - no DTD (checked above), no external entities
    except ElementTree.ParseError:
        raise RatesInvalid("exchange rate document is not well-formed XML") from None
    quotes: dict[date, dict[str, Decimal]] = {}
    for cube in root.iter():
        if _local(cube.tag) != "Cube" or "time" not in cube.attrib:
            continue
        try:
            day = date.fromisoformat(cube.attrib["time"])
        except ValueError:
            raise RatesInvalid("exchange rate document has a day that is not a date") from None
        quotes[day] = {
            rate.attrib["currency"]: _rate(rate.attrib.get("rate", ""))
            for rate in cube
            if _local(rate.tag) == "Cube" and _CURRENCY.match(rate.attrib.get("currency", ""))
        }
    if not quotes:
        raise RatesInvalid("exchange rate document holds no day of rates")
    return RateTable(ANCHOR, quotes, source)


class ReferenceRates:
    """Reads a reference-rate document over HTTP (GET, retried while the failure is passing)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._session = session or requests.Session()
        self.requests_sent = 0

    def fetch(self) -> RateTable:
        return parse_reference_rates(
            call_with_retries(self._get, policy=self._retry, retryable=is_transient, sleep=self._sleep)
        )

    def close(self) -> None:
        self._session.close()

    def _get(self) -> bytes:
        self.requests_sent += 1
        try:
            response = self._session.get(self.url, timeout=self._timeout, stream=True)
        except requests.RequestException as exc:
            raise RatesUnavailable(f"exchange rates unreachable: {type(exc).__name__}") from None
        with response:
            if response.status_code == 429 or response.status_code >= 500:
                raise RatesUnavailable(
                    f"exchange rates answered {response.status_code}", status=response.status_code
                )
            if response.status_code >= 400:
                raise RatesInvalid(
                    f"exchange rates answered {response.status_code}", status=response.status_code
                )
            body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
        return bytes(body)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _rate(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RatesInvalid("exchange rate document has a rate that is not a number") from None
    if not value.is_finite() or value <= 0:
        raise RatesInvalid("exchange rate document has a rate that is not a positive number")
    return value
