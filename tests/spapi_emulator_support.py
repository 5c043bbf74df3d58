"""Helpers for the SP-API emulator's own tests: a running emulator with an emulated clock, HTTP clients that
hold a seller or a grantless token, and python-amazon-sp-api clients pointed at the emulator."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sp_api.auth import AccessTokenClient, access_token_client

from sandbox.amazon_samples import OrderFactory
from sandbox.spapi_emulator import SpApiEmulator

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
# One TLS context for every httpx client: building one per client costs ~80 ms (the emulator is plain http).
TLS = ssl.create_default_context()


class FakeClock:
    """An injectable UTC clock that tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.moment

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.moment += timedelta(**delta)


@dataclass
class Running:
    """A started emulator, its clock, and clients without a token, with a seller token, with a grantless one."""

    emulator: SpApiEmulator
    clock: FakeClock
    http: httpx.Client
    seller: httpx.Client
    grantless: httpx.Client

    def fresh(self) -> Running:
        """Reset state and clock (one server serves a whole module) and hand out new tokens."""
        self.emulator.reset()
        self.clock.moment = NOW
        self.seller.headers["x-amz-access-token"] = self.emulator.issue_access_token()
        self.grantless.headers["x-amz-access-token"] = self.emulator.issue_grantless_token()
        return self


@contextmanager
def running_emulator(**options: Any) -> Iterator[Running]:
    clock = FakeClock(NOW)
    with SpApiEmulator(now=clock, **options) as emulator:
        clients = [httpx.Client(base_url=emulator.base_url, timeout=5, verify=TLS) for _ in range(3)]
        try:
            yield Running(emulator, clock, *clients).fresh()
        finally:
            for client in clients:
                client.close()


def emulator_fixtures(
    prepare: Callable[[Running], None] | None = None, *, name: str = "emu", **options: Any
) -> tuple[Any, Any]:
    """Two pytest fixtures for a test module: ``<name>_server`` (one emulator per module, stopping one costs
    ~50 ms) and ``<name>`` (that emulator reset, with fresh tokens, then `prepare`d). Assign them at module
    level: ``emu_server, emu = emulator_fixtures()``; `options` go to SpApiEmulator."""

    @pytest.fixture(scope="module", name=f"{name}_server")
    def server_fixture() -> Iterator[Running]:
        with running_emulator(**options) as running:
            yield running

    @pytest.fixture(name=name)
    def emu_fixture(request: pytest.FixtureRequest) -> Running:
        server: Running = request.getfixturevalue(f"{name}_server")
        server.fresh()
        if prepare is not None:
            prepare(server)
        return server

    return server_fixture, emu_fixture


def library_fixtures(prepare: Callable[[SpApiEmulator], None] | None = None) -> tuple[Any, Any]:
    """``server`` and ``emulator`` fixtures for tests that drive the emulator through python-amazon-sp-api
    (no marketplace override from the environment, state reset, then `prepare`d)."""

    @pytest.fixture(scope="module", name="server")
    def server_fixture() -> Iterator[SpApiEmulator]:
        with SpApiEmulator() as emulator:
            yield emulator

    @pytest.fixture(name="emulator")
    def emulator_fixture(server: SpApiEmulator, monkeypatch: pytest.MonkeyPatch) -> SpApiEmulator:
        monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)  # it would override the marketplace
        server.reset()
        if prepare is not None:
            prepare(server)
        return server

    return server_fixture, emulator_fixture


def error_of(response: httpx.Response) -> dict[str, str]:
    """The single entry of an SP-API ErrorList body."""
    body = response.json()
    assert list(body) == ["errors"], body
    assert len(body["errors"]) == 1, body
    error: dict[str, str] = body["errors"][0]
    return error


def shipped_orders(count: int, *, seed: int = 7, **options: Any) -> list[dict[str, Any]]:
    """Full v2026 orders, shipped a few days to weeks before NOW."""
    factory = OrderFactory(seed=seed, start=NOW - timedelta(days=25))
    return [order.to_api() for order in factory.orders(count, status="SHIPPED", **options)]


# --- python-amazon-sp-api pointed at the emulator ------------------------------------------------------


def library_client(
    api_class: type[Any], emulator: SpApiEmulator, *, client_secret: str | None = None, **options: Any
) -> Any:
    """An unmodified library client whose LWA and SP-API calls go to the emulator (US marketplace)."""
    token_client = type(
        "EmulatorTokenClient",
        (AccessTokenClient,),
        {"scheme": "http://", "host": emulator.base_url.removeprefix("http://")},
    )
    client = api_class(
        refresh_token=emulator.refresh_token,
        credentials={
            "lwa_app_id": emulator.client_id,
            "lwa_client_secret": client_secret or emulator.client_secret,
        },
        auth_token_client_class=token_client,
        **options,
    )
    client.endpoint = emulator.base_url
    return client


@contextmanager
def library(api_class: type[Any], emulator: SpApiEmulator, **options: Any) -> Iterator[Any]:
    """`library_client` with the process-wide LWA token caches cleared before and after."""
    forget_library_tokens()
    client = library_client(api_class, emulator, **options)
    try:
        yield client
    finally:
        close_library_client(client)
        forget_library_tokens()


def close_library_client(client: Any) -> None:
    client.close()
    client._auth._transport.close()  # the library never closes its LWA client's connection pool


def forget_library_tokens() -> None:
    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()
