"""Security: a full sandbox run logs no buyer data, tokens or secrets, and dead-letter descriptions carry none."""

from __future__ import annotations

import logging

import pytest

from sandbox.amazon_samples import pii_values
from sandbox.harness import Sandbox
from sandbox.scenario import run_scenario

pytestmark = pytest.mark.sockets


def test_a_full_run_leaks_no_personal_data_tokens_or_secrets(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log record of the demo scenario (all loggers, DEBUG and up) and every dead-letter description is
    searched for the seeded buyers' names, emails, streets and phones, the LWA refresh token, client secret
    and every access token issued."""
    caplog.set_level(logging.DEBUG)
    log = run_scenario(sandbox)

    secrets = {sandbox.spapi.refresh_token, sandbox.spapi.client_secret, *sandbox.spapi.issued_access_tokens}
    personal = set().union(*(pii_values(order) for order in log.orders.values()))
    assert personal, "the scenario should carry personal data to look for"
    assert sandbox.spapi.issued_access_tokens, "the run should have used an access token"

    text = "\n".join(record.getMessage() for record in caplog.records)
    text += "\n".join(f"{letter.reason} {letter.description}" for letter in sandbox.queue.dead_letters)
    leaked = sorted(value for value in personal | secrets if value and value in text)
    assert leaked == []
    assert len(caplog.records) >= 5, "the run should have logged something to search"


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
