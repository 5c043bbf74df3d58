"""Reports API 2021-06-30 in the SP-API emulator, its S3-like documents, and the report generators."""

from __future__ import annotations

import gzip
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.amazon_samples import DEFAULT_SELLER_ID, OrderFactory, iso
from sandbox.finance_ledger import build_ledger
from sandbox.marketplace_formats import report_locale
from sandbox.order_report import COLUMNS as ORDER_COLUMNS
from sandbox.order_report import all_orders_lines
from sandbox.settlement_report import COLUMNS as SETTLEMENT_COLUMNS
from sandbox.settlement_report import settlement_lines, synthetic_settlement_lines
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, error_of, shipped_orders

pytestmark = pytest.mark.sockets

REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
BY_LAST_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SETTLEMENT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
US, UK, DE = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"


emu_server, emu = emulator_fixtures()


def create_order_report(emu: Running, days: int = 30, marketplace_id: str = US) -> str:
    body = {
        "reportType": BY_LAST_UPDATE,
        "marketplaceIds": [marketplace_id],
        "dataStartTime": iso(NOW - timedelta(days=days)),
    }
    response = emu.seller.post(REPORTS, json=body)
    assert response.status_code == 202, response.text
    report_id: str = response.json()["reportId"]
    return report_id


def download(emu: Running, document_id: str, **params: str) -> tuple[dict[str, Any], httpx.Response]:
    document = emu.seller.get(f"{DOCUMENTS}/{document_id}", params=params).json()
    return document, emu.http.get(document["url"])


def rows(text: str) -> list[dict[str, str]]:
    header, *lines = text.rstrip("\n").split("\n")
    names = header.split("\t")
    return [dict(zip(names, line.split("\t"), strict=True)) for line in lines]


# --- createReport / getReport / getReportDocument ---------------------------------------------------------


def test_an_order_report_goes_from_in_queue_to_done_and_downloads_as_gzip(emu: Running) -> None:
    """createReport 202 -> IN_QUEUE -> IN_PROGRESS -> DONE; the document is gzip, holds one row per order item."""
    orders = [
        o.to_api() for o in OrderFactory(seed=4, start=NOW - timedelta(days=10)).orders(6, marketplace_id=US)
    ]
    emu.emulator.put_orders(orders)
    report_id = create_order_report(emu)

    seen = [emu.seller.get(f"{REPORTS}/{report_id}").json()["processingStatus"]]
    emu.clock.advance(seconds=30)
    seen.append(emu.seller.get(f"{REPORTS}/{report_id}").json()["processingStatus"])
    emu.clock.advance(seconds=60)
    report = emu.seller.get(f"{REPORTS}/{report_id}").json()
    document, content = download(emu, report["reportDocumentId"])

    assert [*seen, report["processingStatus"]] == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert document["compressionAlgorithm"] == "GZIP"
    assert "content-encoding" not in content.headers  # the client must gunzip itself
    table = rows(gzip.decompress(content.content).decode("utf-8"))
    assert len(table) == sum(len(o["orderItems"]) for o in orders)
    assert {r["amazon-order-id"] for r in table} == {o["orderId"] for o in orders}


def test_enable_content_encoding_url_header_serves_content_encoding_gzip(emu: Running) -> None:
    """With enableContentEncodingUrlHeader=true the URL answers Content-Encoding: gzip (HTTP clients inflate it)."""
    emu.emulator.put_orders(
        [o.to_api() for o in OrderFactory(seed=5, start=NOW - timedelta(days=3)).orders(2, marketplace_id=US)]
    )
    report_id = create_order_report(emu)
    emu.emulator.reports.finish_now(report_id)
    document_id = emu.seller.get(f"{REPORTS}/{report_id}").json()["reportDocumentId"]

    _, content = download(emu, document_id, enableContentEncodingUrlHeader="true")

    assert content.headers["content-encoding"] == "gzip"
    assert content.text.startswith("amazon-order-id\t")  # httpx inflated it


def test_a_report_without_data_is_cancelled_without_a_document(emu: Running) -> None:
    """No order in the range: the report ends CANCELLED and has no reportDocumentId."""
    report_id = create_order_report(emu)
    emu.emulator.reports.finish_now(report_id)

    report = emu.seller.get(f"{REPORTS}/{report_id}").json()

    assert report["processingStatus"] == "CANCELLED"
    assert "reportDocumentId" not in report


