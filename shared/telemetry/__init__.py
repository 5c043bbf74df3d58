"""Telemetry the flows and connectors call: spans and metrics, off (a no-op) until switched on.

    from shared import telemetry
    telemetry.add(telemetry.SPAPI_CALLS, operation="getOrder")
    with telemetry.span("orders_sweep.page", pages=3) as span:
        span.set(written=12)

Switched on by `shared.telemetry.setup.configure(settings)` when APPLICATIONINSIGHTS_CONNECTION_STRING is
set (the runtime does it on the first invocation), or by `install(...)` with providers of your own (tests).
Off, each call is one global read: OpenTelemetry is not even imported, so a cold start without telemetry
pays nothing, and with telemetry the SDK loads on the first invocation, not when function_app is imported.

Metric attribute values pass through the log redaction like every other text that leaves the app; spans are
scrubbed by the processor that `install` puts in front of the exporters (shared/telemetry/scrubbing.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from shared.sanitize import public_text
from shared.telemetry.names import (
    DATAVERSE_CALLS,
    DATAVERSE_THROTTLES,
    FAILURES,
    ORDERS_SYNCED,
    SPAPI_CALLS,
    SPAPI_THROTTLES,
    SYNC_LAG,
    TIMER,
    TIMER_DURATION,
    Kind,
    Metric,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "DATAVERSE_CALLS",
    "DATAVERSE_THROTTLES",
    "FAILURES",
    "ORDERS_SYNCED",
    "SPAPI_CALLS",
    "SPAPI_THROTTLES",
    "SYNC_LAG",
    "TIMER_DURATION",
    "Backend",
    "SpanHandle",
    "active",
    "add",
    "add_each",
    "enabled",
    "host_trace",
    "install",
    "record",
    "span",
    "timer_run",
    "uninstall",
]

AttributeValue = str | bool | int | float
MAX_DIMENSION = 120  # characters of a metric attribute value (a reason code, an operation name)
SCOPE = "amazon_sync"


class Backend:
    """The OpenTelemetry tracer and meter telemetry goes to, with the app's instruments made once."""

    def __init__(self, tracer: Tracer, meter: Meter) -> None:
        self.tracer = tracer
        self._meter = meter
        self._instruments: dict[str, Any] = {}
        self._lock = threading.Lock()

    def instrument(self, metric: Metric) -> Any:
        found = self._instruments.get(metric.name)
        if found is None:
            with self._lock:
                found = self._instruments.get(metric.name)
                if found is None:
                    make = (
                        self._meter.create_counter
                        if metric.kind is Kind.COUNTER
                        else self._meter.create_histogram
                    )
                    found = make(metric.name, unit=metric.unit, description=metric.description)
                    self._instruments[metric.name] = found
        return found


_backend: Backend | None = None


def install(backend: Backend) -> None:
    """Send telemetry to `backend` from now on (setup.configure builds one; tests pass in-memory ones)."""
    global _backend
    _backend = backend


def uninstall() -> None:
    global _backend
    _backend = None


def active() -> Backend | None:
    return _backend


def enabled() -> bool:
    return _backend is not None


# --- metrics --------------------------------------------------------------------------------------------
def add(metric: Metric, amount: int = 1, **attributes: AttributeValue) -> None:
    """Add to a counter, e.g. `add(SPAPI_CALLS, operation="getOrder")`."""
    backend = _backend
    if backend is not None and amount:
        backend.instrument(metric).add(amount, _dimensions(attributes))


def record(metric: Metric, value: float, **attributes: AttributeValue) -> None:
    """Record one value of a histogram, e.g. `record(SYNC_LAG, 4.2, source="notification")`."""
    backend = _backend
    if backend is not None:
        backend.instrument(metric).record(value, _dimensions(attributes))


def add_each(metric: Metric, counts: Mapping[str, int], key: str, **attributes: AttributeValue) -> None:
    """Add `counts` (a Counter by `key`'s value, e.g. by reason) to a counter."""
    if _backend is not None:
        for value, amount in counts.items():
            add(metric, amount, **{key: value}, **attributes)


def _dimensions(attributes: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    return {
        key: public_text(value, MAX_DIMENSION) if isinstance(value, str) else value
        for key, value in attributes.items()
    }


# --- spans ----------------------------------------------------------------------------------------------
def host_trace(context: object) -> dict[str, str]:
    """The W3C trace headers of a Functions invocation (`context.trace_context`), so the app's spans join
    the host's request in Application Insights (one operation_Id); empty when the host sent none."""
    trace_context = getattr(context, "trace_context", None)
    parent = getattr(trace_context, "trace_parent", None)
    if not isinstance(parent, str) or not parent:
        return {}
    state = getattr(trace_context, "trace_state", None)
    return {"traceparent": parent, **({"tracestate": state} if isinstance(state, str) and state else {})}


class SpanHandle:
    """What `span()` yields: set attributes on the span while it runs (a no-op when telemetry is off)."""

    def __init__(self, otel_span: Span | None = None) -> None:
        self._span = otel_span

    def set(self, **attributes: AttributeValue | None) -> None:
        if self._span is not None:
            for key, value in attributes.items():
                if value is not None:
                    self._span.set_attribute(key, value)


_NO_SPAN = SpanHandle()


@contextmanager
def span(
    name: str, *, parent: Mapping[str, str] | None = None, **attributes: AttributeValue | None
) -> Iterator[SpanHandle]:
    """A span around a block, child of the current one or of `parent` (W3C `traceparent`/`tracestate`
    headers, e.g. the Functions host's trace context, so the app's spans join the host's operation).
    An exception leaving the block is recorded on the span (scrubbed on export) and re-raised."""
    backend = _backend
    if backend is None:
        yield _NO_SPAN
        return
    context = None
    if parent:
        from opentelemetry.propagate import extract

        context = extract(dict(parent))
    clean = {key: value for key, value in attributes.items() if value is not None}
    with backend.tracer.start_as_current_span(name, context=context, attributes=clean) as otel_span:
        yield SpanHandle(otel_span)


@contextmanager
def timer_run(name: str, *, parent: Mapping[str, str] | None = None) -> Iterator[SpanHandle]:
    """One timer function run: a span, and its duration in TIMER_DURATION by outcome (ok, failed)."""
    if _backend is None:
        yield _NO_SPAN
        return
    started = time.perf_counter()
    outcome = "failed"
    try:
        with span(f"timer {name}", parent=parent, **{TIMER: name}) as handle:
            yield handle
        outcome = "ok"
    finally:
        record(TIMER_DURATION, time.perf_counter() - started, **{TIMER: name}, outcome=outcome)
