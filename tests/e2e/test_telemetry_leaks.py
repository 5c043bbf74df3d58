"""Telemetry of a full sandbox run, captured in memory through the same scrubbing processors Azure Monitor
gets: a span for every order carrying its trail ids, the custom metrics, and no buyer data, token or secret
in any span (ours and the auto-instrumented HTTP ones), event, attribute, log record or metric."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest

from sandbox.amazon_samples import pii_values
from sandbox.harness import Sandbox
from sandbox.scenario import run_scenario
from shared.telemetry.names import AMAZON_ORDER_ID, CRM_ID, NOTIFICATION_ID, ORDER_SPAN, OUTCOME
from tests.e2e.test_debug_logging_leaks import everything_at_debug  # noqa: F401 - a fixture
from tests.telemetry_support import Captured

pytestmark = pytest.mark.sockets


@pytest.fixture
def http_spans(captured: Captured) -> Iterator[None]:
    """Azure Monitor's HTTP instrumentations (requests for Dataverse, httpx for SP-API) on the capture's
    provider, so the URLs and headers they record are searched too."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider = captured.pipeline.tracer_provider
    RequestsInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    try:
        yield
    finally:
        RequestsInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()


def test_a_full_run_has_a_span_per_order_and_no_personal_data_or_secrets_in_its_telemetry(
    sandbox: Sandbox,
    captured: Captured,
    http_spans: None,
    everything_at_debug: None,  # noqa: F811 - the fixture imported above
) -> None:
    """Every order of the demo scenario has order spans with its NotificationIds (and, once written, its
    CRM id); the metrics count SP-API and Dataverse calls, orders synced, lag and failures by reason; and the
    seeded buyers' names, emails, streets and phones, the LWA refresh token, client secret and every access
    token issued appear nowhere in what was exported, with every logger at DEBUG."""
    log = run_scenario(sandbox)

    spans_by_order = defaultdict(list)
    for span in captured.spans(ORDER_SPAN):
        spans_by_order[span.attributes[AMAZON_ORDER_ID]].append(span)
    assert set(spans_by_order) == set(log.orders)
    for order_id, spans in spans_by_order.items():
        assert all(span.attributes.get(NOTIFICATION_ID) for span in spans), order_id
        written = [span for span in spans if span.attributes[OUTCOME] == "written"]
        assert all(span.attributes.get(CRM_ID) for span in written), order_id
    crm_ids = {row["salesorderid"] for row in sandbox.dataverse.records("salesorders")}
    assert {span.attributes.get(CRM_ID) for span in captured.spans(ORDER_SPAN)} - {None} <= crm_ids

    assert captured.total("amazon_sync.spapi.calls", operation="getOrder") > 0
    assert captured.total("amazon_sync.dataverse.calls", operation="batch") > 0
    assert captured.total("amazon_sync.orders.synced", outcome="written") >= 4
    assert captured.total("amazon_sync.failures", reason="MalformedNotification", outcome="dead_letter") == 1
    assert sum(point.count for point in captured.points("amazon_sync.orders.sync_lag")) >= 4
    assert any(span.name.startswith(("GET", "POST", "PATCH")) for span in captured.spans()), "HTTP spans"
    assert captured.logs(), "log records went through the OpenTelemetry handler"

    secrets = {sandbox.spapi.refresh_token, sandbox.spapi.client_secret, *sandbox.spapi.issued_access_tokens}
    personal = set().union(*(pii_values(order) for order in log.orders.values()))
    assert personal
    assert sorted(value for value in personal | secrets if value in captured.text()) == []
