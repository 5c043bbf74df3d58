"""The health check's rules over scripted probes: side by side, within a time limit, and failures said in
words that name no host. No sockets."""

from __future__ import annotations

import threading

from shared.dataverse.errors import DataverseTransientError
from shared.flows.health import HealthCheck


def test_every_check_passes_and_reports_its_latency() -> None:
    """Two probes that answer: the report is ok, each check ok with its own words and a latency."""
    report = HealthCheck({"a": lambda: "fine", "b": lambda: "also fine"}, timeout=5).run()
    assert report.ok
    assert [(c.name, c.ok, c.detail) for c in report.checks] == [
        ("a", True, "fine"),
        ("b", True, "also fine"),
    ]
    assert all(c.latency_ms >= 0 for c in report.checks)


def test_a_failure_names_its_reason_and_status_never_its_message() -> None:
    """A connector error carrying a URL: the detail is its reason and status only; an SDK error its type."""

    def dataverse() -> str:
        raise DataverseTransientError(
            "Dataverse whoami failed with 503 at https://contoso.crm.dynamics.com/api/data", status=503
        )

    def service_bus() -> str:
        raise ConnectionError("sb-contoso.servicebus.windows.net refused")

    report = HealthCheck({"dataverse": dataverse, "service_bus": service_bus}, timeout=5).run()
    assert not report.ok
    assert [(c.name, c.ok, c.detail) for c in report.checks] == [
        ("dataverse", False, "DataverseUnavailable (503)"),
        ("service_bus", False, "ConnectionError"),
    ]


def test_a_check_that_hangs_fails_at_the_time_limit_while_the_others_report() -> None:
    """Probes run side by side: one that never answers fails after the limit, the fast one still passes."""
    release = threading.Event()

    def hangs() -> str:
        release.wait(10)
        return "late"

    try:
        report = HealthCheck({"stuck": hangs, "quick": lambda: "ok"}, timeout=0.2).run()
    finally:
        release.set()
    checks = {check.name: check for check in report.checks}
    assert (checks["stuck"].ok, checks["stuck"].detail) == (False, "no answer within 0.2s")
    assert checks["quick"].ok
