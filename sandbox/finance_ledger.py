"""Amazon's money side of the emulator's orders: finance transactions and the settlements that pay them out.

One ledger feeds both the Finances API 2024-06-19 (``listTransactions``) and the V2 settlement flat file, so
the two agree with each other and with the orders, except where a test asks them not to:

- one ``Shipment`` transaction per shipped order, posted when it shipped: principal, tax, shipping, promotion
  per item, Amazon's referral fee (15 %), the FBA fee per unit for AFN orders and, in the US, the marketplace
  facilitator tax Amazon withholds;
- ``Refund`` transactions for a few shipped orders (returns: Amazon posts nothing for an order cancelled
  before it shipped) that give back principal and tax and keep a refund administration fee;
- a monthly ``Subscription Fee`` (``ServiceFee``) in each settlement;
- ``DEFERRED`` transactions (invoiced business orders, "B2B"; a delivery-date policy, "DD7") that belong to
  no settlement until ``release`` makes them ``DEFERRED_RELEASED`` (the model's name for a released deferral);
- ``RELEASED`` transactions grouped into 14-day settlements per marketplace (SETTLEMENT_ID and
  FINANCIAL_EVENT_GROUP_ID in their related identifiers);
- on request, deliberate mistakes, reported in ``discrepancies`` so a reconciliation test can check it finds
  exactly those: a fee that differs between the settlement report and the transactions, an order settled
  twice, and an order the CRM never heard of.

Everything is deterministic for a seed. Amounts are ``Decimal`` in the marketplace currency.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

from sandbox.amazon_samples import CATALOG, MARKETPLACES, parse_time

TransactionStatus = Literal["DEFERRED", "RELEASED", "DEFERRED_RELEASED"]
TransactionType = Literal["Shipment", "Refund", "ServiceFee"]

REFERRAL_FEE_RATE: Final = Decimal("0.15")
REFUND_ADMIN_SHARE: Final = Decimal("0.20")  # Amazon keeps 20 % of the referral fee on a refund...
REFUND_ADMIN_CAP: Final = Decimal("5.00")  # ... at most 5.00 per unit of currency
FBA_FEE_PER_UNIT: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("3.22"),
    "GBP": Decimal("2.70"),
    "EUR": Decimal("2.94"),
}
SUBSCRIPTION_FEE: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("39.99"),
    "GBP": Decimal("25.00"),
    "EUR": Decimal("39.00"),
}
SETTLEMENT_PERIOD: Final = timedelta(days=14)
DEPOSIT_DELAY: Final = timedelta(days=2)
DEFERRAL_DAYS: Final = 7  # "DD7": paid out 7 days after delivery
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Charge:
    """One amount: a settlement row and a leaf of the transaction's breakdowns."""

    amount_type: (
        str  # settlement amount-type: ItemPrice, Promotion, ItemFees, ItemWithheldTax, other-transaction
    )
    description: str  # settlement amount-description: Principal, Tax, Shipping, ShippingTax, Commission, ...
    amount: Decimal
    order_item_id: str | None = None
    sku: str | None = None
    quantity: int | None = None
    promotion_id: str | None = None


@dataclass(frozen=True)
class ItemInfo:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int


@dataclass(frozen=True)
class LedgerTransaction:
    transaction_id: str
    transaction_type: TransactionType
    description: str  # "Order Payment", "Refund Order", "Subscription Fee"
    status: TransactionStatus
    posted: datetime
    visible_from: datetime  # when listTransactions starts showing it (Amazon: up to 48 h late)
    marketplace_id: str
    currency: str
    charges: tuple[Charge, ...]
    order_id: str | None = None
    merchant_order_id: str | None = None
    shipment_id: str | None = None
    adjustment_id: str | None = None
    fulfillment_network: str | None = None  # AFN / MFN
    items: tuple[ItemInfo, ...] = ()
    settlement_id: str | None = None
    event_group_id: str | None = None
    deferral_reason: str | None = None
    maturity: datetime | None = None
    released_at: datetime | None = None

    @property
    def total(self) -> Decimal:
        return sum((charge.amount for charge in self.charges), Decimal("0"))


@dataclass(frozen=True)
class Settlement:
    """One payout: a marketplace's released transactions of a 14-day period, as the report shows them."""

    settlement_id: str
    event_group_id: str
    marketplace_id: str
    currency: str
    start: datetime
    end: datetime
    deposit_date: datetime
    transactions: tuple[LedgerTransaction, ...]  # with the report's amounts (fee differences applied)

    @property
    def total(self) -> Decimal:
        return sum((t.total for t in self.transactions), Decimal("0"))


