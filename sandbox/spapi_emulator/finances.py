"""Finances API 2024-06-19 ``listTransactions`` over the finance ledger (``sandbox.finance_ledger``).

After ``finances_2024-06-19.json``:

- ``postedAfter`` is required (unless a related identifier is given) and, like ``postedBefore``, must be more
  than two minutes before the request; ``postedBefore`` defaults to two minutes ago and must be after
  ``postedAfter``; if they are more than 180 days apart the response is empty (not an error);
- filters: ``marketplaceId``, ``transactionStatus`` (DEFERRED, RELEASED, DEFERRED_RELEASED) and
  ``relatedIdentifierName``/``Value`` (only ORDER_ID and FINANCIAL_EVENT_GROUP_ID can filter);
- ``nextToken`` pages must repeat the first call's arguments and the token expires;
- "Financial events might not include orders from the last 48 hours": a transaction is listed only once it
  is visible (``add_late_transaction`` posts one in the past that appears now).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sandbox.amazon_samples import MARKETPLACES
from sandbox.finance_ledger import Charge, FinanceLedger, LedgerTransaction, build_ledger
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import invalid_input
from sandbox.spapi_emulator.orders import OrderStore
from sandbox.spapi_emulator.params import iso, time_parameter
from sandbox.spapi_emulator.routes import Access, Route

LIST_TRANSACTIONS: Final = "listTransactions"
TRANSACTIONS_PATH: Final = "/finances/2024-06-19/transactions"
PARAMETERS: Final = (
    "postedAfter",
    "postedBefore",
    "marketplaceId",
    "transactionStatus",
    "relatedIdentifierName",
    "relatedIdentifierValue",
    "nextToken",
)
TRANSACTION_STATUSES: Final = ("DEFERRED", "RELEASED", "DEFERRED_RELEASED")
FILTERABLE_IDENTIFIERS: Final = ("FINANCIAL_EVENT_GROUP_ID", "ORDER_ID")
DATA_LAG: Final = timedelta(minutes=2)
MAX_RANGE: Final = timedelta(days=180)
NEXT_TOKEN_LIFETIME: Final = timedelta(minutes=5)  # undocumented; Amazon's tokens do expire
PAGE_SIZE: Final = 100
# (amount-type, amount-description) of a ledger charge -> (category, group, type) in the breakdown tree.
BREAKDOWN_PATH: Final[Mapping[tuple[str, str], tuple[str, str, str]]] = {
    ("ItemPrice", "Principal"): ("Sales", "ProductCharges", "OurPricePrincipal"),
    ("ItemPrice", "Tax"): ("Sales", "ProductCharges", "OurPriceTax"),
    ("ItemPrice", "Shipping"): ("Sales", "ShippingCharges", "ShippingPrincipal"),
    ("ItemPrice", "ShippingTax"): ("Sales", "ShippingCharges", "ShippingTax"),
    ("Promotion", "Principal"): ("Sales", "Promotions", "PromotionPrincipal"),
    ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal"): (
        "Tax",
        "TaxWithheld",
        "MarketplaceFacilitatorTaxPrincipal",
    ),
    ("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping"): (
        "Tax",
        "TaxWithheld",
        "MarketplaceFacilitatorTaxShipping",
    ),
    ("ItemFees", "Commission"): ("Expenses", "AmazonFees", "Commission"),
    ("ItemFees", "RefundCommission"): ("Expenses", "AmazonFees", "RefundCommission"),
    ("ItemFees", "FBAPerUnitFulfillmentFee"): ("Expenses", "AmazonFees", "FBAPerUnitFulfillmentFee"),
    ("other-transaction", "Subscription Fee"): ("Expenses", "ServiceFees", "Subscription"),
}


@dataclass(frozen=True)
class _Page:
    arguments: tuple[tuple[str, tuple[str, ...]], ...]
    transaction_ids: tuple[str, ...]
    offset: int
    issued_at: datetime


class FinancesApi:
    def __init__(self, ctx: EmulatorContext, orders: OrderStore) -> None:
        self._ctx = ctx
        self._orders = orders
        self.ledger: FinanceLedger | None = None
        self._pages: dict[str, _Page] = {}

    def routes(self) -> list[Route]:
        return [
            Route(
                LIST_TRANSACTIONS, "GET", TRANSACTIONS_PATH, Access.SELLER, self.list_transactions, PARAMETERS
            )
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self.ledger = None
            self._pages.clear()

    # --- test hooks -------------------------------------------------------------------------------------
    def put_ledger(self, ledger: FinanceLedger) -> None:
        with self._ctx.lock:
            self.ledger = ledger
            self._pages.clear()

    def ledger_from_orders(self, **options: Any) -> FinanceLedger:
        """Build the ledger from the emulator's own orders (options as ``build_ledger``) and serve it."""
        ledger = build_ledger(self._orders.all(), seller_id=self._ctx.seller_id, **options)
        self.put_ledger(ledger)
        return ledger

    def release(self, transaction_id: str) -> LedgerTransaction:
        """Amazon releases a deferred transaction now (it becomes DEFERRED_RELEASED)."""
        with self._ctx.lock:
            return self._ledger().release(transaction_id, self._ctx.now())

    def add_late_transaction(
        self, order: Mapping[str, Any], posted_ago: timedelta = timedelta(hours=47)
    ) -> LedgerTransaction:
        """A Shipment transaction posted `posted_ago` in the past that only becomes visible now."""
        with self._ctx.lock:
            now = self._ctx.now()
            return self._ledger().add_shipment(order, posted=now - posted_ago, visible_from=now)

    def _ledger(self) -> FinanceLedger:
        if self.ledger is None:
            raise RuntimeError("no ledger: call put_ledger(build_ledger(...)) first")
        return self.ledger

    # --- listTransactions -----------------------------------------------------------------------------------
    def list_transactions(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        now = self._ctx.now()
        token = request.query_value("nextToken")
        arguments = tuple(sorted((k, tuple(v)) for k, v in request.query.items() if k != "nextToken"))
        with self._ctx.lock:
            if token is not None:
                page = self._pages.get(token)
                if page is None or now - page.issued_at > NEXT_TOKEN_LIFETIME:
                    raise invalid_input("The nextToken is invalid or has expired.")
                # Why this matters: Amazon wants the same arguments with every page, not the token alone.
                if page.arguments != arguments:
                    raise invalid_input(
                        "Call with the same arguments as the call that returned this nextToken."
                    )
            else:
                page = _Page(arguments, self._select(request, now), 0, now)
            ids = page.transaction_ids[page.offset : page.offset + PAGE_SIZE]
            ledger = self.ledger
            transactions = (
                [render_transaction(ledger.transaction(i), ledger.seller_id) for i in ids] if ledger else []
            )
            payload: dict[str, Any] = {"transactions": transactions}
            if page.offset + PAGE_SIZE < len(page.transaction_ids):
                next_token = self._ctx.token(48)
                self._pages[next_token] = _Page(arguments, page.transaction_ids, page.offset + PAGE_SIZE, now)
                payload["nextToken"] = next_token
        return EmulatorResponse.json(200, {"payload": payload})

    def _select(self, request: EmulatorRequest, now: datetime) -> tuple[str, ...]:
        latest = now - DATA_LAG
        identifier_name = request.query_value("relatedIdentifierName")
        identifier_value = request.query_value("relatedIdentifierValue")
        if (identifier_name is None) != (identifier_value is None):
            raise invalid_input("relatedIdentifierName and relatedIdentifierValue go together.")
        if identifier_name is not None and identifier_name not in FILTERABLE_IDENTIFIERS:
            raise invalid_input(f"relatedIdentifierName must be one of {', '.join(FILTERABLE_IDENTIFIERS)}.")
        after = time_parameter(request, "postedAfter")
        before = time_parameter(request, "postedBefore")
        if after is None and identifier_name is None:
            raise invalid_input("postedAfter is required unless a related identifier is given.")
        if after is not None and after > latest:
            raise invalid_input("postedAfter must be more than two minutes before the time of the request.")
        if before is not None and before > latest:
            raise invalid_input("postedBefore must be more than two minutes before the time of the request.")
        before = before or latest
        if after is not None and before <= after:
            raise invalid_input("postedBefore must be later than postedAfter.")
        if after is not None and before - after > MAX_RANGE:
            return ()  # "If PostedAfter and PostedBefore are more than 180 days apart, the response is empty."
        status = request.query_value("transactionStatus")
        if status is not None and status not in TRANSACTION_STATUSES:
            raise invalid_input(f"transactionStatus must be one of {', '.join(TRANSACTION_STATUSES)}.")
        marketplace_id = request.query_value("marketplaceId")
        if self.ledger is None:
            return ()
        chosen = []
        for transaction in self.ledger.transactions:
            if transaction.visible_from > latest:
                continue
            if after is not None and not after <= transaction.posted < before:
                continue
            if after is None and transaction.posted >= before:
                continue
            if marketplace_id is not None and transaction.marketplace_id != marketplace_id:
                continue
            if status is not None and transaction.status != status:
                continue
            if (
                identifier_name is not None
                and _identifiers(transaction).get(identifier_name) != identifier_value
            ):
                continue
            chosen.append(transaction.transaction_id)
        return tuple(chosen)


def render_transaction(transaction: LedgerTransaction, seller_id: str) -> dict[str, Any]:
    """A ledger transaction as the Transaction definition of the model shapes it."""
    currency = transaction.currency
    rendered: dict[str, Any] = {
        "sellingPartnerMetadata": {
            "sellingPartnerId": seller_id,
            "accountType": "Standard Orders",
            "marketplaceId": transaction.marketplace_id,
        },
        "relatedIdentifiers": [
            {"relatedIdentifierName": name, "relatedIdentifierValue": value}
            for name, value in _identifiers(transaction).items()
        ],
        "transactionType": transaction.transaction_type,
        "transactionId": transaction.transaction_id,
        "transactionStatus": transaction.status,
        "description": transaction.description,
        "postedDate": iso(transaction.posted),
        "totalAmount": _money(transaction.total, currency),
        "marketplaceDetails": {
            "marketplaceId": transaction.marketplace_id,
            "marketplaceName": MARKETPLACES[transaction.marketplace_id].name,
        },
    }
    if transaction.items:
        rendered["items"] = [_item(transaction, info.order_item_id) for info in transaction.items]
    if transaction.deferral_reason is not None and transaction.maturity is not None:
        rendered["contexts"] = [
            {
                "contextType": "DeferredContext",
                "deferralReason": transaction.deferral_reason,
                "maturityDate": iso(transaction.maturity),
            }
        ]
    rendered["breakdowns"] = breakdown_tree(transaction.charges, currency)
    return rendered


def breakdown_tree(charges: tuple[Charge, ...] | list[Charge], currency: str) -> list[dict[str, Any]]:
    """Charges summed into category -> group -> type breakdowns (each level carries its subtotal)."""
    tree: dict[str, dict[str, dict[str, Decimal]]] = {}
    for charge in charges:
        category, group, leaf = BREAKDOWN_PATH[(charge.amount_type, charge.description)]
        leaves = tree.setdefault(category, {}).setdefault(group, {})
        leaves[leaf] = leaves.get(leaf, Decimal("0")) + charge.amount
    return [
        {
            "breakdownType": category,
            "breakdownAmount": _money(
                sum((sum(g.values(), Decimal("0")) for g in groups.values()), Decimal("0")), currency
            ),
            "breakdowns": [
                {
                    "breakdownType": group,
                    "breakdownAmount": _money(sum(leaves.values(), Decimal("0")), currency),
                    "breakdowns": [
                        {"breakdownType": leaf, "breakdownAmount": _money(amount, currency), "breakdowns": []}
                        for leaf, amount in leaves.items()
                    ],
                }
                for group, leaves in groups.items()
            ],
        }
        for category, groups in tree.items()
    ]


def _item(transaction: LedgerTransaction, order_item_id: str) -> dict[str, Any]:
    info = next(i for i in transaction.items if i.order_item_id == order_item_id)
    charges = [c for c in transaction.charges if c.order_item_id == order_item_id]
    item: dict[str, Any] = {
        "description": info.title,
        "totalAmount": _money(sum((c.amount for c in charges), Decimal("0")), transaction.currency),
    }
    if transaction.transaction_type == "Refund":
        item["relatedIdentifiers"] = [
            {
                "itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                "itemRelatedIdentifierValue": f"{order_item_id}-R",
            }
        ]
    item["breakdowns"] = breakdown_tree(charges, transaction.currency)
    item["contexts"] = [
        {
            "contextType": "ProductContext",
            "asin": info.asin,
            "sku": info.sku,
            "quantityShipped": info.quantity,
            "fulfillmentNetwork": transaction.fulfillment_network or "MFN",
        }
    ]
    return item


def _identifiers(transaction: LedgerTransaction) -> dict[str, str]:
    identifiers = {}
    if transaction.order_id:
        identifiers["ORDER_ID"] = transaction.order_id
    if transaction.shipment_id:
        identifiers["SHIPMENT_ID"] = transaction.shipment_id
    if transaction.adjustment_id:
        identifiers["REFUND_ID"] = transaction.adjustment_id
    if transaction.settlement_id:
        identifiers["SETTLEMENT_ID"] = transaction.settlement_id
    if transaction.event_group_id:
        identifiers["FINANCIAL_EVENT_GROUP_ID"] = transaction.event_group_id
    return identifiers


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    # BigDecimal is a JSON number in this model; a float renders two-decimal amounts exactly as written.
    return {"currencyCode": currency, "currencyAmount": float(amount)}
