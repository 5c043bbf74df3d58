"""Finances API 2024-06-19 `Transaction` JSON -> canonical FinanceTransaction (finances_2024-06-19.json).

What the model leaves open, and how it is read here:
- `relatedIdentifiers` carry the order, settlement, financial event group, shipment and refund ids; a
  transaction may have none of them (a subscription fee);
- `breakdowns` is a tree (category -> group -> type, each level with its subtotal); the leaves are what was
  charged, so they are what the categories add up. If the leaves do not add up to `totalAmount` (an empty
  tree, a partial one), the difference is kept as OTHER: the categories always add up to the total;
- a deferred transaction names its reason and maturity date in a `DeferredContext`;
- amounts are JSON numbers (BigDecimal): read through their text, so 24.99 stays 24.99.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.amazon.amount_categories import category_of
from shared.amazon.errors import validation_summary
from shared.errors import PermanentError
from shared.model.finance import BreakdownLeaf, FinanceTransaction, TransactionStatus
from shared.model.money import AmountCategory, CategoryAmounts
from shared.timeutil import UtcDateTime

MAX_BREAKDOWN_DEPTH = 8  # Amazon's trees are three levels deep; anything deeper is not Amazon's


class AmazonTransactionInvalid(PermanentError):
    """A transaction Amazon sent in a shape we cannot read; the message names the field, never a value."""

    reason = "AmazonTransactionInvalid"

    def __init__(self, message: str, *, transaction_id: str | None = None) -> None:
        super().__init__(message)
        self.transaction_id = transaction_id


class _TooDeep(Exception):
    pass


class _Amazon(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)


def _decimal(value: Any) -> Any:
    # json gives floats; their shortest text is what Amazon wrote ("24.99"), Decimal(float) would not be.
    return Decimal(str(value)) if isinstance(value, float) else value


class _Currency(_Amazon):
    currency_code: str = Field(alias="currencyCode", min_length=3, max_length=3)
    currency_amount: Decimal = Field(alias="currencyAmount")

    _amount = field_validator("currency_amount", mode="before")(_decimal)


class _Breakdown(_Amazon):
    breakdown_type: str = Field(alias="breakdownType", max_length=200)
    breakdown_amount: _Currency | None = Field(None, alias="breakdownAmount")
    breakdowns: list[dict[str, Any]] = Field(default_factory=list)


class _RelatedIdentifier(_Amazon):
    name: str = Field(alias="relatedIdentifierName", max_length=64)
    value: str = Field(alias="relatedIdentifierValue", max_length=200)


class _Context(_Amazon):
    context_type: str = Field(alias="contextType")
    deferral_reason: str | None = Field(None, alias="deferralReason", max_length=100)
    maturity_date: UtcDateTime | None = Field(None, alias="maturityDate")


class _MarketplaceDetails(_Amazon):
    marketplace_id: str | None = Field(None, alias="marketplaceId", max_length=20)


class _Transaction(_Amazon):
    transaction_id: str = Field(alias="transactionId", min_length=1, max_length=200)
    transaction_type: str = Field(alias="transactionType", min_length=1, max_length=100)
    transaction_status: TransactionStatus = Field(alias="transactionStatus")
    description: str | None = Field(None, max_length=500)
    posted_date: UtcDateTime = Field(alias="postedDate")
    total_amount: _Currency = Field(alias="totalAmount")
    related_identifiers: list[_RelatedIdentifier] = Field(default_factory=list, alias="relatedIdentifiers")
    marketplace_details: _MarketplaceDetails | None = Field(None, alias="marketplaceDetails")
    contexts: list[_Context] = Field(default_factory=list)
    breakdowns: list[dict[str, Any]] = Field(default_factory=list)


def to_canonical(raw: Mapping[str, Any]) -> FinanceTransaction:
    transaction_id = raw.get("transactionId") if isinstance(raw.get("transactionId"), str) else None
    try:
        amazon = _Transaction.model_validate(raw)
        leaves = list(_leaves(amazon.breakdowns, ()))
    except ValidationError as exc:
        raise AmazonTransactionInvalid(
            f"Amazon transaction does not match the Finances API model: {validation_summary(exc)}",
            transaction_id=transaction_id,
        ) from None
    except _TooDeep as exc:
        raise AmazonTransactionInvalid(f"Amazon transaction: {exc}", transaction_id=transaction_id) from None
    currency = amazon.total_amount.currency_code
    if any(leaf_currency != currency for _, _, leaf_currency in leaves):
        raise AmazonTransactionInvalid(
            "Amazon transaction mixes currencies in its breakdowns", transaction_id=transaction_id
        )
    total = amazon.total_amount.currency_amount
    pairs = [(category_of(path), amount) for path, amount, _ in leaves]
    remainder = total - sum((amount for _, amount in pairs), Decimal("0"))
    if remainder:
        pairs.append((AmountCategory.OTHER, remainder))
    identifiers = {identifier.name: identifier.value for identifier in amazon.related_identifiers}
    deferred = next((c for c in amazon.contexts if c.context_type == "DeferredContext"), None)
    marketplace = amazon.marketplace_details.marketplace_id if amazon.marketplace_details else None
    return FinanceTransaction(
        transaction_id=amazon.transaction_id,
        transaction_type=amazon.transaction_type,
        status=amazon.transaction_status,
        description=amazon.description,
        posted=amazon.posted_date,
        marketplace_id=marketplace or _seller_marketplace(raw),
        currency=currency,
        total=total,
        amounts=CategoryAmounts.of(pairs),
        leaves=tuple(BreakdownLeaf("/".join(path), amount) for path, amount, _ in leaves),
        order_id=identifiers.get("ORDER_ID"),
        settlement_id=identifiers.get("SETTLEMENT_ID"),
        event_group_id=identifiers.get("FINANCIAL_EVENT_GROUP_ID"),
        shipment_id=identifiers.get("SHIPMENT_ID"),
        refund_id=identifiers.get("REFUND_ID"),
        deferral_reason=deferred.deferral_reason if deferred else None,
        maturity=deferred.maturity_date if deferred else None,
    )


def _leaves(
    breakdowns: Sequence[Mapping[str, Any]], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Decimal, str]]:
    """(path, amount, currency) of every leaf: a breakdown without children of its own."""
    if len(path) >= MAX_BREAKDOWN_DEPTH:
        raise _TooDeep(f"breakdowns nested deeper than {MAX_BREAKDOWN_DEPTH} levels")
    for raw in breakdowns:
        breakdown = _Breakdown.model_validate(raw)
        here = (*path, breakdown.breakdown_type)
        if breakdown.breakdowns:
            yield from _leaves(breakdown.breakdowns, here)
        elif breakdown.breakdown_amount is not None:
            amount = breakdown.breakdown_amount
            yield here, amount.currency_amount, amount.currency_code


def _seller_marketplace(raw: Mapping[str, Any]) -> str | None:
    metadata = raw.get("sellingPartnerMetadata")
    value = metadata.get("marketplaceId") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None
