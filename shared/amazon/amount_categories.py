"""Amazon's names for amounts -> the product's categories (principal, tax, shipping, promotions, fees, ...).

Both of Amazon's vocabularies go through one rule, so a settlement row and the transaction it pays out land in
the same category: a Finances API breakdown path (`Expenses/AmazonFees/Commission`) and a settlement report's
amount-type / amount-description (`ItemFees/Commission`) are both read as a path of words.

Why keywords and not a table: Amazon's breakdown names are not an enumeration (its own model shows `Product
Charges`, `Principle`, `FBA fees`), and new fee types appear without notice. The order of the checks matters:
a withheld tax is not the buyer's tax, a fee on shipping is a fee, a promotion on the principal is a promotion.
Anything no rule knows is OTHER, so the categories still add up to the total.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.model.money import AmountCategory

_RULES: tuple[tuple[AmountCategory, tuple[str, ...]], ...] = (
    (AmountCategory.WITHHELD_TAX, ("withheld", "marketplacefacilitator")),
    (AmountCategory.FEES, ("fee", "expense", "commission")),
    (AmountCategory.PROMOTIONS, ("promotion", "discount", "coupon")),
    (AmountCategory.TAX, ("tax",)),
    (AmountCategory.SHIPPING, ("shipping",)),
    (AmountCategory.PRINCIPAL, ("principal", "principle", "productcharges")),
)


def category_of(path: Sequence[str]) -> AmountCategory:
    """The category of an amount named by `path` (breakdown types from the root, or amount-type and
    amount-description)."""
    words = "/".join(path).lower().replace(" ", "").replace("-", "").replace("_", "")
    for category, keywords in _RULES:
        if any(keyword in words for keyword in keywords):
            return category
    return AmountCategory.OTHER
