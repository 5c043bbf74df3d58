"""Fakes for unit tests.

- HTTP transports that replay scripted (status, headers, body) answers and record requests;
- in-memory stand-ins for what OrderSync is built from: the Orders API, the state store (with Table Storage's
  ETag concurrency), the CRM catalog and the CRM's sales orders. They keep the real translation and request
  building (Amazon JSON -> canonical order, plan -> change set), so only the I/O is fake.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter

from shared.amazon.errors import SpApiNotFound
from shared.amazon.order_translation import AmazonOrderInvalid, to_canonical
from shared.dataverse.batch import MAX_OPERATIONS, ChangeSet
from shared.dataverse.changesets import OrderInCrm, OrderWritten, order_changeset
from shared.dataverse.errors import DataverseError
from shared.errors import SyncError
from shared.model.applied import AppliedOrder
from shared.model.crm import CLOSED_STATECODES, CrmState, Lookups, OrderWritePlan, ProductRef
from shared.model.order import Order
from shared.state.store import Claim, ConcurrentUpdate, NotificationRef, OrderCheckpoint, PendingWrite

Answer = tuple[int, dict[str, str], Any] | Exception


class ScriptedAdapter(BaseAdapter):
    """A requests adapter answering from a script; an Exception entry is raised instead of answering."""

    def __init__(self, *answers: Answer, default: Answer | None = None) -> None:
        super().__init__()
        self.answers: deque[Answer] = deque(answers)
        self.default = default
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        answer = self.answers.popleft() if self.answers else self.default
        if answer is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        if isinstance(body, bytes):
            response._content = body
        elif body is None:
            response._content = b""
        else:
            response._content = json.dumps(body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def no_sleep() -> Callable[[float], None]:
    return RecordingSleep()


# --- Amazon's Orders API ---------------------------------------------------------------------------------
@dataclass
class SearchCall:
    """One searchOrders call: the window asked for and how many pages were read from it."""

    last_updated_after: datetime
    last_updated_before: datetime | None
    max_pages: int | None
    pages: int = 0


class FakeOrdersApi:
    """OrdersApi over Amazon order JSON (v2026-01-01) kept by order id. getOrder and searchOrders translate it
    as the connector does, so a malformed order fails the way a real one would; each call spends a token of
    its operation's counter, and search pages are read one at a time, only as far as the caller iterates."""

    def __init__(
        self, *, get_order_tokens: float = 30, search_tokens: float = 20, page_size: int = 100
    ) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.get_order_tokens_available = get_order_tokens
        self.search_tokens_available = search_tokens
        self.page_size = page_size
        self.failures: dict[str, SyncError] = {}  # order id -> what getOrder raises for it
        self.search_failure: SyncError | None = (
            None  # what searchOrders raises, from page `search_failure_page` on
        )
        self.search_failure_page = 1
        self.get_order_calls: list[str] = []
        self.searches: list[SearchCall] = []
        self._lock = threading.Lock()  # getOrder is called from several threads

    def put(self, *orders: Mapping[str, Any]) -> None:
        for order in orders:
            self.orders[str(order["orderId"])] = dict(order)

    def get_order(self, order_id: str) -> Order:
        with self._lock:
            self.get_order_calls.append(order_id)
            self.get_order_tokens_available -= 1
        failure = self.failures.get(order_id)
        if failure is not None:
            raise failure
        if order_id not in self.orders:
            raise SpApiNotFound(f"order {order_id} not found")
        return to_canonical(self.orders[order_id])

    def search_orders(
        self,
        *,
        last_updated_after: datetime,
        last_updated_before: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[Order | AmazonOrderInvalid]:
        call = SearchCall(last_updated_after, last_updated_before, max_pages)
        self.searches.append(call)
        found = sorted(
            (
                order
                for order in self.orders.values()
                if _in_window(order, last_updated_after, last_updated_before)
            ),
            key=_last_updated,
        )
        for start in range(0, max(len(found), 1), self.page_size):
            if max_pages is not None and call.pages >= max_pages:
                return
            call.pages += 1
            self.search_tokens_available -= 1
            if self.search_failure is not None and call.pages >= self.search_failure_page:
                raise self.search_failure
            for order in found[start : start + self.page_size]:
                try:
                    yield to_canonical(order)
                except AmazonOrderInvalid as exc:
                    yield exc


def _last_updated(order: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(order["lastUpdatedTime"])).astimezone(UTC)


def _in_window(order: Mapping[str, Any], after: datetime, before: datetime | None) -> bool:
    updated = _last_updated(order)
    return after <= updated and (before is None or updated <= before)


# --- processing state --------------------------------------------------------------------------------------
class FakeStateStore:
    """StateStore in a dict, with Table Storage's concurrency: each checkpoint write is conditional on the
    ETag it was read with (or, for a first claim, on the row not existing yet) and gives the row a new ETag;
    a write that lost its race gets ConcurrentUpdate. `failures` makes a method raise (an outage)."""

    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.rows: dict[str, OrderCheckpoint] = {}
        self.notifications: dict[str, NotificationRef] = {}
        self.failures: dict[str, Exception] = {}  # method name -> what it raises (an outage, a crash)
        self.on_read: list[Callable[[], None]] = []  # run on each get_order: another instance at work
        self.calls: Counter[str] = Counter()
        self._clock = clock
        self._etags = itertools.count(1)

    def put(self, checkpoint: OrderCheckpoint) -> OrderCheckpoint:
        """Store a row as someone else (an earlier run, another instance) wrote it."""
        stored = replace(checkpoint, etag=self._new_etag())
        self.rows[checkpoint.order_id] = stored
        return stored

    # notification dedupe
    def seen_notifications(self, notifications: Iterable[NotificationRef]) -> set[str]:
        self._call("seen_notifications")
        return {ref.notification_id for ref in notifications if ref.notification_id in self.notifications}

    def mark_notifications(self, notifications: Iterable[NotificationRef]) -> None:
        self._call("mark_notifications")
        self.notifications.update((ref.notification_id, ref) for ref in notifications)

    # order checkpoints
    def get_order(self, order_id: str) -> OrderCheckpoint | None:
        self._call("get_order")
        for action in self.on_read:
            action()
        return self.rows.get(order_id)

    def get_orders(self, order_ids: Iterable[str]) -> dict[str, OrderCheckpoint]:
        self._call("get_orders")
        return {order_id: self.rows[order_id] for order_id in order_ids if order_id in self.rows}

    def claim(
        self, current: OrderCheckpoint | None, order_id: str, *, content_hash: str, owner: str
    ) -> OrderCheckpoint:
        self._call("claim")
        return _one(self._claim(Claim(current, order_id, content_hash, owner)))

    def claim_all(self, claims: Sequence[Claim]) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        self._call("claim_all")
        return {claim.order_id: self._claim(claim) for claim in claims}

    def commit_all(
        self, commits: Sequence[tuple[OrderCheckpoint, AppliedOrder]]
    ) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        self._call("commit_all")
        return {
            claimed.order_id: self._save(replace(claimed, applied=applied, pending=None), create=False)
            for claimed, applied in commits
        }

    def release(self, claimed: OrderCheckpoint) -> OrderCheckpoint:
        self._call("release")
        return _one(self._save(replace(claimed, pending=None), create=False))

    def expire_claim(self, claimed: OrderCheckpoint) -> OrderCheckpoint:
        self._call("expire_claim")
        assert claimed.pending is not None
        return _one(self._save(replace(claimed, pending=replace(claimed.pending, since=None)), create=False))

    def _claim(self, claim: Claim) -> OrderCheckpoint | ConcurrentUpdate:
        base = claim.current or OrderCheckpoint(order_id=claim.order_id)
        pending = PendingWrite(claim.content_hash, claim.owner, self._clock())
        return self._save(replace(base, pending=pending), create=claim.current is None)

    def _save(self, checkpoint: OrderCheckpoint, *, create: bool) -> OrderCheckpoint | ConcurrentUpdate:
        stored = self.rows.get(checkpoint.order_id)
        lost = stored is not None if create else stored is None or stored.etag != checkpoint.etag
        if lost:
            return ConcurrentUpdate(f"order {checkpoint.order_id}: checkpoint changed by another instance")
        saved = replace(checkpoint, etag=self._new_etag())
        self.rows[checkpoint.order_id] = saved
        return saved

    def _new_etag(self) -> str:
        return f'W/"{next(self._etags)}"'

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        failure = self.failures.get(name)
        if failure is not None:
            raise failure


def _one(result: OrderCheckpoint | ConcurrentUpdate) -> OrderCheckpoint:
    if isinstance(result, ConcurrentUpdate):
        raise result
    return result


# --- Dataverse -----------------------------------------------------------------------------------------------
class FakeCatalog:
    """CrmCatalog over fixed reference data: currency ids by ISO code, price list ids by name, products by SKU."""

    def __init__(
        self,
        *,
        currencies: Mapping[str, str] | None = None,
        price_lists: Mapping[str, str] | None = None,
        products: Mapping[str, ProductRef] | None = None,
    ) -> None:
        self.currency_ids = dict(currencies or {})
        self.price_list_ids = dict(price_lists or {})
        self.products = dict(products or {})
        self.failure: SyncError | None = None  # what every lookup raises (Dataverse down)
        self.requests: list[
            tuple[set[str], set[str], set[str]]
        ] = []  # currencies, price lists, SKUs asked for

    def lookups(
        self, *, currencies: Iterable[str], price_lists: Iterable[str], skus: Iterable[str]
    ) -> Lookups:
        wanted = (set(currencies), set(price_lists), set(skus))
        self.requests.append(wanted)
        if self.failure is not None:
            raise self.failure
        codes, names, wanted_skus = wanted
        return Lookups(
            currency_ids={code: self.currency_ids[code] for code in codes if code in self.currency_ids},
            price_list_ids={name: self.price_list_ids[name] for name in names if name in self.price_list_ids},
            products={sku: self.products[sku] for sku in wanted_skus if sku in self.products},
        )


@dataclass
class CrmSalesOrder:
    """What Dataverse holds for one Amazon order."""

    salesorder_id: str
    state: CrmState


class FakeCrmOrders:
    """CrmOrders over an in-memory CRM. `locate` reads the CRM only when asked to (as the connector does for
    addressable keys); `write` builds each order's change set with the connector's own `order_changeset`, so
    the salesorder's state moves exactly as the real requests would move it, and refuses to change a closed
    (canceled, fulfilled, invoiced) salesorder, as Dataverse does."""

    max_operations = MAX_OPERATIONS

    def __init__(self) -> None:
        self.salesorders: dict[str, CrmSalesOrder] = {}  # Amazon order id -> the CRM's salesorder
        self.failures: dict[str, SyncError] = {}  # Amazon order id -> the error its change set gets
        self.located: list[tuple[str, bool]] = []  # (order id, read_state) per locate
        self.written: list[tuple[OrderWritePlan, ChangeSet]] = []  # change sets that succeeded
        self.batches = 0
        self._guids = itertools.count(1)

    @property
    def written_ids(self) -> list[str]:
        return [plan.order_id for plan, _ in self.written]

    def locate(self, plan: OrderWritePlan, *, known_state: CrmState | None, read_state: bool) -> OrderInCrm:
        self.located.append((plan.order_id, read_state))
        stored = self.salesorders.get(plan.order_id)
        if not read_state:
            return OrderInCrm(known_state)
        if stored is None:
            return OrderInCrm(None)
        return OrderInCrm(stored.state, {plan.salesorder.identity: stored.salesorder_id})

    def write(self, orders: Sequence[tuple[OrderWritePlan, OrderInCrm]]) -> list[OrderWritten | SyncError]:
        self.batches += 1
        results: list[OrderWritten | SyncError] = []
        for plan, crm in orders:
            stored = self.salesorders.get(plan.order_id)
            failure = self.failures.get(plan.order_id)
            if failure is None and stored is not None and stored.state.statecode in CLOSED_STATECODES:
                failure = DataverseError(
                    f"salesorder of {plan.order_id} is closed and cannot be changed", status=400
                )
            if failure is not None:
                results.append(failure)
                continue
            changeset, state = order_changeset(plan, crm)
            if stored is None:
                stored = self.salesorders[plan.order_id] = CrmSalesOrder(self._new_guid(), state)
            stored.state = state
            self.written.append((plan, changeset))
            results.append(OrderWritten(state, stored.salesorder_id))
        return results

    def _new_guid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._guids):012d}"


class FakeClock:
    """Monotonic seconds that only move when a test moves them, and the matching wall-clock time."""

    EPOCH = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> datetime:
        return self.EPOCH + timedelta(seconds=self.now)
