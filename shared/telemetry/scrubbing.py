"""What leaves the process as telemetry is scrubbed like a log line: no buyer data, token or secret in a span
(name, attributes, events, links, status), a log record (body, attributes) or a metric attribute.

The processors run inside the SDK pipeline before any exporter (they are handed to `configure_azure_monitor`
ahead of its own batch processor), and they reuse the log redaction (`shared.sanitize.public_text`), so one
set of rules covers logs, dead-letter descriptions, HTTP answers and telemetry. Scrubbing at the end of the
span, not where attributes are set, also covers what we do not write ourselves: auto-instrumented HTTP spans
(URLs with query strings), Azure SDK spans, and exception events whose messages and stack traces may quote
what a stranger sent.

A finished span's fields are read-only through the API; the SDK's documented way to change them in a
processor is to replace its private fields in `on_end`, which every processor after this one (the exporter's
batch processor among them) then sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import Attributes

from shared.sanitize import public_text

MAX_ATTRIBUTE = 1_000  # characters of one attribute value
MAX_STACKTRACE = 8_000  # characters of an exception event's stack trace (the log policy's traceback cap)
MAX_BODY = 4_000  # characters of a log record's body (the log policy's message cap)
MAX_NAME = 256
_MULTILINE_KEYS = frozenset({"exception.stacktrace"})


def scrub_value(key: str, value: Any) -> Any:
    """An attribute value fit to leave: text redacted, printable and capped; numbers and booleans as they are;
    sequences element by element."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str | bytes):
        multiline = key in _MULTILINE_KEYS
        return public_text(value, MAX_STACKTRACE if multiline else MAX_ATTRIBUTE, keep_newlines=multiline)
    if isinstance(value, Sequence):
        return tuple(scrub_value(key, item) for item in value)
    return public_text(value, MAX_ATTRIBUTE)


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keys are names we or a library chose; values are what may carry data. A key can hold data too (a
    dict logged as `extra`), so it is redacted as well."""
    return {public_text(key, MAX_NAME): scrub_value(key, value) for key, value in (attributes or {}).items()}


class ScrubbingSpanProcessor(SpanProcessor):
    """Scrubs each span as it ends, before the exporting processors see it (nothing is done on start:
    attributes set later would pass unscrubbed)."""

    def on_end(self, span: ReadableSpan) -> None:
        # Private fields: see the module docstring.
        span._name = public_text(span.name, MAX_NAME)
        span._attributes = _bounded(span.attributes)
        span._events = tuple(
            Event(public_text(event.name, MAX_NAME), _bounded(event.attributes), event.timestamp)
            for event in span.events
        )
        span._links = tuple(Link(link.context, _bounded(link.attributes)) for link in span.links)
        if span.status.description:
            span._status = Status(
                span.status.status_code, public_text(span.status.description, MAX_ATTRIBUTE)
            )


def _bounded(attributes: Attributes) -> BoundedAttributes:
    return BoundedAttributes(attributes=scrub_attributes(attributes), immutable=True)


class ScrubbingLogProcessor(LogRecordProcessor):
    """Scrubs each record's body and attributes before the exporting processors.

    The redaction filter (shared/logging_policy.py) already made the message safe on the way into the
    OpenTelemetry handler; what it does not see are the attributes the handler adds from the record (`extra`
    fields, exception message and stack trace), and records emitted through the OpenTelemetry logs API
    directly."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        if isinstance(record.body, str | bytes):
            record.body = public_text(record.body, MAX_BODY)
        elif record.body is not None:
            record.body = public_text(repr(record.body), MAX_BODY)
        record.attributes = BoundedAttributes(attributes=scrub_attributes(record.attributes), immutable=False)

    def shutdown(self) -> None:
        """Holds nothing."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
