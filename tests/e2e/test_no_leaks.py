"""Security: a full sandbox run logs no buyer data, tokens or secrets, neither in messages nor in tracebacks,
and dead-letter descriptions and the product's exceptions carry none."""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sandbox import functions_host
from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification, pii_values
from sandbox.harness import Sandbox
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.scenario import run_money_day, run_scenario, ship_open_orders
from shared.amazon.notifications import MalformedNotification
from shared.errors import SyncError


@pytest.fixture
def exceptions(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Every exception of the run that someone could read later: each SyncError the product creates (raised,
    or kept as an outcome that becomes a settlement description), whatever escapes a function invocation
    (the local host logs only its type, the real one the whole traceback) and whatever a thread leaves
    unhandled."""
    seen: list[BaseException] = []
    create = SyncError.__init__

    def record_created(self: SyncError, *args: Any, **kwargs: Any) -> None:
        create(self, *args, **kwargs)
        seen.append(self)

    registered = functions_host.registered_functions

    def record_escaping(app: Any) -> dict[str, Callable[..., Any]]:
        return {name: _recording(function, seen) for name, function in registered(app).items()}

    thread_hook = threading.excepthook

    def record_unhandled(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            seen.append(args.exc_value)
        thread_hook(args)

    monkeypatch.setattr(SyncError, "__init__", record_created)
    monkeypatch.setattr(functions_host, "registered_functions", record_escaping)
    monkeypatch.setattr(threading, "excepthook", record_unhandled)
    return seen


def _recording(function: Callable[..., Any], seen: list[BaseException]) -> Callable[..., Any]:
    @functools.wraps(function)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            seen.append(exc)
            raise

    return invoke


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """Each record as a log handler writes it: the message, then the formatted exc_info and stack_info."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def exception_text(errors: Iterable[BaseException]) -> str:
    """Each exception with its traceback, and every exception it was raised from or while handling, even
    those `raise ... from None` keeps out of the printed traceback (they are still attached to it)."""
    parts: list[str] = []
    done: set[int] = set()
    pending = list(errors)
    while pending:
        error = pending.pop()
        if id(error) in done:
            continue
        done.add(id(error))
        parts.append("".join(traceback.format_exception(error, chain=False)))
        pending += [linked for linked in (error.__cause__, error.__context__) if linked is not None]
        if isinstance(error, BaseExceptionGroup):
            pending += error.exceptions
    return "\n".join(parts)


def leaked(values: Iterable[str | None], text: str) -> list[str]:
    return sorted(value for value in values if value and value in text)


@pytest.mark.sockets
def test_a_full_run_leaks_no_personal_data_tokens_or_secrets(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, exceptions: list[BaseException]
) -> None:
    """Every log record of the demo scenario with its money day (all loggers, DEBUG and up, with its traceback), every
    dead-letter description and every exception raised or recorded during the run (with the exceptions it
    was raised from) is searched for the seeded buyers' names, emails, streets and phones, the LWA refresh
    token, client secret and every access token issued."""
    caplog.set_level(logging.DEBUG)
    log = run_scenario(sandbox)
    ship_open_orders(sandbox, log)
    run_money_day(sandbox, log)
    failing = _failing_afterwards(sandbox)

    secrets = {sandbox.spapi.refresh_token, sandbox.spapi.client_secret, *sandbox.spapi.issued_access_tokens}
    personal = set().union(*(pii_values(order) for order in [*log.orders.values(), *failing]))
    assert personal, "the scenario should carry personal data to look for"
    assert sandbox.spapi.issued_access_tokens, "the run should have used an access token"

    logs = log_text(caplog.records)
    letters = "\n".join(f"{letter.reason} {letter.description}" for letter in sandbox.queue.dead_letters)
    errors = exception_text(exceptions)
    assert leaked(personal | secrets, logs) == []
    assert leaked(personal | secrets, letters) == []
    assert leaked(personal | secrets, errors) == []
    assert len(caplog.records) >= 5, "the run should have logged something to search"
    raised = {type(error).__name__ for error in exceptions}
    assert raised >= {
        "MalformedNotification",
        "AmazonOrderInvalid",
        "SpApiTransientError",
        "DataverseTransientError",
    }


def _failing_afterwards(sandbox: Sandbox) -> list[SampleOrder]:
    """After the scenario, failures that leave tracebacks: an order whose buyer data Amazon sends in a shape
    we cannot read (dead-lettered AmazonOrderInvalid, raised over a pydantic error about the very fields that
    hold the buyer's name and street), and SP-API and Dataverse failing with 5xx before they recover."""
    factory = OrderFactory(seed=7)
    broken, fine = (
        factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT")
        for _ in range(2)
    )
    api = broken.to_api()
    address = api["recipient"]["deliveryAddress"]
    address["name"], address["addressLine1"] = {"full": broken.address.name}, [broken.address.address_line1]
    sandbox.spapi.put_orders([api, fine.to_api()])
    sandbox.spapi.faults.script(Fault.UNAVAILABLE, Fault.SERVER_ERROR)
    sandbox.dataverse.faults = FaultPlan(operations=frozenset({"batch"}))
    sandbox.dataverse.faults.script(Fault.UNAVAILABLE)
    for order in (broken, fine):
        sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    assert [reason for reason, _ in sandbox.dead_letters()] == ["MalformedNotification", "AmazonOrderInvalid"]
    return [broken, fine]


def test_the_search_reaches_logged_tracebacks_and_exceptions_hidden_by_from_none(
    caplog: pytest.LogCaptureFixture, exceptions: list[BaseException]
) -> None:
    """A value that is only in a logged exception's traceback, or only in the exception a product error was
    raised over with `from None`, is found: the search is not limited to what messages say."""
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError("buyer Jane Q Doe")
    except ValueError:
        logging.getLogger("shared.example").warning("write failed", exc_info=True)
    try:
        try:
            raise KeyError("1200 Pine Street")
        except KeyError:
            raise MalformedNotification("message body is not a notification") from None
    except MalformedNotification:
        pass

    assert "Jane Q Doe" not in caplog.records[0].getMessage()
    assert leaked(["Jane Q Doe"], log_text(caplog.records)) == ["Jane Q Doe"]
    assert leaked(["1200 Pine Street"], exception_text(exceptions)) == ["1200 Pine Street"]


@pytest.mark.sockets
def test_buyer_data_reaches_dynamics_only_as_the_policy_allows(sandbox: Sandbox) -> None:
    """Names only masked, streets, phones and emails not at all (the default PII policy)."""
    log = run_scenario(sandbox)
    stored = repr(
        [
            sandbox.dataverse.records(table)
            for table in ("salesorders", "contacts", "accounts", "salesorderdetails")
        ]
    )
    for order in log.orders.values():
        for value in (order.buyer.name, order.buyer.email, order.address.address_line1, order.address.phone):
            assert value not in stored
