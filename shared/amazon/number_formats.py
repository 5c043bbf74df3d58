"""How Amazon's flat-file reports write amounts and dates, per marketplace.

Why this matters: a settlement report of amazon.de says `1.234,56` where amazon.com says `1,234.56` and
amazon.co.jp `1,235`; read with the wrong convention, 1.234,56 EUR becomes 1.23, silently. So an amount must
have the exact shape of its marketplace's convention (digits grouped by three, one decimal separator) or it is
refused: `12.34` in a German report is an error, not twelve euros. Spaces (also no-break spaces, as French
formatting groups thousands) are ignored.

Dates come as the report writes them: `2025-06-02 12:00:00 UTC` (US), `02.06.2025 12:00:00 UTC` (Europe),
`2025/06/02 12:00:00 UTC` (Japan), ISO 8601 (`2025-06-02T12:00:00+00:00`), or a date alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property

# Marketplace names (the report's marketplace-name column) writing decimals with a comma.
_COMMA_MARKETPLACES = frozenset(
    {
        "amazon.de",
        "amazon.fr",
        "amazon.it",
        "amazon.es",
        "amazon.nl",
        "amazon.se",
        "amazon.pl",
        "amazon.com.be",
        "amazon.com.tr",
        "amazon.com.br",
    }
)
_DOT_MARKETPLACES = frozenset(
    {
        "amazon.com",
        "amazon.ca",
        "amazon.com.mx",
        "amazon.co.uk",
        "amazon.ie",
        "amazon.co.jp",
        "amazon.in",
        "amazon.com.au",
        "amazon.sg",
        "amazon.ae",
        "amazon.sa",
        "amazon.eg",
    }
)
# When a report names no marketplace: the convention of the currency's home marketplaces.
_COMMA_CURRENCIES = frozenset({"EUR", "SEK", "PLN", "TRY", "BRL"})
_SPACES = re.compile(r"[\s\u00a0\u202f']")


@dataclass(frozen=True)
class NumberFormat:
    decimal_separator: str
    group_separator: str

    @cached_property
    def _shape(self) -> re.Pattern[str]:
        decimal, group = re.escape(self.decimal_separator), re.escape(self.group_separator)
        return re.compile(rf"^[+-]?(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)(?:{decimal}\d+)?$")

    def parse(self, text: str) -> Decimal:
        """The amount `text` writes, or ValueError when it is not in this convention."""
        compact = _SPACES.sub("", text)
        if not self._shape.match(compact):
            raise ValueError(f"not an amount in the {self.example} format")
        return Decimal(compact.replace(self.group_separator, "").replace(self.decimal_separator, "."))

    @property
    def example(self) -> str:
        return f"1{self.group_separator}234{self.decimal_separator}56"


DOT_DECIMAL = NumberFormat(".", ",")  # US, UK, JP, ...
COMMA_DECIMAL = NumberFormat(",", ".")  # DE, FR, IT, ES, ...


def number_format_for(marketplace_name: str | None, currency: str | None) -> NumberFormat:
    name = (marketplace_name or "").strip().lower()
    if name in _COMMA_MARKETPLACES:
        return COMMA_DECIMAL
    if name in _DOT_MARKETPLACES:
        return DOT_DECIMAL
    return COMMA_DECIMAL if (currency or "").upper() in _COMMA_CURRENCIES else DOT_DECIMAL


_DATE_FORMS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})"), (1, 2, 3)),
    (re.compile(r"^(\d{4})/(\d{2})/(\d{2})"), (1, 2, 3)),
    (re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})"), (3, 2, 1)),
)
_TIME = re.compile(r"^[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(UTC|GMT|Z|[+-]\d{2}:?\d{2})?$")


def parse_report_datetime(text: str) -> datetime:
    """A report date or date-time, in UTC; ValueError when it has none of the report's shapes."""
    value = text.strip()
    for pattern, (year, month, day) in _DATE_FORMS:
        found = pattern.match(value)
        if found is None:
            continue
        date_part = datetime(int(found[year]), int(found[month]), int(found[day]), tzinfo=UTC)
        rest = value[found.end() :]
        if not rest:
            return date_part
        clock = _TIME.match(rest)
        if clock is None:
            raise ValueError("not a date-time the report writes")
        moment = date_part.replace(hour=int(clock[1]), minute=int(clock[2]), second=int(clock[3] or 0))
        return moment - _offset(clock[4])
    raise ValueError("not a date the report writes")


def _offset(zone: str | None) -> timedelta:
    if zone is None or zone in ("UTC", "GMT", "Z"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