@dataclass(frozen=True)
class FeeDifference:
    order_id: str
    description: str
    transaction_amount: Decimal
    settlement_amount: Decimal


@dataclass(frozen=True)
class Discrepancies:
    """What the ledger made wrong on purpose (empty when built without mistakes)."""

    fee_differs: Mapping[str, FeeDifference] = field(default_factory=dict)  # by order id
    settled_twice: frozenset[str] = frozenset()  # order ids with two Shipment transactions
    unknown_orders: frozenset[str] = frozenset()  # order ids that are not among the orders given

    @property
    def order_ids(self) -> frozenset[str]:
        return frozenset(self.fee_differs) | self.settled_twice | self.unknown_orders


@dataclass(frozen=True)
class _Period:
    settlement_id: str
    event_group_id: str


class FinanceLedger:
    """Transactions plus settlement bookkeeping; mutate through ``release`` / ``add_*`` only."""

    def __init__(self, *, seed: int, period_start: datetime, seller_id: str) -> None:
        self.seller_id = seller_id
        self.period_start = period_start
        self._rng = random.Random(f"ledger:{seed}")
        self._transactions: dict[str, LedgerTransaction] = {}
        self._periods: dict[tuple[str, int], _Period] = {}
        self._settlement_fee_deltas: dict[
            str, Decimal
        ] = {}  # transaction id -> commission delta in the report
        self.discrepancies = Discrepancies()

    # --- reading ------------------------------------------------------------------------------------
    @property
    def transactions(self) -> list[LedgerTransaction]:
        return sorted(self._transactions.values(), key=lambda t: (t.posted, t.transaction_id))

    def transaction(self, transaction_id: str) -> LedgerTransaction:
        return self._transactions[transaction_id]

    def for_order(self, order_id: str) -> list[LedgerTransaction]:
        return [t for t in self.transactions if t.order_id == order_id]

    def settlements(self) -> list[Settlement]:
        """Every settlement that has at least one transaction, oldest first."""
        keys = sorted(
            {key for key in (self._period_key(t) for t in self._transactions.values()) if key is not None},
            key=lambda k: (k[1], k[0]),
        )
        return [self.settlement(marketplace_id, index) for marketplace_id, index in keys]

    def settlement(self, marketplace_id: str, index: int) -> Settlement:
        period = self._period(marketplace_id, index)
        start = self.period_start + index * SETTLEMENT_PERIOD
        members = [t for t in self.transactions if self._period_key(t) == (marketplace_id, index)]
        shown = tuple(self._as_reported(t) for t in members)
        return Settlement(
            settlement_id=period.settlement_id,
            event_group_id=period.event_group_id,
            marketplace_id=marketplace_id,
            currency=MARKETPLACES[marketplace_id].currency,
            start=start,
            end=start + SETTLEMENT_PERIOD,
            deposit_date=start + SETTLEMENT_PERIOD + DEPOSIT_DELAY,
            transactions=shown,
        )

    # --- changing ----------------------------------------------------------------------------------
    def release(self, transaction_id: str, at: datetime) -> LedgerTransaction:
        """DEFERRED -> DEFERRED_RELEASED: it joins the settlement of the period it is released in."""
        current = self._transactions[transaction_id]
        if current.status != "DEFERRED":
            raise ValueError(f"transaction {transaction_id} is {current.status}, not DEFERRED")
        released = dataclasses.replace(current, status="DEFERRED_RELEASED", released_at=at)
        return self._store(released)

    def add_shipment(
        self,
        order: Mapping[str, Any],
        *,
        posted: datetime | None = None,
        visible_from: datetime | None = None,
        order_id: str | None = None,
    ) -> LedgerTransaction:
        """The Shipment transaction of a shipped v2026 order (full order: PROCEEDS and FULFILLMENT present)."""
        items = _items(order)
        marketplace_id = str(order["salesChannel"]["marketplaceId"])
        currency = MARKETPLACES[marketplace_id].currency
        fulfilled_by = str(order["fulfillment"]["fulfilledBy"])
        charges: list[Charge] = []
        for item in items:
            charges += _item_charges(item, marketplace_id, currency, fulfilled_by)
        when = posted or _ship_time(order)
        status: TransactionStatus = "RELEASED"
        reason = None
        if "AMAZON_BUSINESS" in order.get("programs", []):
            status, reason = "DEFERRED", "B2B"  # invoiced business orders are paid out later
        aliases = [
            a["aliasId"] for a in order.get("orderAliases", []) if a.get("aliasType") == "SELLER_ORDER_ID"
        ]
        transaction = LedgerTransaction(
            transaction_id=self._transaction_id(),
            transaction_type="Shipment",
            description="Order Payment",
            status=status,
            posted=when,
            visible_from=visible_from or when,
            marketplace_id=marketplace_id,
            currency=currency,
            charges=tuple(charges),
            order_id=order_id or str(order["orderId"]),
            merchant_order_id=aliases[0] if aliases else None,
            shipment_id=self._shipment_id(),
            fulfillment_network="AFN" if fulfilled_by == "AMAZON" else "MFN",
            items=tuple(
                ItemInfo(i["orderItemId"], i["sku"], i["asin"], i["title"], i["quantity"]) for i in items
            ),
            deferral_reason=reason,
            maturity=when + timedelta(days=DEFERRAL_DAYS) if reason else None,
        )
        return self._store(transaction)

    def add_refund(self, shipment: LedgerTransaction, *, posted: datetime) -> LedgerTransaction:
        """Give back what the buyer paid; Amazon refunds its referral fee minus the administration fee."""
        charges: list[Charge] = []
        for charge in shipment.charges:
            if charge.amount_type in ("ItemPrice", "Promotion", "ItemWithheldTax"):
                charges.append(dataclasses.replace(charge, amount=-charge.amount))
            elif charge.description == "Commission":
                admin = min(_money(-charge.amount * REFUND_ADMIN_SHARE), REFUND_ADMIN_CAP)
                charges.append(dataclasses.replace(charge, amount=-charge.amount))
                charges.append(dataclasses.replace(charge, description="RefundCommission", amount=-admin))
        refund = dataclasses.replace(
            shipment,
            transaction_id=self._transaction_id(),
            transaction_type="Refund",
            description="Refund Order",
            status="RELEASED",
            posted=posted,
            visible_from=posted,
            charges=tuple(charges),
            shipment_id=None,
            adjustment_id=self._digits(14),
            deferral_reason=None,
            maturity=None,
            settlement_id=None,
            event_group_id=None,
        )
        return self._store(refund)

    def add_service_fee(self, marketplace_id: str, posted: datetime) -> LedgerTransaction:
        currency = MARKETPLACES[marketplace_id].currency
        fee = Charge("other-transaction", "Subscription Fee", -SUBSCRIPTION_FEE[currency])
        transaction = LedgerTransaction(
            transaction_id=self._transaction_id(),
            transaction_type="ServiceFee",
            description="Subscription Fee",
            status="RELEASED",
            posted=posted,
            visible_from=posted,
            marketplace_id=marketplace_id,
            currency=currency,
            charges=(fee,),
        )
        return self._store(transaction)

    def defer(self, transaction_id: str, reason: str, days: int = DEFERRAL_DAYS) -> LedgerTransaction:
        """A released transaction becomes DEFERRED (paid out `days` after posting, in no settlement yet)."""
        current = self._transactions[transaction_id]
        deferred = dataclasses.replace(
            current,
            status="DEFERRED",
            deferral_reason=reason,
            maturity=current.posted + timedelta(days=days),
            settlement_id=None,
            event_group_id=None,
        )
        return self._store(deferred)

    def duplicate(self, transaction_id: str, shift: timedelta) -> LedgerTransaction:
        """The same transaction posted again `shift` later under a new id (Amazon paying an order twice)."""
        original = self._transactions[transaction_id]
        moment = original.posted + shift
        copy = dataclasses.replace(
            original,
            transaction_id=self._transaction_id(),
            posted=moment,
            visible_from=moment,
            settlement_id=None,
            event_group_id=None,
        )
        return self._store(copy)

    def add_unknown_order_shipment(self, marketplace_id: str, posted: datetime) -> LedgerTransaction:
        """A merchant-fulfilled shipment of one catalog item for an order id no order store knows."""
        marketplace = MARKETPLACES[marketplace_id]
        product = self._rng.choice(CATALOG)
        order_id = f"{marketplace.order_id_prefixes[0]}-{self._digits(7)}-{self._digits(7)}"
        item_id = self._digits(14)
        item = {"orderItemId": item_id, "sku": product.seller_sku, "asin": product.asin, "title": product.title,
                "quantity": 1, "principal": product.price_in(marketplace), "shipping": Decimal("0"),
                "item_tax": Decimal("0"), "shipping_tax": Decimal("0"), "discount": Decimal("0"), "promotion_id": None}  # fmt: skip
        transaction = LedgerTransaction(
            transaction_id=self._transaction_id(),
            transaction_type="Shipment",
            description="Order Payment",
            status="RELEASED",
            posted=posted,
            visible_from=posted,
            marketplace_id=marketplace_id,
            currency=marketplace.currency,
            charges=tuple(_item_charges(item, marketplace_id, marketplace.currency, "MERCHANT")),
            order_id=order_id,
            shipment_id=self._shipment_id(),
            fulfillment_network="MFN",
            items=(ItemInfo(item_id, product.seller_sku, product.asin, product.title, 1),),
        )
        return self._store(transaction)

    def differ_in_settlement(self, transaction_id: str, delta: Decimal) -> FeeDifference:
        """Make the settlement report's Commission of a transaction differ from the transaction by `delta`."""
        transaction = self._transactions[transaction_id]
        commission = sum(
            (c.amount for c in transaction.charges if c.description == "Commission"), Decimal("0")
        )
        self._settlement_fee_deltas[transaction_id] = delta
        assert transaction.order_id is not None
        return FeeDifference(transaction.order_id, "Commission", commission, commission + delta)

    # --- internals ------------------------------------------------------------------------------------
    def _store(self, transaction: LedgerTransaction) -> LedgerTransaction:
        key = self._period_key(transaction)
        if key is not None:
            period = self._period(*key)
            transaction = dataclasses.replace(
                transaction, settlement_id=period.settlement_id, event_group_id=period.event_group_id
            )
        self._transactions[transaction.transaction_id] = transaction
        return transaction

    def _period_key(self, transaction: LedgerTransaction) -> tuple[str, int] | None:
        if transaction.status == "DEFERRED":
            return None
        moment = transaction.released_at or transaction.posted
        return transaction.marketplace_id, (moment - self.period_start) // SETTLEMENT_PERIOD

    def _period(self, marketplace_id: str, index: int) -> _Period:
        key = (marketplace_id, index)
        if key not in self._periods:
            self._periods[key] = _Period(self._digits(11), self._token(43))
        return self._periods[key]

    def _as_reported(self, transaction: LedgerTransaction) -> LedgerTransaction:
        delta = self._settlement_fee_deltas.get(transaction.transaction_id)
        if delta is None:
            return transaction
        charges = list(transaction.charges)
        index = next(i for i, c in enumerate(charges) if c.description == "Commission")
        charges[index] = dataclasses.replace(charges[index], amount=charges[index].amount + delta)
        return dataclasses.replace(transaction, charges=tuple(charges))

    def _transaction_id(self) -> str:
        return base64.urlsafe_b64encode(self._rng.randbytes(32)).decode().rstrip("=")

    def _token(self, length: int) -> str:
        return base64.urlsafe_b64encode(self._rng.randbytes(length)).decode()[:length]

    def _digits(self, count: int) -> str:
        return str(self._rng.randint(10 ** (count - 1), 10**count - 1))

    def _shipment_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "D" + "".join(self._rng.choice(alphabet) for _ in range(8))