def test_document_urls_expire_after_five_minutes_with_s3s_access_denied(emu: Running) -> None:
    """The presigned URL works for 5 minutes of emulated time, then S3 answers 403 AccessDenied XML."""
    ledger = build_ledger(shipped_orders(12), seller_id=DEFAULT_SELLER_ID)
    report_id = emu.emulator.reports.add_settlement_report(ledger.settlements()[0])
    document_id = emu.seller.get(f"{REPORTS}/{report_id}").json()["reportDocumentId"]
    document = emu.seller.get(f"{DOCUMENTS}/{document_id}").json()

    emu.clock.advance(minutes=4, seconds=59)
    in_time = emu.http.get(document["url"])
    emu.clock.advance(seconds=1)
    late = emu.http.get(document["url"])
    tampered = emu.http.get(document["url"].replace("expires=", "expires=9"))

    assert in_time.status_code == 200
    assert late.status_code == 403
    assert late.headers["content-type"] == "application/xml"
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in late.content
    assert tampered.status_code == 403
    assert b"SignatureDoesNotMatch" in tampered.content
    assert "compressionAlgorithm" not in document


def test_settlement_reports_cannot_be_requested(emu: Running) -> None:
    """createReport for the V2 settlement flat file is Amazon's 400 "Request for report type 1118 is not allowed"."""
    response = emu.seller.post(REPORTS, json={"reportType": SETTLEMENT, "marketplaceIds": [US]})

    assert response.status_code == 400
    assert error_of(response) == {
        "code": "InvalidInput",
        "message": "Request for report type 1118 is not allowed at this time",
        "details": "",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"marketplaceIds": [US]},
        {"reportType": BY_LAST_UPDATE},
        {"reportType": BY_LAST_UPDATE, "marketplaceIds": []},
        {
            "reportType": BY_LAST_UPDATE,
            "marketplaceIds": [US],
            "dataStartTime": iso(NOW + timedelta(hours=1)),
        },
        {
            "reportType": BY_LAST_UPDATE,
            "marketplaceIds": [US],
            "dataStartTime": iso(NOW - timedelta(days=1)),
            "dataEndTime": iso(NOW - timedelta(days=2)),
        },
        {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [US]},
    ],
    ids=[
        "no-type",
        "no-marketplaces",
        "empty-marketplaces",
        "future-start",
        "end-before-start",
        "type-not-emulated",
    ],
)
def test_create_report_refuses_bad_specifications(emu: Running, body: dict[str, Any]) -> None:
    """Missing type or marketplaces, times in the future or reversed, a type the emulator does not produce: 400."""
    assert emu.seller.post(REPORTS, json=body).status_code == 400


def test_get_reports_filters_and_pages_newest_first(emu: Running) -> None:
    """getReports filters by type and status, pages by pageSize, and a nextToken must come alone."""
    ids = []
    for _ in range(3):
        ids.append(create_order_report(emu))
        emu.clock.advance(seconds=1)
    settlement_id = emu.emulator.reports.add_settlement_report(
        build_ledger(shipped_orders(12), seller_id=DEFAULT_SELLER_ID).settlements()[0],
        created=NOW - timedelta(days=1),
    )

    first = emu.seller.get(REPORTS, params={"reportTypes": BY_LAST_UPDATE, "pageSize": "2"}).json()
    second = emu.seller.get(REPORTS, params={"nextToken": first["nextToken"]}).json()
    with_others = emu.seller.get(REPORTS, params={"nextToken": first["nextToken"], "pageSize": "2"})
    settlements = emu.seller.get(
        REPORTS, params={"reportTypes": SETTLEMENT, "processingStatuses": "DONE"}
    ).json()
    nothing = emu.seller.get(REPORTS)

    assert [r["reportId"] for r in first["reports"] + second["reports"]] == ids[::-1]
    assert "nextToken" not in second
    assert with_others.status_code == 400
    assert [r["reportId"] for r in settlements["reports"]] == [settlement_id]
    assert nothing.status_code == 400


def test_cancel_report_only_while_in_queue(emu: Running) -> None:
    """cancelReport works on IN_QUEUE reports (then CANCELLED); later it is 400."""
    queued, running = create_order_report(emu), create_order_report(emu)
    cancelled = emu.seller.delete(f"{REPORTS}/{queued}")
    emu.clock.advance(seconds=40)
    too_late = emu.seller.delete(f"{REPORTS}/{running}")

    assert cancelled.status_code == 200
    assert emu.seller.get(f"{REPORTS}/{queued}").json()["processingStatus"] == "CANCELLED"
    assert too_late.status_code == 400


