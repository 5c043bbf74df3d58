"""python-amazon-sp-api's Finances client (version 2024-06-19) against the emulator over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sp_api.api import Finances
from sp_api.base.exceptions import SellingApiBadRequestException

from sandbox.amazon_samples import OrderFactory
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets


def shipped_orders_with_a_ledger(emulator: SpApiEmulator) -> None:
    """140 orders shipped about a month ago and their ledger, deliberate mistakes included."""
    now = datetime.now(UTC)
    orders = OrderFactory(seed=5, start=now - timedelta(days=30)).orders(140, status="SHIPPED")
    emulator.put_orders(order.to_api() for order in orders)
    emulator.finances.ledger_from_orders(discrepancies=True)


server, emulator = library_fixtures(shipped_orders_with_a_ledger)


def test_the_library_pages_through_every_transaction(emulator: SpApiEmulator) -> None:
    """list_transactions with postedAfter, then with the nextToken and the same arguments, returns the ledger."""
    posted_after = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    with library(Finances, emulator, version="2024-06-19") as client:
        first = client.list_transactions(postedAfter=posted_after)
        second = client.list_transactions(postedAfter=posted_after, nextToken=first.payload["nextToken"])

    seen = [t["transactionId"] for t in first.payload["transactions"] + second.payload["transactions"]]
    assert emulator.finances.ledger is not None
    assert sorted(seen) == sorted(t.transaction_id for t in emulator.finances.ledger.transactions)
    assert "nextToken" not in second.payload
    assert first.rate_limit == "0.5"


def test_the_library_raises_bad_request_for_a_too_recent_posted_before(emulator: SpApiEmulator) -> None:
    """postedBefore less than two minutes ago is a 400 the library raises as SellingApiBadRequestException."""
    now = datetime.now(UTC)
    with (
        library(Finances, emulator, version="2024-06-19") as client,
        pytest.raises(SellingApiBadRequestException) as raised,
    ):
        client.list_transactions(
            postedAfter=(now - timedelta(days=1)).isoformat(), postedBefore=now.isoformat()
        )

    assert raised.value.amzn_code == "InvalidInput"


def test_the_library_filters_by_order_id(emulator: SpApiEmulator) -> None:
    """relatedIdentifierName=ORDER_ID finds the order settled twice with both its shipment transactions."""
    assert emulator.finances.ledger is not None
    [twice] = emulator.finances.ledger.discrepancies.settled_twice
    with library(Finances, emulator, version="2024-06-19") as client:
        found = client.list_transactions(
            relatedIdentifierName="ORDER_ID", relatedIdentifierValue=twice
        ).payload["transactions"]

    assert [t["transactionType"] for t in found] == ["Shipment", "Shipment"]