def build_ledger(
    orders: Iterable[Mapping[str, Any]],
    *,
    seed: int = 0,
    seller_id: str,
    period_start: datetime | None = None,
    refunds: int = 1,
    deferred_share: float = 0.1,
    service_fees: bool = True,
    discrepancies: bool = False,
) -> FinanceLedger:
    """A ledger for the shipped orders among `orders` (v2026 dicts with every dataset, as the emulator stores)."""
    shipped = sorted(
        (
            o
            for o in orders
            if (o.get("fulfillment") or {}).get("fulfillmentStatus") == "SHIPPED" and o.get("proceeds")
        ),
        key=lambda o: (_ship_time(o), str(o["orderId"])),
    )
    if not shipped:
        raise ValueError("no shipped orders with proceeds to build a ledger from")
    rng = random.Random(f"ledger-choices:{seed}")
    start = period_start or _ship_time(shipped[0]).replace(hour=0, minute=0, second=0, microsecond=0)
    ledger = FinanceLedger(seed=seed, period_start=start, seller_id=seller_id)
    shipments = []
    for order in shipped:
        transaction = ledger.add_shipment(order)
        if transaction.status == "RELEASED" and rng.random() < deferred_share:
            # A delivery-date deferral: paid 7 days after delivery instead of at shipment.
            transaction = ledger.defer(transaction.transaction_id, "DD7")
        shipments.append(transaction)
    released = [t for t in shipments if t.status == "RELEASED"]
    for shipment in rng.sample(released, min(refunds, max(0, len(released) - 3))):
        ledger.add_refund(
            shipment, posted=shipment.posted + timedelta(days=rng.randint(3, 9), hours=rng.randint(0, 23))
        )
    if service_fees:
        last = max(t.posted for t in ledger.transactions)
        for marketplace_id in sorted({t.marketplace_id for t in shipments}):
            moment = start + timedelta(days=1, hours=6)
            while moment <= last:
                ledger.add_service_fee(marketplace_id, moment)
                moment += timedelta(days=30)
    if discrepancies:
        ledger.discrepancies = _make_mistakes(ledger, released, rng)
    return ledger


