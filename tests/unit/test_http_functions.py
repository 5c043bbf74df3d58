"""The HTTP functions and the resync trigger as the host indexes them (`app.get_functions()` bindings), and
what `serve` answers when a handler fails: problems, never a trace. No sockets."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from shared.errors import ConfigurationError
from shared.http import handlers, serve
from shared.http.exchange import Request, Response
from shared.resilience import RateLimited
from tests.conftest import REPO_ROOT

EXPECTED_HTTP = {
    "resync_start": (["POST"], "resync"),
    "resync_status": (["GET"], "resync/{jobId}"),
    "failures_list": (["GET"], "failures"),
    "failures_replay": (["POST"], "failures/replay"),
    "order_lookup": (["GET"], "orders/{amazonOrderId}"),
    "health": (["GET"], "health"),
    "ops_status": (["GET"], "status"),
}


def bindings() -> dict[str, list[dict[str, Any]]]:
    import function_app
    from sandbox.functions_host import indexed_functions

    return {
        function.get_function_name(): [json.loads(raw) for raw in function.get_raw_bindings()]
        for function in indexed_functions(function_app.app)
    }


def test_every_http_function_is_registered_at_function_level_with_its_methods_and_route() -> None:
    """Every HTTP trigger of the app is at authLevel FUNCTION (none is anonymous), and each operations
    endpoint the README documents exists with its methods and route."""
    found = {}
    for name, declared in bindings().items():
        for binding in declared:
            if binding["type"] == "httpTrigger":
                assert binding["authLevel"] == "FUNCTION", name
                found[name] = (binding["methods"], binding["route"])
    assert {name: found.get(name) for name in EXPECTED_HTTP} == EXPECTED_HTTP


def test_the_resync_trigger_reads_its_queue_from_the_setting_and_settles_explicitly() -> None:
    """The resync function takes batches from %RESYNC_QUEUE% over the identity-based connection and settles
    every message itself (complete, reschedule, abandon, dead-letter)."""
    [trigger] = [binding for binding in bindings()["resync"] if binding["direction"] == "IN"]
    assert trigger["type"] == "serviceBusTrigger"
    assert (trigger["queueName"], trigger["connection"]) == ("%RESYNC_QUEUE%", "ServiceBusConnection")
    assert trigger["cardinality"].lower() == "many"
    assert trigger["autoCompleteMessages"] is False


def test_importing_the_app_loads_none_of_the_http_glue() -> None:
    """Cold start: the HTTP functions are registered, but shared.http (pydantic models, handlers) is imported on
    the first request, not with function_app."""
    probe = (
        "import sys, function_app; function_app.app.get_functions(); "
        "print(sorted(m for m in sys.modules if m.startswith('shared')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# --- serve: what a failing handler becomes -----------------------------------------------------------------
@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """An endpoint "probe" whose handler raises the exception the test puts in the list."""
    raised: list[BaseException] = []

    def handler(request: Request, runtime: Any) -> Response:
        raise raised[0]

    monkeypatch.setitem(handlers.HANDLERS, "probe", handler)
    monkeypatch.setattr("shared.runtime.get_runtime", lambda: None)
    return raised


def call(endpoint: str = "probe") -> Response:
    return serve.serve(
        endpoint,
        method="GET",
        url="https://func.example.net/api/probe?code=secret-key",
        route_params={},
        query={"code": "secret-key"},
        headers={"Content-Type": "application/json"},
        body=b"",
    )


def problem_of(response: Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.body)
    assert body["status"] == response.status
    assert body["instance"] == "/api/probe"
    return body


def test_a_bug_in_a_handler_is_a_500_problem_without_its_message_or_trace(
    failing: list[BaseException],
) -> None:
    """An unexpected exception: 500 about:blank; its text (which could hold anything) stays in the log."""
    failing.append(KeyError("jane.doe@example.com"))
    response = call()
    problem = problem_of(response)
    assert (response.status, problem["type"], problem["title"]) == (
        500,
        "about:blank",
        "Internal Server Error",
    )
    assert "jane.doe" not in response.body.decode()
    assert "Traceback" not in response.body.decode()


def test_passing_trouble_is_a_503_problem_with_retry_after(failing: list[BaseException]) -> None:
    """A transient SyncError (an outage, a quota): 503, its reason as an extension, Retry-After in seconds."""
    failing.append(RateLimited("quota used", retry_after=12.2))
    response = call()
    problem = problem_of(response)
    assert response.status == 503
    assert problem["reason"] == "RateLimited"
    assert response.headers["Retry-After"] == "13"


def test_a_missing_setting_is_a_500_problem_naming_the_setting(failing: list[BaseException]) -> None:
    """ConfigurationError names what to set; the answer says so (settings' names, never their values)."""
    failing.append(ConfigurationError("Dataverse needs DATAVERSE_URL (not set)"))
    response = call()
    problem = problem_of(response)
    assert response.status == 500
    assert problem["type"].endswith("/not-configured")
    assert "DATAVERSE_URL" in problem["detail"]


def test_the_function_key_never_appears_in_an_answer(failing: list[BaseException]) -> None:
    """The request URL carries the key in `code`: a problem's instance is the path only."""
    failing.append(RuntimeError("boom"))
    assert "secret-key" not in call().body.decode()
