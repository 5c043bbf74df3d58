"""Telemetry in tests: off unless a test asks for it, and then captured in memory through the same scrubbing
processors Azure Monitor gets (registered in tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared import telemetry


@pytest.fixture(autouse=True)
def telemetry_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sends telemetry anywhere: a developer's APPLICATIONINSIGHTS_CONNECTION_STRING is hidden, and
    whatever a test installed is removed afterwards."""
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", raising=False)
    yield
    telemetry.uninstall()


@dataclass(frozen=True)
class Point:
    metric: str
    attributes: dict[str, Any]
    value: float  # a counter's sum, a histogram's sum
    count: int  # a histogram's count (1 for counters)


class Captured:
    """Spans, metric points and log records the app produced while the capture was installed."""

    def __init__(self) -> None:
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from shared.telemetry.setup import local_pipeline

        self.span_exporter = InMemorySpanExporter()
        self.metric_reader = InMemoryMetricReader()
        self.log_exporter = InMemoryLogRecordExporter()
        self.pipeline = local_pipeline(self.span_exporter, self.metric_reader, self.log_exporter)

    def spans(self, name: str | None = None) -> list[Any]:
        return [span for span in self.span_exporter.get_finished_spans() if name in (None, span.name)]

    def points(self, metric: str | None = None) -> list[Point]:
        from opentelemetry.sdk.metrics.export import NumberDataPoint

        data = self.metric_reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if metric not in (None, item.name):
                        continue
                    for point in item.data.data_points:
                        attributes = dict(point.attributes or {})
                        if isinstance(point, NumberDataPoint):
                            found.append(Point(item.name, attributes, point.value, 1))
                        else:
                            found.append(Point(item.name, attributes, point.sum, point.count))
        return found

    def total(self, metric: str, **attributes: Any) -> float:
        """The sum of a metric over the points whose attributes include `attributes`."""
        return sum(
            point.value
            for point in self.points(metric)
            if all(point.attributes.get(key) == value for key, value in attributes.items())
        )

    def logs(self) -> list[Any]:
        return [item.log_record for item in self.log_exporter.get_finished_logs()]

    def text(self) -> str:
        """Everything captured, as one text to search: span names, attributes, events, statuses, links;
        metric names and attributes; log bodies and attributes."""
        parts: list[str] = []
        for span in self.spans():
            parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
            parts += [f"{event.name} {dict(event.attributes or {})!r}" for event in span.events]
            parts += [repr(dict(link.attributes or {})) for link in span.links]
        parts += [f"{point.metric} {point.attributes!r}" for point in self.points()]
        parts += [f"{record.body!r} {dict(record.attributes or {})!r}" for record in self.logs()]
        return "\n".join(parts)


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Telemetry on, into memory; the log handler Azure Monitor uses on the root logger while the test runs."""
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    from shared.logging_policy import protect

    capture = Captured()
    telemetry.install(capture.pipeline.backend())
    assert capture.pipeline.logger_provider is not None
    handler = LoggingHandler(logger_provider=capture.pipeline.logger_provider)
    protect(handler)  # as the runtime's record factory does for a handler Azure Monitor adds to the root
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
        telemetry.uninstall()
        capture.pipeline.shutdown()