def _make_mistakes(
    ledger: FinanceLedger, released: Sequence[LedgerTransaction], rng: random.Random
) -> Discrepancies:
    refunded = {t.order_id for t in ledger.transactions if t.transaction_type == "Refund"}
    candidates = [t for t in released if t.order_id not in refunded]
    if len(candidates) < 2:
        raise ValueError("discrepancies need at least two released, unrefunded shipments")
    fee_victim, twice = rng.sample(candidates, 2)
    difference = ledger.differ_in_settlement(fee_victim.transaction_id, Decimal("-0.50"))
    ledger.duplicate(twice.transaction_id, SETTLEMENT_PERIOD)  # paid again one settlement later
    unknown = ledger.add_unknown_order_shipment(
        candidates[0].marketplace_id, candidates[0].posted + timedelta(hours=3)
    )
    assert fee_victim.order_id is not None
    assert twice.order_id is not None
    assert unknown.order_id is not None
    return Discrepancies(
        fee_differs={fee_victim.order_id: difference},
        settled_twice=frozenset({twice.order_id}),
        unknown_orders=frozenset({unknown.order_id}),
    )


def _items(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = []
    for item in order["orderItems"]:
        breakdowns = {b["type"]: b for b in (item.get("proceeds") or {}).get("breakdowns", [])}
        tax = {
            d["subtype"]: Decimal(d["value"]["amount"])
            for d in breakdowns.get("TAX", {}).get("detailedBreakdowns", [])
        }
        promotions = (item.get("promotion") or {}).get("breakdowns", [])
        items.append(
            {
                "orderItemId": str(item["orderItemId"]),
                "sku": str(item["product"]["sellerSku"]),
                "asin": str(item["product"]["asin"]),
                "title": str(item["product"].get("title", "")),
                "quantity": int(item["quantityOrdered"]),
                "principal": _amount(breakdowns.get("ITEM")),
                "shipping": _amount(breakdowns.get("SHIPPING")),
                "item_tax": tax.get("ITEM", _amount(breakdowns.get("TAX"))),
                "shipping_tax": tax.get("SHIPPING", Decimal("0")),
                "discount": -_amount(breakdowns.get("DISCOUNT")),
                "promotion_id": promotions[0].get("promotionId") if promotions else None,
            }
        )
    return items


def _item_charges(
    item: Mapping[str, Any], marketplace_id: str, currency: str, fulfilled_by: str
) -> list[Charge]:
    def charge(amount_type: str, description: str, amount: Decimal, **extra: Any) -> Charge:
        return Charge(
            amount_type, description, amount, item["orderItemId"], item["sku"], item["quantity"], **extra
        )

    charges = [
        charge("ItemPrice", "Principal", item["principal"]),
        charge("ItemPrice", "Tax", item["item_tax"]),
    ]
    if item["shipping"]:
        charges += [
            charge("ItemPrice", "Shipping", item["shipping"]),
            charge("ItemPrice", "ShippingTax", item["shipping_tax"]),
        ]
    if item["discount"]:
        charges.append(charge("Promotion", "Principal", -item["discount"], promotion_id=item["promotion_id"]))
    if MARKETPLACES[marketplace_id].country_code == "US":
        # Marketplace facilitator states: Amazon collects the sales tax and keeps it (net zero for the seller).
        charges.append(charge("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -item["item_tax"]))
        if item["shipping_tax"]:
            charges.append(
                charge("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", -item["shipping_tax"])
            )
    sales = item["principal"] + item["shipping"] - item["discount"]
    charges.append(charge("ItemFees", "Commission", -_money(sales * REFERRAL_FEE_RATE)))
    if fulfilled_by == "AMAZON":
        charges.append(
            charge("ItemFees", "FBAPerUnitFulfillmentFee", -FBA_FEE_PER_UNIT[currency] * item["quantity"])
        )
    return charges


def _ship_time(order: Mapping[str, Any]) -> datetime:
    packages = order.get("packages") or []
    if packages:
        return parse_time(str(packages[-1]["shipTime"]))
    return parse_time(str(order["lastUpdatedTime"]))


def _amount(breakdown: Mapping[str, Any] | None) -> Decimal:
    return Decimal(breakdown["subtotal"]["amount"]) if breakdown else Decimal("0")


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)