def test_finished_reports_notify_the_report_processing_finished_subscription(emu: Running) -> None:
    """With a REPORT_PROCESSING_FINISHED subscription, a finished report lands in the outbox (camelCase envelope)."""
    destination = emu.grantless.post(
        "/notifications/v1/destinations",
        json={
            "name": "reports",
            "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:reports"}},
        },
    ).json()["payload"]["destinationId"]
    emu.seller.post(
        "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
        json={"payloadVersion": "2020-09-04", "destinationId": destination},
    )
    emu.emulator.put_orders(
        [OrderFactory(seed=6, start=NOW - timedelta(days=3)).order(marketplace_id=US).to_api()]
    )
    report_id = create_order_report(emu)

    emu.emulator.reports.finish_now(report_id)

    [delivery] = emu.emulator.notifications.outbox
    finished = delivery.envelope["payload"]["reportProcessingFinishedNotification"]
    assert finished["reportId"] == report_id
    assert finished["processingStatus"] == "DONE"
    assert finished["reportDocumentId"] == emu.seller.get(f"{REPORTS}/{report_id}").json()["reportDocumentId"]


# --- the settlement flat file --------------------------------------------------------------------------------


def test_settlement_report_agrees_with_the_ledger(emu: Running) -> None:
    """Header, one summary row with total and currency, then one row per charge whose amounts add up to the total."""
    ledger = build_ledger(shipped_orders(20), seller_id=DEFAULT_SELLER_ID)
    settlement = next(s for s in ledger.settlements() if s.marketplace_id == US)
    report_id = emu.emulator.reports.add_settlement_report(settlement)

    text = emu.emulator.reports.document_text(report_id) or ""
    summary, *charges = rows(text)

    assert text.split("\n", 1)[0].split("\t") == list(SETTLEMENT_COLUMNS)
    assert summary["settlement-id"] == settlement.settlement_id
    assert summary["currency"] == "USD"
    assert summary["transaction-type"] == ""
    locale = report_locale(US)
    assert locale.parse_amount(summary["total-amount"]) == settlement.total
    assert sum((locale.parse_amount(r["amount"]) for r in charges), Decimal("0")) == settlement.total
    assert {r["order-id"] for r in charges if r["transaction-type"] == "Order"} == {
        t.order_id for t in settlement.transactions if t.transaction_type == "Shipment"
    }
    assert all(r["settlement-id"] == settlement.settlement_id and r["total-amount"] == "" for r in charges)


def test_settlement_report_shows_the_deliberate_fee_difference(emu: Running) -> None:
    """The order whose fee differs has a Commission row equal to FeeDifference.settlement_amount in the report."""
    ledger = build_ledger(shipped_orders(24), seller_id=DEFAULT_SELLER_ID, seed=5, discrepancies=True)
    [(order_id, difference)] = ledger.discrepancies.fee_differs.items()
    settlement = next(s for s in ledger.settlements() if order_id in {t.order_id for t in s.transactions})

    report = rows("".join(settlement_lines(settlement)))[1:]
    locale = report_locale(settlement.marketplace_id)

    commission = sum(
        (
            locale.parse_amount(r["amount"])
            for r in report
            if r["order-id"] == order_id and r["amount-description"] == "Commission"
        ),
        Decimal("0"),
    )
    assert commission == difference.settlement_amount


def test_european_settlements_use_comma_decimals_and_dotted_dates() -> None:
    """amazon.de reports write 1.234,56 and 02.06.2025 12:00:00 UTC; amazon.co.uk dots decimals but dotted dates."""
    de_orders = shipped_orders(15, seed=21, marketplace_id=DE)
    ledger = build_ledger(de_orders, seller_id=DEFAULT_SELLER_ID)
    settlement = ledger.settlements()[0]

    summary, first = rows("".join(settlement_lines(settlement)))[:2]

    assert "," in summary["total-amount"]
    assert summary["settlement-start-date"].endswith(" UTC")
    assert summary["settlement-start-date"][2] == "."
    assert first["posted-date"] == settlement.transactions[0].posted.strftime("%d.%m.%Y")
    assert "." not in first["amount"] or "," in first["amount"]


@pytest.mark.parametrize(
    ("marketplace_id", "amount", "grouped", "plain"),
    [
        (US, Decimal("1234.5"), "1,234.50", "1234.50"),
        (UK, Decimal("-0.5"), "-0.50", "-0.50"),
        (DE, Decimal("1234.56"), "1.234,56", "1234,56"),
        ("A13V1IB3VIYZZH", Decimal("-12345.6"), "-12.345,60", "-12345,60"),
        ("A1VC38T7YXB528", Decimal("1234.5"), "1,235", "1235"),
    ],
)
def test_marketplace_number_formats(marketplace_id: str, amount: Decimal, grouped: str, plain: str) -> None:
    """Amounts follow the marketplace: grouping and decimal marks, yen without decimals; parse_amount reads both."""
    locale = report_locale(marketplace_id)

    assert locale.amount(amount) == grouped
    assert locale.amount(amount, grouping=False) == plain
    assert locale.parse_amount(grouped) == locale.parse_amount(plain)


