"""Logging policy: whatever the levels, a protected handler emits no token, secret or buyer data, no control
character and no unbounded line; configure_logging protects the root logger's handlers, now and later."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sp_api.base import ApiResponse

from shared.logging_policy import (
    MAX_LOG_MESSAGE,
    MAX_LOG_TRACEBACK,
    QUIET_LOGGERS,
    REDACTION,
    configure_logging,
    protect,
)

ACCESS_TOKEN = "Atza|IwEBIHeaderToken-123"
REFRESH_TOKEN = "Atzr|IwEBIRefreshToken-456"
CLIENT_SECRET = "amzn1.oa2-cs.v1.client-secret-789"
BUYER = {
    "buyerName": "Jane Example",
    "buyerEmail": "x7k2@marketplace.amazon.com",
    "buyerCompanyName": "Example Widgets GmbH",
}
ADDRESS = {
    "name": "Jane Example",
    "addressLine1": "1 Example Street",
    "addressLine2": "Apartment 4",
    "city": "Seattle",
    "stateOrRegion": "WA",
    "postalCode": "98101",
    "phone": "+1 206 555 0100",
}
PERSONAL = [value for value in (*BUYER.values(), *ADDRESS.values()) if len(value) > 4]


@dataclass
class Capture:
    handler: logging.Handler
    stream: io.StringIO

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    @property
    def text(self) -> str:
        return self.stream.getvalue()


def capturing_handler() -> Capture:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    return Capture(handler, stream)


@pytest.fixture
def capture() -> Iterator[Capture]:
    """A protected handler on the root logger, with the loggers these tests use at DEBUG."""
    captured = capturing_handler()
    protect(captured.handler)
    root = logging.getLogger()
    names = ("sp_api.base.client", "azure.core.pipeline.policies.http_logging_policy", "urllib3", "app")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(captured.handler)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def leaked(text: str) -> list[str]:
    return [value for value in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, *PERSONAL) if value in text]


# --- what a protected handler emits ---------------------------------------------------------------------
def test_sp_api_request_headers_at_debug_lose_the_access_token(capture: Capture) -> None:
    """sp_api.base.client's header line (a child logger's record, seen by the handler's filter) keeps its
    shape but not the token."""
    headers = {
        "host": "sellingpartnerapi-na.amazon.com",
        "user-agent": "python-sp-api-2.1.35",
        "x-amz-access-token": ACCESS_TOKEN,
        "x-amz-date": "20261127T100000Z",
    }
    logging.getLogger("sp_api.base.client").debug("Request Headers: %s", headers)
    assert capture.lines == [
        "sp_api.base.client DEBUG Request Headers: {'host': 'sellingpartnerapi-na.amazon.com', "
        "'user-agent': 'python-sp-api-2.1.35', 'x-amz-access-token': '[redacted]', "
        "'x-amz-date': '20261127T100000Z'}"
    ]


def test_sp_api_response_at_debug_loses_buyer_names_emails_and_addresses(capture: Capture) -> None:
    """The library's pprint of a getOrder response keeps the order id and loses every buyer field."""
    response = ApiResponse(
        payload={
            "order": {
                "orderId": "113-4567890-1234567",
                "buyer": BUYER,
                "recipient": {"deliveryAddress": ADDRESS},
            }
        },
        headers={"x-amzn-RequestId": "req-1"},
    )
    logging.getLogger("sp_api.base.client").debug("Response: %s", response)
    assert leaked(capture.text) == []
    assert "113-4567890-1234567" in capture.text
    assert len(capture.lines) == 1  # pprint's line breaks are escaped


def test_lwa_token_request_data_loses_refresh_token_and_client_secret(capture: Capture) -> None:
    """A Login with Amazon form body logged as a dict or as a form string keeps only harmless fields."""
    log = logging.getLogger("sp_api.base.client")
    data = {
        "grant_type": "refresh_token",
        "client_id": "amzn1.application-oa2-client.1",
        "refresh_token": REFRESH_TOKEN,
        "client_secret": CLIENT_SECRET,
    }
    log.debug("Request Data: %s", data)
    log.debug("Request Data: %s", "&".join(f"{key}={value}" for key, value in data.items()))
    assert leaked(capture.text) == []
    assert capture.text.count("amzn1.application-oa2-client.1") == 2


