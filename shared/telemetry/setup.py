"""Switching telemetry on: Azure Monitor (Application Insights) in Azure, in-memory pipelines in tests and
the benchmark. Either way the scrubbing processors come first, ahead of any exporter.

azure-monitor-opentelemetry and the OpenTelemetry SDK are imported here, inside the functions: importing them
takes longer than importing the whole app (see the README's benchmark), and a worker that never sends
telemetry should not pay for them at all.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import telemetry
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from shared.config import Settings

log = logging.getLogger(__name__)

_configured = False
_lock = threading.Lock()


def configure(settings: Settings) -> bool:
    """Send spans and metrics (and, with TELEMETRY_LOGS, log records) to Application Insights when
    APPLICATIONINSIGHTS_CONNECTION_STRING is set; once per process. True when telemetry is on."""
    global _configured
    with _lock:
        if _configured or not settings.applicationinsights_connection_string:
            return telemetry.enabled()
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics, trace

        from shared.telemetry.scrubbing import ScrubbingLogProcessor, ScrubbingSpanProcessor

        configure_azure_monitor(
            connection_string=settings.applicationinsights_connection_string,
            credential=entra_credential(settings.applicationinsights_authentication_string),
            span_processors=[ScrubbingSpanProcessor()],
            log_record_processors=[ScrubbingLogProcessor()],
            # The Functions host already forwards every log record to Application Insights; sending them
            # again through OpenTelemetry would store each twice (TELEMETRY_LOGS: host.json telemetryMode).
            disable_logging=not settings.telemetry_logs,
        )
        telemetry.install(
            telemetry.Backend(trace.get_tracer(telemetry.SCOPE), metrics.get_meter(telemetry.SCOPE))
        )
        _configured = True
        log.info("Telemetry: spans and metrics go to Application Insights")
        return True


def entra_client_id(authentication_string: str) -> str | None:
    """The managed identity's client id in APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    (`Authorization=AAD;ClientId=<id>`); None for the system-assigned identity (`Authorization=AAD`)."""
    pairs: dict[str, str] = {}
    for part in authentication_string.split(";"):
        key, separator, value = part.partition("=")
        if part.strip() and not separator:
            raise ConfigurationError("APPLICATIONINSIGHTS_AUTHENTICATION_STRING: expected key=value pairs")
        if separator:
            pairs[key.strip().lower()] = value.strip()
    if pairs.get("authorization", "").upper() != "AAD":
        raise ConfigurationError(
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING must say Authorization=AAD (Entra ID authentication)"
        )
    return pairs.get("clientid") or None


def entra_credential(authentication_string: str | None) -> Any:
    """The managed identity telemetry is sent with (Application Insights with local auth off), or None to send
    with the connection string's key alone."""
    if not authentication_string:
        return None
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=entra_client_id(authentication_string))


# --- in-process pipelines (tests, benchmark) ------------------------------------------------------------
@dataclass(frozen=True)
class LocalPipeline:
    """Providers wired like the Azure Monitor ones (scrubbing first, then the exporter), for in-memory runs."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider | None

    def backend(self) -> telemetry.Backend:
        return telemetry.Backend(
            self.tracer_provider.get_tracer(telemetry.SCOPE), self.meter_provider.get_meter(telemetry.SCOPE)
        )

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        if self.logger_provider is not None:
            self.logger_provider.shutdown()


def local_pipeline(
    spans: SpanExporter, metrics: MetricReader, logs: LogRecordExporter | None = None
) -> LocalPipeline:
    """Providers that scrub, then export synchronously to `spans`, `metrics` and `logs`."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from shared.telemetry.scrubbing import ScrubbingLogProcessor, ScrubbingSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(ScrubbingSpanProcessor())
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = None
    if logs is not None:
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(ScrubbingLogProcessor())
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return LocalPipeline(tracer_provider, MeterProvider(metric_readers=[metrics]), logger_provider)
