"""Amazon's money side in canonical form: what a transaction or a settlement row is made of, by category.

Amazon names its amounts in two vocabularies: the Finances API's breakdown tree (`Sales/ProductCharges/
OurPricePrincipal`, `Expenses/AmazonFees/Commission`, ...) and the settlement report's amount-type and
amount-description (`ItemPrice/Principal`, `ItemFees/Commission`, ...). The Amazon connector translates both
into the same few categories, so a settlement can be compared with the transactions it pays out and with the
orders it settles. The categories always add up to the total: whatever Amazon adds tomorrow lands in OTHER.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

ZERO = Decimal("0")
CENT = Decimal("0.01")


class AmountCategory(StrEnum):
    PRINCIPAL = "principal"  # the item price the buyer paid
    TAX = "tax"  # tax the buyer paid (item, shipping, gift wrap)
    SHIPPING = "shipping"  # shipping the buyer paid
    PROMOTIONS = "promotions"  # discounts (negative)
    FEES = "fees"  # what Amazon charges the seller: referral, FBA, subscription, ... (negative)
    WITHHELD_TAX = "withheld_tax"  # tax Amazon collected and remits itself (marketplace facilitator)
    OTHER = "other"  # anything not named above, so the categories always add up to the total


# What the buyer paid for an order: the part a CRM order total can be compared with.
SALES_CATEGORIES = (
    AmountCategory.PRINCIPAL,
    AmountCategory.TAX,
    AmountCategory.SHIPPING,
    AmountCategory.PROMOTIONS,
)


@dataclass(frozen=True)
class CategoryAmounts:
    """Amounts by category, in one currency."""

    by_category: Mapping[AmountCategory, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, pairs: Iterable[tuple[AmountCategory, Decimal]]) -> CategoryAmounts:
        totals: dict[AmountCategory, Decimal] = {}
        for category, amount in pairs:
            totals[category] = totals.get(category, ZERO) + amount
        return cls(MappingProxyType(totals))

    def __getitem__(self, category: AmountCategory) -> Decimal:
        return self.by_category.get(category, ZERO)

    def __add__(self, other: CategoryAmounts) -> CategoryAmounts:
        return CategoryAmounts.of([*self.by_category.items(), *other.by_category.items()])

    @property
    def total(self) -> Decimal:
        return sum(self.by_category.values(), ZERO)

    @property
    def sales(self) -> Decimal:
        """Principal, tax, shipping and promotions: what the buyer paid (or got back)."""
        return sum((self[category] for category in SALES_CATEGORIES), ZERO)

    def differences(self, other: CategoryAmounts, *, tolerance: Decimal = CENT / 2) -> list[AmountCategory]:
        """The categories whose amounts differ from `other`'s by at least half a cent, in category order."""
        return [category for category in AmountCategory if abs(self[category] - other[category]) >= tolerance]