def test_azure_http_logging_lines_lose_signatures_and_stay_one_line(capture: Capture) -> None:
    """azure-core's multi-line request log becomes one line; a SAS signature and a key do not survive."""
    message = (
        "Request URL: 'https://acct.table.core.windows.net/orders?sv=2021-08-06&sig=AbCd%2BeF%3D&se=2026'\n"
        "Request method: 'GET'\nRequest headers:\n    'Authorization': 'SharedKey acct:c2lnbmF0dXJl'\n"
        "    'x-ms-version': '2019-02-02'\nNo body was attached to the request"
    )
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info(message)
    assert len(capture.lines) == 1
    assert "AbCd%2BeF%3D" not in capture.text
    assert "c2lnbmF0dXJl" not in capture.text
    assert "\\nRequest method: 'GET'\\n" in capture.text


def test_urllib3_request_line_loses_an_email_but_keeps_the_path(capture: Capture) -> None:
    """urllib3's '%s://%s:%s "%s %s %s" %s %s' line with a $filter on an email address."""
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "org.crm.dynamics.com",
        443,
        "GET",
        "/api/data/v9.2/contacts?$filter=emailaddress1 eq 'jane.example@example.com'",
        "HTTP/1.1",
        200,
        None,
    )
    assert capture.lines == [
        "urllib3.connectionpool DEBUG https://org.crm.dynamics.com:443 "
        "\"GET /api/data/v9.2/contacts?$filter=emailaddress1 eq '[redacted]' HTTP/1.1\" 200 None"
    ]


def test_our_own_lines_are_emitted_unchanged(capture: Capture) -> None:
    """Lines with ids and counts pass the filter as they were written."""
    log = logging.getLogger("app")
    log.info("Order %s: transient failure, messages rescheduled: %s", "113-4567890-1234567", "SpApiThrottled")
    log.info("Order sync: %s", "applied=3, duplicate=1, messages=5")
    assert capture.lines == [
        "app INFO Order 113-4567890-1234567: transient failure, messages rescheduled: SpApiThrottled",
        "app INFO Order sync: applied=3, duplicate=1, messages=5",
    ]


def test_a_logged_exception_is_redacted_in_its_traceback(capture: Capture) -> None:
    """The traceback keeps its lines and the exception type; the secret in its message is gone, and the
    exception object is not left on the record for a handler to format again."""
    records: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        records.append(record)
        return True

    capture.handler.addFilter(keep)
    try:
        raise ValueError(f"refused: Authorization: Bearer {ACCESS_TOKEN} for {BUYER['buyerEmail']}")
    except ValueError:
        logging.getLogger("app").exception("Call failed")
    assert leaked(capture.text) == []
    assert capture.lines[0] == "app ERROR Call failed"
    assert capture.lines[1] == "Traceback (most recent call last):"
    assert capture.lines[-1] == "ValueError: refused: Authorization: [redacted] for [redacted]"
    assert records[0].exc_info is None


def test_stack_text_is_redacted(capture: Capture) -> None:
    """stack_info shows source lines; a token written in one of them is redacted."""
    logging.getLogger("app").warning("where am I", stack_info=True)  # Atza|IwEBIHeaderToken-123
    assert "Stack (most recent call last):" in capture.text
    assert ACCESS_TOKEN not in capture.text


def test_a_1_mb_argument_becomes_a_capped_line(capture: Capture) -> None:
    """A megabyte-long field is cut to MAX_LOG_MESSAGE characters with a marker saying how much is gone."""
    logging.getLogger("app").info("Body: %s", "B" * 1024 * 1024)
    (line,) = capture.lines
    message = line.removeprefix("app INFO ")
    assert len(message) <= MAX_LOG_MESSAGE
    assert message.startswith("Body: BBBB")
    assert message.endswith(" chars)")


