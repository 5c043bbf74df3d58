"""The emulator's Reports API 2021-06-30 against ``reports_2021-06-30.json``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID, OrderFactory, iso
from sandbox.finance_ledger import build_ledger
from sandbox.spapi_emulator.jobs import PROCESSING_STATUSES
from tests.contract.spapi_model_checks import (
    MODELS,
    conformance_problems,
    load_json,
    query_parameters,
    response_schema,
)
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, shipped_orders

REPORTS = "/reports/2021-06-30/reports"
ORDER_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"


@pytest.fixture(scope="module")
def model(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, MODELS["reports"])


emu_server, emu = emulator_fixtures()


def create(emu: Running, days: int = 20) -> str:
    body = {
        "reportType": ORDER_REPORT,
        "marketplaceIds": ["ATVPDKIKX0DER"],
        "dataStartTime": iso(NOW - timedelta(days=days)),
    }
    report_id: str = emu.seller.post(REPORTS, json=body).json()["reportId"]
    return report_id


def test_reports_conform_in_every_processing_status(model: dict[str, Any], emu: Running) -> None:
    """getReport answers match Report while IN_QUEUE, IN_PROGRESS, DONE, CANCELLED; createReport matches its response."""
    emu.emulator.put_orders(
        [
            o.to_api()
            for o in OrderFactory(seed=3, start=NOW - timedelta(days=5)).orders(
                3, marketplace_id="ATVPDKIKX0DER"
            )
        ]
    )
    created = emu.seller.post(
        REPORTS,
        json={
            "reportType": ORDER_REPORT,
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "dataStartTime": iso(NOW - timedelta(days=9)),
        },
    )
    report_id = created.json()["reportId"]
    empty = create(emu, days=0)
    cancelled_while_queued = create(emu)
    emu.seller.delete(f"{REPORTS}/{cancelled_while_queued}")

    bodies = [emu.seller.get(f"{REPORTS}/{report_id}").json()]
    emu.clock.advance(seconds=45)
    bodies.append(emu.seller.get(f"{REPORTS}/{report_id}").json())
    emu.clock.advance(seconds=60)
    bodies += [emu.seller.get(f"{REPORTS}/{i}").json() for i in (report_id, empty, cancelled_while_queued)]

    assert created.status_code == 202
    assert conformance_problems(model, response_schema(model, "createReport", 202), created.json()) == []
    assert [b["processingStatus"] for b in bodies] == [
        "IN_QUEUE",
        "IN_PROGRESS",
        "DONE",
        "CANCELLED",
        "CANCELLED",
    ]
    assert {
        i: conformance_problems(model, "Report", b)
        for i, b in enumerate(bodies)
        if conformance_problems(model, "Report", b)
    } == {}


def test_get_reports_pages_and_documents_conform(model: dict[str, Any], emu: Running) -> None:
    """getReports pages (with and without nextToken) and getReportDocument (plain and GZIP) match the model."""
    emu.emulator.put_orders(
        [OrderFactory(seed=4, start=NOW - timedelta(days=3)).order(marketplace_id="ATVPDKIKX0DER").to_api()]
    )
    for _ in range(3):
        create(emu)
    ledger = build_ledger(shipped_orders(12), seller_id=DEFAULT_SELLER_ID)
    settlement_id = emu.emulator.reports.add_settlement_report(ledger.settlements()[0])
    emu.emulator.reports.finish_now()

    first = emu.seller.get(
        REPORTS,
        params={"reportTypes": f"{ORDER_REPORT},GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "pageSize": "2"},
    ).json()
    second = emu.seller.get(REPORTS, params={"nextToken": first["nextToken"]}).json()
    documents = [
        emu.seller.get(f"/reports/2021-06-30/documents/{r['reportDocumentId']}").json()
        for r in first["reports"] + second["reports"]
    ]

    for page in (first, second):
        assert conformance_problems(model, "GetReportsResponse", page) == []
    assert {d.get("compressionAlgorithm") for d in documents} == {"GZIP", None}
    assert settlement_id in {r["reportId"] for r in first["reports"] + second["reports"]}
    for document in documents:
        assert conformance_problems(model, "ReportDocument", document) == []


def test_error_bodies_conform_to_error_list(model: dict[str, Any], emu: Running) -> None:
    """400 (settlement refused), 404 (unknown report) and 403 (no token) are the model's ErrorList."""
    refused = emu.seller.post(
        REPORTS,
        json={
            "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
            "marketplaceIds": ["ATVPDKIKX0DER"],
        },
    )
    unknown = emu.seller.get(f"{REPORTS}/123")
    denied = emu.http.get(f"{REPORTS}/123")

    assert [r.status_code for r in (refused, unknown, denied)] == [400, 404, 403]
    for response in (refused, unknown, denied):
        assert conformance_problems(model, "ErrorList", response.json()) == []


def test_processing_status_filter_is_the_models_enum(model: dict[str, Any]) -> None:
    """processingStatuses accepts exactly the Report.processingStatus enum."""
    parameter = query_parameters(model, "getReports")["processingStatuses"]

    assert list(PROCESSING_STATUSES) == parameter["items"]["enum"]
    assert (
        list(PROCESSING_STATUSES) == model["definitions"]["Report"]["properties"]["processingStatus"]["enum"]
    )
