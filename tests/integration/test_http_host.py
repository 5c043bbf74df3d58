"""The local HTTP host answers real HTTP the way the Functions host does: routes, keys, methods, failures;
and function_app's dashboard function served through it carries its key and its security headers."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import azure.functions as func
import pytest

import function_app
from sandbox.http_host import LocalHttpHost

pytestmark = pytest.mark.sockets


def probe_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="items/{itemId}", methods=["GET"])
    def item(req: func.HttpRequest) -> func.HttpResponse:
        body = {
            "itemId": req.route_params["itemId"],
            "q": req.params.get("q"),
            "agent": req.headers.get("x-probe"),
        }
        return func.HttpResponse(json.dumps(body), mimetype="application/json")

    @app.route(route="items/special", methods=["GET"])
    def special(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("special")

    @app.route(route="echo", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        return func.HttpResponse(
            req.get_body(), status_code=201, headers={"x-invocation": context.invocation_id}
        )

    @app.route(route="broken", methods=["GET"])
    def broken(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("secret detail")

    return app


@pytest.fixture(scope="module")
def host() -> Iterator[LocalHttpHost]:
    with LocalHttpHost(probe_app(), function_app.app, function_key='k"<key>') as running:
        yield running


def fetch(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - http only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local host
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_route_and_query_parameters_and_headers_reach_the_function(host: LocalHttpHost) -> None:
    """`items/{itemId}` gets its decoded route value, the query string and the request headers."""
    status, _, body = fetch(
        host.url("items/a%2Fb") + "?q=1", headers={"x-functions-key": host.function_key, "x-probe": "p"}
    )
    assert (status, json.loads(body)) == (200, {"itemId": "a/b", "q": "1", "agent": "p"})


def test_a_literal_route_wins_over_a_parameter_and_matching_ignores_case(host: LocalHttpHost) -> None:
    """`items/special` is not taken for an item id, whatever the case of the path."""
    status, _, body = fetch(host.url("ITEMS/Special", with_key=True))
    assert (status, body) == (200, b"special")


@pytest.mark.parametrize("key", [None, "wrong"])
def test_a_function_level_route_refuses_a_missing_or_wrong_key(host: LocalHttpHost, key: str | None) -> None:
    """401 without the key in ?code= or x-functions-key, and the function is not called."""
    status, _, _ = fetch(host.url("items/1"), headers={"x-functions-key": key} if key else {})
    assert status == 401


def test_an_anonymous_route_needs_no_key_and_gets_a_context(host: LocalHttpHost) -> None:
    """The body goes in, the status and headers come back; `context` carries an invocation id."""
    status, headers, body = fetch(host.url("echo"), method="POST", body=b"hello")
    assert (status, body) == (201, b"hello")
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-invocation"])


def test_a_method_the_route_does_not_accept_and_an_unknown_route_are_404(host: LocalHttpHost) -> None:
    """As the host answers: no route for that method."""
    assert fetch(host.url("echo"))[0] == 404
    assert fetch(host.url("nothing", with_key=True))[0] == 404


def test_a_function_that_raises_is_a_bare_500(host: LocalHttpHost) -> None:
    """The exception's text never reaches the caller."""
    status, _, body = fetch(host.url("broken", with_key=True))
    assert (status, body) == (500, b"")


def test_the_dashboard_carries_the_key_from_the_header_escaped_with_its_security_headers(
    host: LocalHttpHost,
) -> None:
    """Opened with x-functions-key (no ?code=), the page holds that key in its meta tag, HTML-escaped, and is
    served uncached, without referrer, under a CSP that allows only its own inline style and script."""
    status, headers, body = fetch(host.url("dashboard"), headers={"x-functions-key": host.function_key})
    page = body.decode()
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '<meta name="function-key" content="k&quot;&lt;key&gt;">' in page
    assert (headers["Cache-Control"], headers["Referrer-Policy"]) == ("no-store", "no-referrer")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+';", policy)
    assert "https://" not in page.split("<script>")[1], "the page loads nothing from another host"