def test_a_1_mb_exception_message_becomes_a_capped_traceback(capture: Capture) -> None:
    """The exception text is capped at MAX_LOG_TRACEBACK characters."""
    try:
        raise RuntimeError("E" * 1024 * 1024)
    except RuntimeError:
        logging.getLogger("app").exception("boom")
    assert len(capture.text) < MAX_LOG_TRACEBACK + 100


def test_control_characters_cannot_forge_a_log_line_or_a_terminal_escape(capture: Capture) -> None:
    """CR/LF, ESC, NUL and an RTL override in an argument are escaped: one record, one line."""
    logging.getLogger("app").warning(
        "Seller %s refused", "A1\r\napp CRITICAL forged\x1b[2J\x00\u202etxt.exe\ud800"
    )
    assert capture.lines == [
        "app WARNING Seller A1\\r\\napp CRITICAL forged\\x1b[2J\\x00\\u202etxt.exe\\ud800 refused"
    ]


def test_arguments_that_do_not_fit_the_message_are_neither_raised_nor_printed(
    capture: Capture, capsys: pytest.CaptureFixture[str]
) -> None:
    """logging would print the raw arguments to stderr; the filter keeps the message and drops them."""
    logging.getLogger("app").info("two values %s %s", ACCESS_TOKEN)
    assert capture.lines == ["app INFO two values %s %s [the log arguments did not fit this message]"]
    assert ACCESS_TOKEN not in capsys.readouterr().err


# --- configure_logging ----------------------------------------------------------------------------------
@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """configure_logging() as on a fresh worker; the factory, levels and filters are restored after."""
    root = logging.getLogger()
    factory = logging.getLogRecordFactory()
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    unprotected = [handler for handler in [*root.handlers, logging.lastResort] if handler is not None]
    unprotected = [handler for handler in unprotected if REDACTION not in handler.filters]
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for handler in unprotected:
            handler.removeFilter(REDACTION)


@contextmanager
def only_root_handlers(*handlers: logging.Handler) -> Iterator[None]:
    """The root logger with just `handlers` (pytest's own, protected by configure_logging and changing
    records in place, would otherwise redact the record before the handler under test sees it)."""
    root = logging.getLogger()
    others = list(root.handlers)
    for handler in others:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        for handler in others:
            root.addHandler(handler)


def test_configure_logging_protects_the_root_handlers_present_at_start_up(fresh_logging: None) -> None:
    """A handler the host attached before the app started gets the filter."""
    host = capturing_handler()
    root = logging.getLogger()
    root.addHandler(host.handler)
    try:
        configure_logging()
        assert REDACTION in host.handler.filters
    finally:
        root.removeHandler(host.handler)


def test_a_root_handler_added_after_start_up_is_protected_before_its_first_record(
    fresh_logging: None,
) -> None:
    """The record factory notices the new handler and protects it before that handler sees the record."""
    configure_logging()
    late = capturing_handler()
    with only_root_handlers(late.handler):
        logging.getLogger("sp_api.base.client").warning(
            "Request Headers: %s", {"x-amz-access-token": ACCESS_TOKEN}
        )
    assert late.lines == ["sp_api.base.client WARNING Request Headers: {'x-amz-access-token': '[redacted]'}"]


def test_configure_logging_keeps_third_party_loggers_at_warning(fresh_logging: None) -> None:
    """The levels stay the first line of defence."""
    logging.getLogger("sp_api").setLevel(logging.DEBUG)
    configure_logging()
    assert {logging.getLogger(name).level for name in QUIET_LOGGERS} == {logging.WARNING}


def test_configure_logging_again_installs_no_second_watch(fresh_logging: None) -> None:
    """Each sandbox run configures logging again; the record factory is wrapped once."""
    configure_logging()
    first = logging.getLogRecordFactory()
    configure_logging()
    assert logging.getLogRecordFactory() is first
    assert first.make_record is logging.LogRecord  # type: ignore[attr-defined]


def test_last_resort_output_is_protected(fresh_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """With no handler configured at all, the warning Python prints to stderr is redacted too."""
    configure_logging()
    with only_root_handlers():
        logging.getLogger("app").warning("token %s", f"refresh_token={REFRESH_TOKEN}")
    assert capsys.readouterr().err == "token refresh_token=[redacted]\n"
