"""The emulator's Finances API 2024-06-19 listTransactions against ``finances_2024-06-19.json``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID, iso
from sandbox.finance_ledger import build_ledger
from sandbox.spapi_emulator.finances import FILTERABLE_IDENTIFIERS, TRANSACTION_STATUSES, render_transaction
from tests.contract.spapi_model_checks import (
    MODELS,
    conformance_problems,
    documented_values,
    load_json,
    query_parameters,
)
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, shipped_orders


@pytest.fixture(scope="module")
def model(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, MODELS["finances"])


emu_server, emu = emulator_fixtures()


def test_list_transactions_pages_conform_to_list_transactions_response(
    model: dict[str, Any], emu: Running
) -> None:
    """Every kind of transaction (shipments AFN/MFN, refunds, fees, deferred, the deliberate mistakes) conforms."""
    orders = shipped_orders(40, seed=13)
    ledger = build_ledger(
        orders, seller_id=DEFAULT_SELLER_ID, refunds=3, deferred_share=0.3, discrepancies=True
    )
    emu.emulator.finances.put_ledger(ledger)

    body = emu.seller.get(
        "/finances/2024-06-19/transactions", params={"postedAfter": iso(NOW - timedelta(days=60))}
    ).json()

    assert {t["transactionType"] for t in body["payload"]["transactions"]} == {
        "Shipment",
        "Refund",
        "ServiceFee",
    }
    assert {t["transactionStatus"] for t in body["payload"]["transactions"]} == {"RELEASED", "DEFERRED"}
    assert conformance_problems(model, "ListTransactionsResponse", body) == []


def test_a_released_deferral_conforms(model: dict[str, Any]) -> None:
    """A DEFERRED_RELEASED transaction with its DeferredContext is a valid Transaction."""
    ledger = build_ledger(shipped_orders(10, seed=14), seller_id=DEFAULT_SELLER_ID, deferred_share=1.0)
    deferred = next(t for t in ledger.transactions if t.status == "DEFERRED")

    released = render_transaction(ledger.release(deferred.transaction_id, NOW), DEFAULT_SELLER_ID)

    assert released["contexts"][0]["contextType"] == "DeferredContext"
    assert conformance_problems(model, "Transaction", released) == []


def test_error_bodies_conform_to_error_list(model: dict[str, Any], emu: Running) -> None:
    """400 (bad range) and 403 (no token) answers are the model's ErrorList."""
    bad = emu.seller.get("/finances/2024-06-19/transactions", params={"postedAfter": iso(NOW)})
    denied = emu.http.get(
        "/finances/2024-06-19/transactions", params={"postedAfter": iso(NOW - timedelta(days=1))}
    )

    assert (bad.status_code, denied.status_code) == (400, 403)
    assert conformance_problems(model, "ErrorList", bad.json()) == []
    assert conformance_problems(model, "ErrorList", denied.json()) == []


def test_status_and_identifier_vocabularies_match_the_model(model: dict[str, Any]) -> None:
    """transactionStatus values are the documented ones; only documented related identifiers can filter."""
    parameters = query_parameters(model, "listTransactions")
    identifier_enum = model["definitions"]["RelatedIdentifier"]["properties"]["relatedIdentifierName"]["enum"]

    assert documented_values(parameters["transactionStatus"]["description"]) == set(TRANSACTION_STATUSES)
    assert documented_values(parameters["relatedIdentifierName"]["description"]) == set(
        FILTERABLE_IDENTIFIERS
    )
    assert set(FILTERABLE_IDENTIFIERS) <= set(identifier_enum)
