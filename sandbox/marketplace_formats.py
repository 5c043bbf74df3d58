"""How Amazon's flat-file reports write amounts and dates, per marketplace.

Why this matters: a settlement report of amazon.de says ``1.234,56`` where amazon.com says ``1,234.56`` and
amazon.co.jp ``1,235`` (yen have no decimals); dates are ``2025-06-02 12:00:00 UTC`` in the US,
``02.06.2025 12:00:00 UTC`` in Europe and ``2025/06/02 12:00:00 UTC`` in Japan. A parser that assumes one
style books 1.234,56 EUR as 1.23. Public samples of V2 settlement files also show amounts without a
thousands separator (``1234,56``), so grouping can be switched off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

DateStyle = Literal["iso", "dotted", "slashed"]


@dataclass(frozen=True)
class ReportLocale:
    marketplace_id: str
    marketplace_name: str
    currency: str
    decimal_separator: str
    group_separator: str
    currency_decimals: int
    date_style: DateStyle

    def rounded(self, value: Decimal) -> Decimal:
        """``value`` to the currency's decimals, as the report writes it (yen have none)."""
        return value.quantize(Decimal(1).scaleb(-self.currency_decimals), rounding=ROUND_HALF_UP)

    def amount(self, value: Decimal, *, grouping: bool = True) -> str:
        """``value`` in the marketplace's number format ("-1.234,56", "1,234.56", "1,235")."""
        rounded = self.rounded(value)
        sign = "-" if rounded < 0 else ""
        whole, _, fraction = f"{abs(rounded):f}".partition(".")
        if grouping and len(whole) > 3:
            groups: list[str] = []
            while whole:
                groups.insert(0, whole[-3:])
                whole = whole[:-3]
            whole = self.group_separator.join(groups)
        return sign + whole + (self.decimal_separator + fraction if fraction else "")

    def parse_amount(self, text: str) -> Decimal:
        """The inverse of ``amount`` (with or without grouping)."""
        cleaned = text.strip().replace(self.group_separator, "").replace(self.decimal_separator, ".")
        return Decimal(cleaned)

    def date(self, moment: datetime) -> str:
        moment = moment.astimezone(UTC)
        if self.date_style == "dotted":
            return moment.strftime("%d.%m.%Y")
        if self.date_style == "slashed":
            return moment.strftime("%Y/%m/%d")
        return moment.strftime("%Y-%m-%d")

    def date_time(self, moment: datetime) -> str:
        return f"{self.date(moment)} {moment.astimezone(UTC):%H:%M:%S} UTC"


def _locale(
    marketplace_id: str,
    name: str,
    currency: str,
    decimal: str,
    group: str,
    date_style: DateStyle,
    decimals: int = 2,
) -> ReportLocale:
    return ReportLocale(marketplace_id, name, currency, decimal, group, decimals, date_style)


REPORT_LOCALES: Final[Mapping[str, ReportLocale]] = {
    locale.marketplace_id: locale
    for locale in (
        _locale("ATVPDKIKX0DER", "Amazon.com", "USD", ".", ",", "iso"),
        _locale("A2EUQ1WTGCTBG2", "Amazon.ca", "CAD", ".", ",", "iso"),
        _locale("A1F83G8C2ARO7P", "Amazon.co.uk", "GBP", ".", ",", "dotted"),
        _locale("A1PA6795UKMFR9", "Amazon.de", "EUR", ",", ".", "dotted"),
        _locale("A13V1IB3VIYZZH", "Amazon.fr", "EUR", ",", ".", "dotted"),
        _locale("APJ6JRA9NG5V4", "Amazon.it", "EUR", ",", ".", "dotted"),
        _locale("A1RKKUPIHCS9HS", "Amazon.es", "EUR", ",", ".", "dotted"),
        _locale("A1VC38T7YXB528", "Amazon.co.jp", "JPY", ".", ",", "slashed", decimals=0),
    )
}


def report_locale(marketplace_id: str) -> ReportLocale:
    try:
        return REPORT_LOCALES[marketplace_id]
    except KeyError:
        raise ValueError(f"no report format known for marketplace {marketplace_id}") from None