def test_marketplace_date_formats() -> None:
    """US writes 2025-06-02 12:00:00 UTC, DE 02.06.2025 12:00:00 UTC, JP 2025/06/02 12:00:00 UTC."""
    assert report_locale(US).date_time(NOW) == "2025-06-02 12:00:00 UTC"
    assert report_locale(DE).date_time(NOW) == "02.06.2025 12:00:00 UTC"
    assert report_locale("A1VC38T7YXB528").date_time(NOW) == "2025/06/02 12:00:00 UTC"
    with pytest.raises(ValueError, match="no report format"):
        report_locale("XXXX")


def test_synthetic_settlement_has_exactly_the_rows_asked_for_adding_up_to_the_total() -> None:
    """100,000 rows after header and summary; the summary's total equals the sum of the rows' amounts."""
    locale = report_locale(US)
    lines = synthetic_settlement_lines(100_000, start=NOW - timedelta(days=14))
    header, summary = next(lines), next(lines)

    amounts = [locale.parse_amount(line.split("\t")[14]) for line in lines]

    assert header.rstrip("\n").split("\t") == list(SETTLEMENT_COLUMNS)
    assert len(amounts) == 100_000
    assert sum(amounts, Decimal("0")) == locale.parse_amount(summary.split("\t")[4])


def test_a_yen_settlement_totals_its_rows_as_written() -> None:
    """Yen have no decimals: each row is rounded as written, and the summary is the sum of those rows."""
    locale = report_locale("A1VC38T7YXB528")
    lines = synthetic_settlement_lines(2_000, marketplace_id="A1VC38T7YXB528", start=NOW - timedelta(days=14))
    _, summary = next(lines), next(lines)

    amounts = [locale.parse_amount(line.split("\t")[14]) for line in lines]

    assert sum(amounts, Decimal("0")) == locale.parse_amount(summary.split("\t")[4])


def test_synthetic_settlement_streams_in_constant_memory() -> None:
    """Rows are produced one at a time: peak memory while reading 10,000 rows stays far below their size."""
    tracemalloc.start()
    size = sum(len(line) for line in synthetic_settlement_lines(10_000, start=NOW - timedelta(days=14)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < size / 20


def test_large_reports_are_compressed_while_streaming(emu: Running) -> None:
    """add_report_lines gzips a 20,000-row stream into the document; the download inflates to every row."""
    lines = synthetic_settlement_lines(20_000, start=NOW - timedelta(days=14))
    report_id = emu.emulator.reports.add_report_lines(
        SETTLEMENT, lines, marketplace_ids=[US], data_start=NOW - timedelta(days=14), data_end=NOW
    )
    document_id = emu.seller.get(f"{REPORTS}/{report_id}").json()["reportDocumentId"]

    document, content = download(emu, document_id)

    assert document["compressionAlgorithm"] == "GZIP"
    assert gzip.decompress(content.content).decode("utf-8").count("\n") == 20_002


# --- the all-orders flat file --------------------------------------------------------------------------------


def test_all_orders_report_rows_follow_the_order() -> None:
    """Per item: id, ISO dates, report statuses, SKU, quantity, prices with a dot; pending orders have no prices."""
    factory = OrderFactory(seed=30)
    shipped = factory.order(status="SHIPPED", fulfilled_by="AMAZON", marketplace_id=DE, item_count=1).to_api()
    pending = factory.order(
        status="PENDING", fulfilled_by="MERCHANT", marketplace_id=US, item_count=1
    ).to_api()

    table = rows("".join(all_orders_lines([shipped, pending])))

    assert list(table[0]) == list(ORDER_COLUMNS)
    by_id = {r["amazon-order-id"]: r for r in table}
    done, waiting = by_id[shipped["orderId"]], by_id[pending["orderId"]]
    item = shipped["orderItems"][0]
    assert (done["order-status"], done["fulfillment-channel"], done["item-status"]) == (
        "Shipped",
        "Amazon",
        "Shipped",
    )
    assert done["sales-channel"] == "Amazon.de"
    assert done["sku"] == item["product"]["sellerSku"]
    assert (
        Decimal(done["item-price"])
        == Decimal(item["product"]["price"]["unitPrice"]["amount"]) * item["quantityOrdered"]
    )
    assert "," not in done["item-price"]
    assert done["purchase-date"] == shipped["createdTime"].replace("Z", "+00:00")
    assert (waiting["order-status"], waiting["item-price"], waiting["currency"]) == ("Pending", "", "")
