"""Telemetry: off costs nothing, on it scrubs every span, log record and metric attribute before export, and
order sync leaves one span per order that carries the ids of its trail."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from shared import telemetry
from shared.errors import ConfigurationError
from shared.telemetry.names import AMAZON_ORDER_ID, CRM_ID, NOTIFICATION_ID, ORDER_SPAN
from shared.telemetry.orders import OrderTrace, record_orders
from shared.telemetry.setup import configure, entra_client_id
from tests.builders import settings_env
from tests.telemetry_support import Captured

BUYER = "Jane Q. Doe"
EMAIL = "jane.doe@example.com"
STREET = "1200 Pine Street"
TOKEN = "Atza|IwEBIEXAMPLEaccesstoken"
REFRESH = "Atzr|IwEBIEXAMPLErefreshtoken"
SEEDED = (BUYER, EMAIL, STREET, TOKEN, REFRESH)


def leaked(text: str) -> list[str]:
    return [value for value in SEEDED if value in text]


def test_telemetry_off_is_a_no_op_that_never_imports_opentelemetry() -> None:
    """Without an installed backend every call returns at once, and the SDK is not loaded (cold start)."""
    code = (
        "import sys\n"
        "from shared import telemetry\n"
        "telemetry.add(telemetry.SPAPI_CALLS, operation='getOrder')\n"
        "telemetry.record(telemetry.SYNC_LAG, 1.5)\n"
        "with telemetry.span('x', a=1) as s: s.set(b=2)\n"
        "with telemetry.timer_run('orders_sweep'): pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_span_leaves_without_buyer_data_or_tokens_in_its_name_attributes_events_or_status(
    captured: Captured,
) -> None:
    """What a span carries by mistake (an attribute, an exception recorded on it, an HTTP URL with a token)
    is redacted on the way out, while ids and counts stay readable."""

    def write() -> None:
        with telemetry.span("write", orders=2) as span:
            span.set(**{AMAZON_ORDER_ID: "113-1234567-1234567", "note": f"mail {EMAIL}"})
            span.set(**{"url.full": f"https://api.example/?access_token={TOKEN}&x=1"})
            span.set(payload=f'{{"buyerName": "{BUYER}", "addressLine1": "{STREET}"}}')
            raise ValueError(f"could not read {{'name': '{BUYER}'}} refresh_token={REFRESH}")

    with pytest.raises(ValueError, match="could not read"):
        write()

    (exported,) = captured.spans("write")
    assert leaked(captured.text()) == []
    assert exported.attributes[AMAZON_ORDER_ID] == "113-1234567-1234567"
    assert exported.attributes["orders"] == 2
    assert exported.events[0].name == "exception"
    assert "[redacted]" in exported.events[0].attributes["exception.message"]


def test_log_records_leave_without_buyer_data_in_their_body_or_extra_fields(captured: Captured) -> None:
    """A record's message and the fields the OpenTelemetry handler copies from it (`extra`, exception
    details) are both scrubbed."""
    log = logging.getLogger("shared.example")
    log.warning("order for %s", EMAIL, extra={"buyerEmail": EMAIL, "detail": f'"name": "{BUYER}"'})
    try:
        raise KeyError(STREET)
    except KeyError:
        log.exception("lookup failed with token %s", TOKEN)

    assert len(captured.logs()) == 2
    assert leaked(captured.text()) == []


def test_metric_attributes_are_redacted_like_log_text(captured: Captured) -> None:
    """A failure reason that quotes a stranger's text cannot carry an email into a metric dimension."""
    telemetry.add(telemetry.FAILURES, reason=f"Unknown {EMAIL}", outcome="dead_letter")
    telemetry.add(telemetry.FAILURES, 2, reason="UnknownSku", outcome="dead_letter")

    assert leaked(captured.text()) == []
    assert captured.total("amazon_sync.failures", reason="UnknownSku") == 2


def test_a_timer_run_records_its_duration_with_the_outcome(captured: Captured) -> None:
    """A run that raises counts as failed, one that returns as ok; each is a span named after its timer."""
    with telemetry.timer_run("orders_sweep"):
        pass
    with pytest.raises(RuntimeError), telemetry.timer_run("sqs_bridge"):
        raise RuntimeError("down")

    outcomes = {point.attributes["timer"]: point.attributes["outcome"] for point in captured.points()}
    assert outcomes == {"orders_sweep": "ok", "sqs_bridge": "failed"}
    assert [span.name for span in captured.spans()] == ["timer orders_sweep", "timer sqs_bridge"]


def test_a_span_with_a_w3c_parent_joins_the_hosts_trace(captured: Captured) -> None:
    """The Functions host's traceparent makes the app's spans part of the invocation's operation."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with telemetry.span("invocation", parent={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}):
        pass

    (exported,) = captured.spans("invocation")
    assert f"{exported.context.trace_id:032x}" == trace_id


def test_order_traces_become_spans_with_the_trail_ids_and_the_order_metrics(captured: Captured) -> None:
    """A written order's span carries its NotificationIds, CRM id and lag, and counts once as synced; a dead-
    lettered one carries its reason as an error status and is not counted as synced."""
    updated = datetime(2026, 1, 1, tzinfo=UTC)
    record_orders(
        [
            OrderTrace("113-1", "written", ("n-1", "n-2"), "crm-1", amazon_updated=updated),
            OrderTrace("113-2", "dead_lettered", ("n-3",), reason="UnknownSku", description="held"),
        ],
        source="notification",
        started_ns=0,
    )

    written, held = captured.spans(ORDER_SPAN)
    assert (written.attributes[NOTIFICATION_ID], written.attributes[CRM_ID]) == ("n-1,n-2", "crm-1")
    assert written.attributes["sync.lag_seconds"] > 0
    assert held.status.description == "UnknownSku: held"
    assert captured.total("amazon_sync.orders.synced") == 1
    assert [point.count for point in captured.points("amazon_sync.orders.sync_lag")] == [1]


def test_configure_leaves_telemetry_off_without_a_connection_string() -> None:
    """No APPLICATIONINSIGHTS_CONNECTION_STRING: nothing is set up and nothing is imported for it."""
    from shared.config import Settings

    assert configure(Settings(**settings_env())) is False  # type: ignore[arg-type]
    assert not telemetry.enabled()


@pytest.mark.parametrize(
    ("text", "client_id"),
    [
        ("Authorization=AAD;ClientId=0f1e2d3c", "0f1e2d3c"),
        ("Authorization=AAD", None),
        ("authorization=aad ; clientid=x", "x"),
    ],
)
def test_the_authentication_string_names_the_managed_identity(text: str, client_id: str | None) -> None:
    """The deployment's APPLICATIONINSIGHTS_AUTHENTICATION_STRING gives the identity telemetry is sent with."""
    assert entra_client_id(text) == client_id


def test_an_authentication_string_without_entra_id_is_refused() -> None:
    """Anything but Authorization=AAD is a configuration mistake, named at start-up."""
    with pytest.raises(ConfigurationError, match="Authorization=AAD"):
        entra_client_id("InstrumentationKey=abc")
