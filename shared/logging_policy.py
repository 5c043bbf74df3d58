"""Logging rules for the whole app: no secret, no buyer data and no unbounded text reaches a log line,
whatever the levels.

Two lines of defence, both set up by `configure_logging()` (the runtime calls it on the first invocation):

1. Levels. Third-party loggers that print secrets or personal data are kept at WARNING: python-amazon-sp-api
   logs request headers (the LWA access token) and response bodies (buyer names and addresses) at DEBUG;
   azure-core's HTTP logging policy logs URLs and headers at INFO; urllib3 and httpx log every URL.
2. A redaction filter (`RedactingFilter`) on the handlers, for the day someone raises a level while
   debugging in production. Every record a protected handler emits has its message (arguments merged in),
   exception text and stack text passed through `shared.sanitize.public_text`: secrets and buyer data
   become [redacted], control characters are escaped (no forged lines, no terminal escapes), and the text
   is capped (`MAX_LOG_MESSAGE`, `MAX_LOG_TRACEBACK`), so a 1 MB field never becomes a 1 MB log line.
   The record is changed in place, so the handlers after the first see the safe version too. Our own lines
   carry ids and counts only; for them the filter costs a few microseconds (`python -m tests.bench.logging_cost`).

Why on handlers, and how the Functions host's handlers get it:
- A filter on a logger sees only the records logged on that very logger, not those of its children
  (`sp_api.base.client` propagates to the root logger's handlers without passing the root's filters); a
  filter on a handler sees every record the handler emits.
- The Python worker attaches its gRPC handler (which forwards to the host and Application Insights) to the
  root logger before it loads function_app.py, and may add handlers later: OpenTelemetry's when Application
  Insights telemetry is switched on, its console handler again after a gRPC failure. So
  `configure_logging()` puts the filter on every root handler present, and installs a log-record factory
  that, each time a record is made (before any handler sees it), compares the root logger's handler list
  with the one it last saw and puts the filter on any newcomer. That is one list comparison per record, and
  it lives here; installing again at the start of each invocation would miss a handler added during one,
  and every trigger would have to remember to do it.
- Handlers on other loggers are not watched: `protect(handler)` puts the filter on one (the sandbox, tests,
  a handler of your own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.sanitize import as_text, public_text

QUIET_LOGGERS = (
    "sp_api",
    "httpx",
    "httpcore",
    "urllib3",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.identity",
    "azure.servicebus",
    "uamqp",
)
MAX_LOG_MESSAGE = 4_000  # characters of a record's message, arguments merged in
MAX_LOG_TRACEBACK = 8_000  # characters of its exception or stack text


def configure_logging() -> None:
    """Quiet the chatty third-party loggers and protect the root logger's handlers, now and later."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    protect_root_handlers()
    protect(logging.lastResort)  # speaks (WARNING and up, to stderr) when no handler is configured at all
    _watch_root_handlers()


class _SafeMessage(str):
    """A record message the filter already made safe: a record passes the filters of every handler."""


class RedactingFilter(logging.Filter):
    """Makes each record safe to emit: redacted, printable and capped message, exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, _SafeMessage):
            return True
        record.msg = _SafeMessage(public_text(_message_of(record), MAX_LOG_MESSAGE))
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        # Handlers that format the exception object themselves (OpenTelemetry's) would undo the redaction;
        # formatters print exc_text without it.
        record.exc_info = None
        if record.exc_text:
            record.exc_text = public_text(record.exc_text, MAX_LOG_TRACEBACK, keep_newlines=True)
        if record.stack_info:
            record.stack_info = public_text(record.stack_info, MAX_LOG_TRACEBACK, keep_newlines=True)
        return True


REDACTION = RedactingFilter()
_FORMATTER = logging.Formatter()


def protect(handler: logging.Handler | None) -> None:
    """Put the redaction filter on `handler` (once)."""
    if handler is not None and REDACTION not in handler.filters:
        handler.addFilter(REDACTION)


def protect_root_handlers() -> None:
    for handler in list(logging.getLogger().handlers):
        protect(handler)


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - arguments that do not fit the format: logging would print them raw
        return f"{as_text(record.msg)} [the log arguments did not fit this message]"


class _RootHandlerWatch:
    """A log-record factory that protects root handlers added since the last record was made."""

    def __init__(self, make_record: Callable[..., logging.LogRecord]) -> None:
        self.make_record = make_record
        self._seen: list[logging.Handler] = []

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        handlers = logging.root.handlers
        if handlers != self._seen:  # handlers compare by identity
            protect_root_handlers()
            self._seen = list(handlers)
        return self.make_record(*args, **kwargs)


def _watch_root_handlers() -> None:
    """Install the watch once; a factory installed after it (OpenTelemetry's) calls it in turn."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RootHandlerWatch):
        logging.setLogRecordFactory(_RootHandlerWatch(factory))
