"""Security: with every logger at DEBUG (the first move when debugging in production), the handlers the app
protects emit no buyer data, token or secret during the whole demo scenario."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator

import pytest

from sandbox.amazon_samples import pii_values
from sandbox.harness import Sandbox
from sandbox.scenario import run_scenario
from shared import logging_policy
from shared.logging_policy import REDACTION

pytestmark = pytest.mark.sockets


class RecordText(logging.Filter):
    """Keeps the text of every record it sees: message, arguments, exception and stack."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not fit its message
            message = str(record.msg)
        exception = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        self.texts.append(
            "\n".join((message, repr(record.args), exception, record.exc_text or "", record.stack_info or ""))
        )
        return True


class Capture(logging.Handler):
    """What a handler emits: the formatted line, and the record's message, arguments and exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.unfiltered = RecordText()  # runs before the redaction filter: what the record held
        self.addFilter(self.unfiltered)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(
            "\n".join((self.format(record), record.getMessage(), repr(record.args), record.exc_text or ""))
        )


def joined_literals(text: str) -> str:
    """pprint (sp_api's response log) splits a long string into adjacent literals over several lines,
    'Jane ' 'Doe': joined again, a split value is found too (a newline may be escaped as \\n)."""
    return re.sub(r"""['"](?:\s|\\n)*['"]""", "", text)


@pytest.fixture
def everything_at_debug(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger and every logger at DEBUG, none disabled; the levels are restored after."""
    import sp_api.base.client  # noqa: F401 - it sets its own level when imported: import it before changing

    monkeypatch.setattr(logging_policy, "QUIET_LOGGERS", ())  # a later configure_logging() changes nothing
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    logging.disable(logging.NOTSET)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    try:
        yield
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


@pytest.fixture
def capture(sandbox: Sandbox, everything_at_debug: None) -> Iterator[Capture]:
    """A handler the host adds to the root logger after the app configured logging, placed first so that
    it sees each record before any other handler does."""
    handler = Capture()
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_a_debug_run_of_every_logger_emits_no_personal_data_tokens_or_secrets(
    sandbox: Sandbox, capture: Capture
) -> None:
    """Every record of the demo scenario at DEBUG, as the protected handler emits it (formatted line,
    message, arguments, traceback), is searched for the seeded buyers' names, emails, streets and phones,
    every access token issued, the LWA refresh token and client secret; the same records before the filter
    carried some of them, so the search had something to find."""
    log = run_scenario(sandbox)

    secrets = {sandbox.spapi.refresh_token, sandbox.spapi.client_secret, *sandbox.spapi.issued_access_tokens}
    personal = set().union(*(pii_values(order) for order in log.orders.values()))
    searched = {value for value in secrets | personal if value}
    emitted = joined_literals("\n".join(capture.texts))
    unfiltered = joined_literals("\n".join(capture.unfiltered.texts))

    assert REDACTION in capture.filters, "configure_logging's watch protects a root handler added later"
    assert len(capture.texts) >= 500, "DEBUG records of every library should have been emitted"
    assert any(token in unfiltered for token in sandbox.spapi.issued_access_tokens)
    assert any(value in unfiltered for value in personal)
    assert sorted(value for value in searched if value in emitted) == []
