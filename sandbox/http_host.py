"""A stand-in for the Functions host's HTTP front end: real HTTP requests on 127.0.0.1 become
`azure.functions.HttpRequest` objects for the app's registered HTTP functions, and their `HttpResponse`s go
back over the wire, so a browser or any HTTP client talks to the functions as it would in Azure.

What it does the way the host does:
- routes: `/<routePrefix>/<route>` (prefix `api`, host.json `extensions.http.routePrefix`), templates with
  `{name}`, `{name:int}`, `{name:guid}`, `{name?}` and `{*rest}`; literal segments are matched case-insensitively
  and win over parameters (`failures/replay` before `failures/{id}`); a method the function does not accept
  is a 404, as the host answers;
- keys: `function` and `admin` auth levels need the key in `?code=` or the `x-functions-key` header (401
  otherwise); `anonymous` needs none. One key here stands for the function, host and master keys;
- the call: the trigger's argument gets the request (query parameters, headers, route parameters, body), a
  `context` argument gets an invocation id; an exception is a bare 500, as the host hides it from callers.

Several apps may be served at once (the first whose route matches wins): tests put a fake API in front of
function_app's own routes.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import re
import secrets
import threading
import types
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox import functions_host

log = logging.getLogger(__name__)

ROUTE_PREFIX = "api"
MAX_BODY = 1024 * 1024  # the host accepts 100 MB; nothing the sandbox sends comes near 1 MB
_CONSTRAINTS = {
    "int": r"-?\d+",
    "guid": r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}",
    "alpha": r"[A-Za-z]+",
}


@dataclass(frozen=True)
class HttpRoute:
    """One HTTP function as the host routes to it."""

    app: Any
    function_name: str
    template: str
    methods: frozenset[str]  # empty: every method
    auth_level: str  # anonymous, function, admin
    arg_name: str
    pattern: re.Pattern[str]

    @property
    def precedence(self) -> tuple[int, int]:
        """Routes with more literal segments first, then those with fewer parameters."""
        segments = [part for part in self.template.split("/") if part]
        literals = sum(1 for part in segments if not part.startswith("{"))
        return (-literals, len(segments) - literals)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items() if value is not None}

    def call(self, request: Any) -> Any:
        function = functions_host.registered_functions(self.app)[self.function_name]
        arguments: dict[str, Any] = {self.arg_name: request}
        if "context" in inspect.signature(function).parameters:
            arguments["context"] = types.SimpleNamespace(
                invocation_id=str(uuid.uuid4()), function_name=self.function_name, trace_context=None
            )
        return function(**arguments)


def http_routes(app: Any) -> list[HttpRoute]:
    """The app's HTTP-triggered functions, from the bindings the host indexes."""
    routes = []
    for function in functions_host.indexed_functions(app):
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        template = (getattr(trigger, "route", None) or function.get_function_name()).strip("/")
        methods = frozenset(str(getattr(method, "value", method)).upper() for method in trigger.methods or ())
        auth_level = str(getattr(trigger.auth_level, "value", trigger.auth_level) or "function").lower()
        routes.append(
            HttpRoute(
                app,
                function.get_function_name(),
                template,
                methods,
                auth_level,
                trigger.name,
                route_pattern(template),
            )
        )
    return routes


def route_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a route template (ASP.NET Core route syntax, the subset Functions apps use)."""
    parts = []
    for segment in (part for part in template.split("/") if part):
        parameter = re.fullmatch(r"\{(\*?)(\w+)(?::(\w+))?(\?)?\}", segment)
        if parameter is None:
            parts.append("/" + re.escape(segment))
            continue
        catch_all, name, constraint, optional = parameter.groups()
        value = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", r"[^/]+")
        parts.append(f"(?:/(?P<{name}>{value})){'?' if optional or catch_all else ''}")
    return re.compile("".join(parts) or "/?", re.IGNORECASE)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class LocalHttpHost:
    """`with LocalHttpHost(function_app.app) as host:` serves the app's HTTP functions at `host.base_url`."""

    def __init__(self, *apps: Any, function_key: str | None = None, route_prefix: str = ROUTE_PREFIX) -> None:
        self.function_key = function_key or secrets.token_urlsafe(30)
        self.route_prefix = route_prefix.strip("/")
        self.routes = sorted(
            (route for app in apps for route in http_routes(app)),
            key=lambda route: route.precedence,
        )  # sorted() is stable: among equals, earlier apps win
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request served
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> LocalHttpHost:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http host", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalHttpHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the HTTP host is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, route: str, *, with_key: bool = False) -> str:
        """The URL of `route` (e.g. "dashboard"), with `?code=<key>` when asked."""
        url = f"{self.base_url}/{self.route_prefix}/{route.lstrip('/')}"
        return f"{url}?code={self.function_key}" if with_key else url

    # --- one request --------------------------------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        """What the host answers to `method target` (target: path and query string)."""
        split = urlsplit(target)
        prefix = f"/{self.route_prefix}"
        if not split.path.lower().startswith(prefix.lower() + "/"):
            return _text(404, "Not Found")
        path = split.path[len(prefix) :]
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        for route, route_params in self._candidates(path):
            if route.methods and method not in route.methods:
                continue
            if not self._authorized(route, query, headers):
                return _text(401, "Unauthorized")
            return self._invoke(route, method, target, headers, query, route_params, body)
        return _text(404, "Not Found")

    def _candidates(self, path: str) -> Iterable[tuple[HttpRoute, dict[str, str]]]:
        for route in self.routes:
            params = route.match(path)
            if params is not None:
                yield route, params

    def _authorized(self, route: HttpRoute, query: dict[str, str], headers: dict[str, str]) -> bool:
        if route.auth_level == "anonymous":
            return True
        given = query.get("code") or _header(headers, "x-functions-key") or ""
        return hmac.compare_digest(given.encode(), self.function_key.encode())

    def _invoke(
        self,
        route: HttpRoute,
        method: str,
        target: str,
        headers: dict[str, str],
        query: dict[str, str],
        route_params: dict[str, str],
        body: bytes,
    ) -> HttpAnswer:
        import azure.functions as func

        request = func.HttpRequest(
            method,
            self.base_url + target,
            headers=headers,
            params=query,
            route_params=route_params,
            body=body,
        )
        try:
            response = route.call(request)
        except Exception:
            log.exception("HTTP function %s failed", route.function_name)
            return HttpAnswer(500, [], b"")
        if response is None:
            return HttpAnswer(204, [], b"")
        answer_headers = [(name, value) for name, value in response.headers.items()]
        if not any(name.lower() == "content-type" for name, _ in answer_headers) and response.mimetype:
            answer_headers.append(("Content-Type", f"{response.mimetype}; charset={response.charset}"))
        return HttpAnswer(response.status_code, answer_headers, response.get_body() or b"")


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _text(status: int, text: str) -> HttpAnswer:
    return HttpAnswer(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def _handler_for(host: LocalHttpHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(_text(413, "Payload Too Large"))
                return
            body = self.rfile.read(length) if length else b""
            answer = host.answer(self.command, self.path, dict(self.headers.items()), body)
            host.requests.append((self.command, urlsplit(self.path).path, answer.status))
            self._send(answer)

        def _send(self, answer: HttpAnswer) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815 - http.server names them

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: `requests` records what was served."""

    return Handler
