"""A small threaded HTTP server that the SP-API and Dataverse emulators build on.

It owns what both emulators share: binding to 127.0.0.1 on an ephemeral port, request counters per
operation (the benchmark's "requests per order" comes from here), and fault injection (throttling, 5xx,
slow responses, dropped connections) so tests can prove the connectors survive a hostile network.
Each emulator only routes requests and says what its throttling and error bodies look like.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from sandbox.services import Service, serve_in_background, shut_down


class Fault(StrEnum):
    THROTTLE = "throttle"  # 429 with the service's own throttling body and headers
    SERVER_ERROR = "server_error"  # 500
    UNAVAILABLE = "unavailable"  # 503
    SLOW = "slow"  # answer normally, but only after FaultPlan.slow_seconds
    DROP = "drop"  # read the request, then close the socket without answering
    LOST_RESPONSE = "lost_response"  # carry the request out, then close the socket: the caller can't know


@dataclass(frozen=True)
class EmulatorRequest:
    method: str
    path: str  # percent-decoding is left to the emulator: OData keys need the raw form
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # header names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def query_list(self, name: str) -> list[str]:
        """A list parameter given either comma-separated or repeated (Amazon accepts both)."""
        return [item for value in self.query.get(name, []) for item in value.split(",") if item]


@dataclass
class EmulatorResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> EmulatorResponse:
        return cls(
            status,
            json.dumps(payload).encode("utf-8"),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )


@dataclass
class FaultPlan:
    """Which requests fail and how. Scripted faults go first, then `rate` draws at random."""

    rate: float = 0.0
    kinds: tuple[Fault, ...] = (Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP)
    operations: frozenset[str] | None = None  # None: every operation may fail
    slow_seconds: float = 2.0
    retry_after_seconds: int = 1
    seed: int | None = None
    _scripted: deque[Fault] = field(default_factory=deque)
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def script(self, *faults: Fault) -> None:
        """The next requests (of the targeted operations) get exactly these faults, in order."""
        with self._lock:
            self._scripted.extend(faults)

    def next_fault(self, operation: str) -> Fault | None:
        if self.operations is not None and operation not in self.operations:
            return None
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            if self.rate > 0 and self._random.random() < self.rate:
                return self._random.choice(self.kinds)
        return None


class RequestCounter:
    """Thread-safe counts of requests by operation name, faulted requests included."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, operation: str, fault: Fault | None) -> None:
        with self._lock:
            self._counts[operation] += 1
            if fault is not None:
                self._faults[fault.value] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def faults(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults)

    def total(self, operations: Iterable[str] | None = None) -> int:
        with self._lock:
            if operations is None:
                return sum(self._counts.values())
            return sum(self._counts[name] for name in operations)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._faults.clear()


class HttpEmulator(Service):
    """Base class: subclasses implement `operation_of`, `handle` and the two error-body hooks."""

    server_name: ClassVar[str] = "emulator"

    def __init__(self) -> None:
        self.faults = FaultPlan()
        self.requests = RequestCounter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what a concrete emulator provides -------------------------------------------------------
    def operation_of(self, request: EmulatorRequest) -> str:
        raise NotImplementedError

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        raise NotImplementedError

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        raise NotImplementedError

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        raise NotImplementedError

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.server_name} is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        handler = type("BoundHandler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = serve_in_background(self._server, self.server_name)
        return self

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None

    # --- request pipeline ---------------------------------------------------------------------------
    def dispatch(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Count, maybe inject a fault, then route. None means: drop the connection."""
        operation = self.operation_of(request)
        fault = self.faults.next_fault(operation)
        self.requests.record(operation, fault)
        if fault is Fault.DROP:
            return None
        if fault is Fault.THROTTLE:
            return self.throttled_response(request)
        if fault is Fault.SERVER_ERROR:
            return self.server_error_response(request, 500)
        if fault is Fault.UNAVAILABLE:
            return self.server_error_response(request, 503)
        if fault is Fault.SLOW:
            time.sleep(self.faults.slow_seconds)
        response = self.handle(request)
        return None if fault is Fault.LOST_RESPONSE else response


class _Handler(BaseHTTPRequestHandler):
    emulator: ClassVar[HttpEmulator]
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services offer
    # Headers and body go out in separate sends; with Nagle's algorithm and the client's delayed ACK that
    # costs ~40 ms per response on a keep-alive connection.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = EmulatorRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.emulator.dispatch(request)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must surface as a 500, not a hang
            response = EmulatorResponse.json(500, {"error": f"emulator failure: {type(exc).__name__}: {exc}"})
        if response is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry order ids and keys, and tests read the logs for leaks."""
