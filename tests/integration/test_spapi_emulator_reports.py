"""python-amazon-sp-api's Reports client against the emulator over real sockets: request an order report,
poll it, download it (gzip), and find and download a settlement report Amazon scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sp_api.api import Reports
from sp_api.base.exceptions import SellingApiBadRequestException

from sandbox.amazon_samples import DEFAULT_SELLER_ID, OrderFactory
from sandbox.finance_ledger import build_ledger
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"
ORDER_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


server, emulator = library_fixtures()


def test_the_library_requests_polls_and_downloads_an_order_report(emulator: SpApiEmulator) -> None:
    """create_report -> get_report until DONE -> get_report_document(download=True) gunzips the flat file."""
    now = datetime.now(UTC)
    orders = [
        o.to_api() for o in OrderFactory(seed=9, start=now - timedelta(days=4)).orders(5, marketplace_id=US)
    ]
    emulator.put_orders(orders)
    with library(Reports, emulator) as client:
        report_id = client.create_report(
            reportType=ORDER_REPORT, marketplaceIds=[US], dataStartTime=(now - timedelta(days=7)).isoformat()
        ).payload["reportId"]
        queued = client.get_report(report_id).payload["processingStatus"]
        emulator.reports.finish_now(report_id)
        report = client.get_report(report_id).payload
        document = client.get_report_document(report["reportDocumentId"], download=True).payload

    assert queued == "IN_QUEUE"
    assert report["processingStatus"] == "DONE"
    assert document["compressionAlgorithm"] == "GZIP"
    lines = document["document"].splitlines()
    assert lines[0].startswith("amazon-order-id\tmerchant-order-id\tpurchase-date")
    assert {line.split("\t")[0] for line in lines[1:]} == {o["orderId"] for o in orders}


def test_the_library_finds_and_downloads_a_settlement_report(emulator: SpApiEmulator) -> None:
    """get_reports(reportTypes=[settlement]) lists what Amazon scheduled; the download is the V2 flat file."""
    now = datetime.now(UTC)
    orders = [
        o.to_api()
        for o in OrderFactory(seed=10, start=now - timedelta(days=30)).orders(
            20, status="SHIPPED", marketplace_id=US
        )
    ]
    settlement = build_ledger(orders, seller_id=DEFAULT_SELLER_ID).settlements()[0]
    emulator.reports.add_settlement_report(settlement, created=now - timedelta(days=1))
    with library(Reports, emulator) as client:
        listed = client.get_reports(
            reportTypes=[SETTLEMENT], createdSince=(now - timedelta(days=5)).isoformat()
        ).payload
        document = client.get_report_document(listed["reports"][0]["reportDocumentId"], download=True).payload

    assert [r["reportType"] for r in listed["reports"]] == [SETTLEMENT]
    assert "compressionAlgorithm" not in document
    header, summary = document["document"].splitlines()[:2]
    assert header.split("\t")[:3] == ["settlement-id", "settlement-start-date", "settlement-end-date"]
    assert summary.split("\t")[0] == settlement.settlement_id


def test_the_library_cannot_request_a_settlement_report(emulator: SpApiEmulator) -> None:
    """create_report for the settlement flat file raises Amazon's "not allowed at this time" 400."""
    with library(Reports, emulator) as client, pytest.raises(SellingApiBadRequestException) as raised:
        client.create_report(reportType=SETTLEMENT, marketplaceIds=[US])

    assert "not allowed" in raised.value.message
