"""The Table Storage circuit breaker over real sockets: Azurite behind a proxy that can cut it off and restore it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from sandbox.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from sandbox.tcp_proxy import TcpProxy
from shared.breakers import BreakerPolicy, CircuitBreaker, CircuitOpen, State
from shared.state.store import ConcurrentUpdate, NotificationRef, StateStore, StateUnavailable
from shared.state.watermarks import ProgressRow, ProgressStore
from tests.fakes import FakeClock

pytestmark = pytest.mark.sockets

POLICY = BreakerPolicy(failures=3, cooldown=30.0, max_cooldown=120.0)
APPLIED = NotificationRef("notification-1", datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "113-1")


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[TcpProxy]:
    with TcpProxy(azurite.port) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("Table Storage", POLICY, clock=clock, wall_clock=clock.wall)


def table_client(table_name: str, *, port: int, key: str = ACCOUNT_KEY) -> TableServiceClient:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )
    # No SDK-level retries here: they would only make each failed call take seconds (the deployed store
    # keeps them; the breaker then records the outcome after them, as it does after our own retries).
    return TableServiceClient.from_connection_string(connection, retry_total=0)


@pytest.fixture
def store(proxy: TcpProxy, breaker: CircuitBreaker, table_name: str) -> Iterator[StateStore]:
    """A StateStore reaching Azurite through the proxy, with one notification already recorded."""
    store = StateStore(
        table_client(table_name, port=proxy.port).get_table_client(table_name), breaker=breaker
    )
    store.mark_notifications([APPLIED])
    yield store
    store.close()


def storage_down(proxy: TcpProxy, store: StateStore, breaker: CircuitBreaker) -> None:
    """Storage cut off (connections reset): calls fail until the breaker has opened."""
    proxy.cut()
    for _ in range(POLICY.failures):
        with pytest.raises(StateUnavailable):
            store.seen_notifications([APPLIED])
    assert breaker.snapshot().state is State.OPEN


def test_an_outage_opens_the_breaker_and_further_calls_send_nothing(
    proxy: TcpProxy, store: StateStore, breaker: CircuitBreaker
) -> None:
    """Storage cut off: after 3 failed calls, lookups raise CircuitOpen without opening a connection."""
    storage_down(proxy, store, breaker)
    requests, refused = store.requests, proxy.refused
    for _ in range(5):
        with pytest.raises(CircuitOpen) as error:
            store.seen_notifications([APPLIED])
    assert (store.requests, proxy.refused) == (requests, refused)
    assert error.value.dependency == "Table Storage"
    assert error.value.retry_after == pytest.approx(POLICY.cooldown)
    assert breaker.snapshot().last_failure == "StateStorageUnavailable"


def test_after_the_cooldown_one_probe_goes_through_and_then_traffic_flows(
    proxy: TcpProxy, store: StateStore, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Storage back: no call until the cool-down ends; then the probe reads what was stored before the outage,
    and writes follow."""
    storage_down(proxy, store, breaker)
    proxy.restore()
    requests = store.requests
    with pytest.raises(CircuitOpen):
        store.seen_notifications([APPLIED])
    assert store.requests == requests
    clock.advance(POLICY.cooldown)
    assert store.seen_notifications([APPLIED]) == {"notification-1"}  # the probe
    assert store.requests == requests + 1
    assert breaker.snapshot().state is State.CLOSED
    claimed = store.claim(None, "113-2", content_hash="h", owner="m")
    assert store.get_order("113-2") == claimed


def test_a_failed_probe_reopens_the_breaker_for_longer(
    proxy: TcpProxy, store: StateStore, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Storage still unreachable at the probe: one call fails, then calls fail fast for twice the cool-down."""
    storage_down(proxy, store, breaker)
    clock.advance(POLICY.cooldown)
    with pytest.raises(StateUnavailable):
        store.seen_notifications([APPLIED])
    with pytest.raises(CircuitOpen) as error:
        store.seen_notifications([APPLIED])
    assert error.value.retry_after == pytest.approx(2 * POLICY.cooldown)


def test_the_progress_store_shares_the_table_storage_breaker(
    proxy: TcpProxy, store: StateStore, breaker: CircuitBreaker, table_name: str
) -> None:
    """Opened by the state store's failures, the breaker also stops the progress store's calls (one dependency)."""
    service = table_client(table_name, port=proxy.port)
    progress = ProgressStore(service.get_table_client(table_name), breaker=breaker)
    storage_down(proxy, store, breaker)
    refused = proxy.refused
    with pytest.raises(CircuitOpen):
        progress.read("orders-sweep", "watermark")
    assert proxy.refused == refused
    progress.close()


def test_lost_races_on_progress_rows_do_not_open_the_breaker(
    azurite: Azurite, breaker: CircuitBreaker, table_name: str
) -> None:
    """Two runs saving the same progress row: the loser's ConcurrentUpdate, however often, is no outage."""
    progress = ProgressStore(
        table_client(table_name, port=azurite.port).get_table_client(table_name), breaker=breaker
    )
    progress.save(ProgressRow("orders-sweep", "watermark", {"position": 1}))
    for _ in range(2 * POLICY.failures):
        with pytest.raises(ConcurrentUpdate):
            progress.save(ProgressRow("orders-sweep", "watermark", {"position": 2}))  # created already
    assert breaker.snapshot().state is State.CLOSED
    assert breaker.snapshot().failures == 0
    progress.close()


def test_lost_etag_races_do_not_open_the_breaker(state_store: StateStore) -> None:
    """Another instance keeps winning the checkpoint (ConcurrentUpdate): the storage service works, so the
    breaker stays closed however often it happens."""
    first = state_store.claim(None, "113-3", content_hash="h", owner="a")
    for _ in range(2 * state_store.breaker.policy.failures):
        with pytest.raises(ConcurrentUpdate):
            state_store.claim(None, "113-3", content_hash="h", owner="b")  # it exists already
    state_store.claim(first, "113-3", content_hash="h2", owner="a")
    with pytest.raises(ConcurrentUpdate):
        state_store.claim(first, "113-3", content_hash="h3", owner="b")  # stale ETag
    assert state_store.breaker.snapshot().state is State.CLOSED
    assert state_store.breaker.snapshot().failures == 0


def test_a_refused_account_key_is_an_answer_not_an_outage(
    azurite: Azurite, breaker: CircuitBreaker, table_name: str
) -> None:
    """403 for a wrong key is storage answering: the calls fail, the breaker stays closed."""
    wrong_key = base64.b64encode(b"not the account key").decode()
    service = table_client(table_name, port=azurite.port, key=wrong_key)
    store = StateStore(service.get_table_client(table_name), breaker=breaker)
    for _ in range(2 * POLICY.failures):
        with pytest.raises(StateUnavailable) as error:
            store.seen_notifications([APPLIED])
    assert error.value.status == 403
    assert breaker.snapshot().state is State.CLOSED
    store.close()
