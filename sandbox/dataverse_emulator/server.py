"""DataverseEmulator: the Dataverse Web API (`/api/data/v9.2/`, or v9.1 as on-premises serves it) on 127.0.0.1.

This module puts the parts together and owns what is per request: who is calling (callers.py), the request as
one transaction, the emulated time of key index jobs, and handing the events of committed writes to the sink
once the lock is released. Routing lives in routing.py. Every request runs under the store's lock, so a change
set is atomic for concurrent callers too.

Hooks for tests and the sandbox (all take the lock):
    records / get_by_key / seed / load_seed            rows
    create_table / create_attribute / create_key / create_relationship / key_status / finish_key_indexes /
    fail_key_index                                     definitions, with the Web API's JSON bodies
    add_user / add_application_user / add_token        callers
    events (.sink, .delivered, .undelivered, .use_shape)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from sandbox.dataverse_seed import provision_solution, seed_records
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse, HttpEmulator

from . import errors
from .batch import Transaction
from .callers import (
    INTEGRATION_USER_ID,
    SYSTEM_CALLER,
    SYSTEM_USER_ID,
    AdfsTokens,
    Authenticator,
    Caller,
    RequestContext,
    StaticTokens,
    TokenValidator,
    resolve_caller,
)
from .events import EventPipeline
from .events import messages as event_messages
from .metadata import Catalog, KeyIndexTiming, KeyStatus
from .metadata.routes import MetadataRoutes
from .responses import error_response
from .routing import DEFAULT_PAGE_SIZE, Router
from .schema import metadata_id
from .service import Service
from .solutions import Solutions
from .store import Store
from .tables import build_tables
from .tables.platform import COMPONENT_ATTRIBUTE, COMPONENT_ENTITY, COMPONENT_ENTITY_KEY
from .values import new_id

ENTRA_AUTHORIZE = "https://login.microsoftonline.com/common/oauth2/authorize"
ORGANIZATION_ID = "2e0f4b8c-5a61-4d0e-9c3b-7f1a2d6e8b90"


class FederationService(TokenValidator, Protocol):
    """What on_premises() needs of an AD FS (sandbox.adfs_emulator.AdfsEmulator): its URL and token checks."""

    @property
    def base_url(self) -> str: ...


class DataverseEmulator(HttpEmulator):
    server_name: ClassVar[str] = "dataverse-emulator"

    def __init__(
        self,
        *,
        prefix: str = "new_",
        bearer_token: str | None = None,
        authenticator: Authenticator | None = None,
        authorization_uri: str = ENTRA_AUTHORIZE,
        api_version: str = "v9.2",
        default_page_size: int = DEFAULT_PAGE_SIZE,
        key_index_timing: KeyIndexTiming | None = None,
    ) -> None:
        """`prefix`: the publisher prefix load_seed() provisions the sync's columns with. Without a
        `bearer_token` or an `authenticator`, anonymous requests act as the integration user."""
        super().__init__()
        self.prefix = prefix
        self.api_version = api_version  # "v9.1" for an on-premises org
        self.service_root_path = f"/api/data/{api_version}"
        self.authorization_uri = authorization_uri
        tokens = {bearer_token: INTEGRATION_USER_ID} if bearer_token else {}
        self.authenticator: Authenticator = authenticator or StaticTokens(
            tokens, anonymous_user=None if bearer_token else INTEGRATION_USER_ID
        )
        self.store = Store(build_tables())
        self.tables = self.store.tables
        self.service = Service(self.store, self.service_root_path)
        self.catalog = Catalog(self.store, key_index_timing or KeyIndexTiming())
        self.solutions = Solutions(self.service)
        self.events = EventPipeline(self.service, self._organization_host)
        self.router = Router(
            self.service,
            MetadataRoutes(self.catalog, self.solutions, lambda: self.service_root),
            self._transaction,
            lambda: self.service_root,
            default_page_size,
        )
        self._install_platform_rows()

    @classmethod
    def on_premises(cls, adfs: FederationService, resource: str, **options: Any) -> DataverseEmulator:
        """An on-premises org: the v9.1 Web API, callers authenticated by tokens `adfs` issues for `resource`
        (the org URL its relying party trust names), acting as the application user of the token's appid."""
        emulator = cls(
            api_version="v9.1", authorization_uri=f"{adfs.base_url}/adfs/oauth2/authorize", **options
        )
        emulator.authenticator = AdfsTokens(adfs, resource, emulator.application_user)
        return emulator

    @property
    def service_root(self) -> str:
        """`http://127.0.0.1:<port>/api/data/v9.2` (no trailing slash)."""
        return self.base_url + self.service_root_path

    def _organization_host(self) -> str:
        return urlsplit(self.base_url).netloc if self._server is not None else "localhost"

    def _install_platform_rows(self) -> None:
        with self.store.lock:
            users = self.tables["systemusers"]
            resolve = self.service.resolver(None)
            for user_id, first, last in (
                (SYSTEM_USER_ID, None, "SYSTEM"),
                (INTEGRATION_USER_ID, "#", "Integration"),
            ):
                self.service.create(
                    users,
                    {"systemuserid": user_id, "firstname": first, "lastname": last},
                    resolve,
                    trusted=True,
                    notify=False,
                )
            self.service.create(
                self.tables["organizations"],
                {"organizationid": ORGANIZATION_ID, "name": "Sandbox"},
                resolve,
                trusted=True,
                notify=False,
            )
            event_messages.install(self.service)
            self.catalog.table_listeners.append(lambda table: event_messages.add_filters(self.service, table))

    # --- rows ---------------------------------------------------------------------------------------------
    def records(self, entity_set: str) -> list[dict[str, Any]]:
        """Deep copies of every stored row of `entity_set`: columns by logical name, lookups as their target's
        id (plus the lookup's `...@Microsoft.Dynamics.CRM.lookuplogicalname` annotation)."""
        with self.store.lock:
            return copy.deepcopy(self.store.rows(entity_set))

    def get_by_key(self, entity_set: str, **key: Any) -> dict[str, Any] | None:
        """The row whose columns equal `key` (primary id or any columns; text compared case-insensitively)."""
        with self.store.lock:
            table = self.tables[entity_set]
            if set(key) == {table.primary_id}:
                row = self.store.get(entity_set, str(key[table.primary_id]))
            else:
                row = self.store.find_by_key(table, key)
            return copy.deepcopy(row)

    def seed(self, entity_set: str, *records: Mapping[str, Any]) -> list[str]:
        """Create rows the way an administrator's import would: columns and binds are checked, but columns the
        API refuses on create (a product's or order's statecode) may be set. Imports raise no events."""
        with self.store.lock:
            table = self.tables[entity_set]
            resolve = self.service.resolver(None)
            self.service.context = RequestContext(SYSTEM_CALLER)
            return [
                str(
                    self.service.create(table, dict(record), resolve, trusted=True, notify=False)[
                        table.primary_id
                    ]
                )
                for record in records
            ]

    def load_seed(self) -> None:
        """The sync's solution (publisher, columns, active keys; sandbox/dataverse_seed.py), then currencies,
        the Amazon price list, units and products."""
        provision_solution(self, self.prefix)
        for entity_set, record in seed_records():
            self.seed(entity_set, record)

    # --- definitions (the Web API's bodies; `solution` is what MSCRM.SolutionUniqueName would say) --------------
    def create_table(self, body: Mapping[str, Any], solution: str | None = None) -> str:
        with self.store.lock:
            prefix = self.solutions.option_value_prefix(solution)
            table = self.catalog.create_table(dict(body), prefix)
            self.solutions.add(solution, COMPONENT_ENTITY, table.metadata_id)
            return table.entity_set

    def create_attribute(self, table: str, body: Mapping[str, Any], solution: str | None = None) -> None:
        with self.store.lock:
            prefix = self.solutions.option_value_prefix(solution)
            changed, name = self.catalog.create_attribute(table, dict(body), prefix)
            self.solutions.add(
                solution, COMPONENT_ATTRIBUTE, metadata_id("attribute", f"{changed.logical_name}.{name}")
            )

    def create_key(
        self, table: str, body: Mapping[str, Any], solution: str | None = None, *, build_now: bool = True
    ) -> KeyStatus:
        """A key whose index is built at once by default (`build_now=False`: on emulated time, like the API)."""
        with self.store.lock:
            key = self.catalog.create_key(table, dict(body), build_now=build_now)
            self.solutions.add(solution, COMPONENT_ENTITY_KEY, key.metadata_id)
            return key.status

    def create_relationship(self, body: Mapping[str, Any]) -> None:
        with self.store.lock:
            self.catalog.create_relationship(dict(body))

    def key_status(self, table: str, key: str) -> KeyStatus:
        with self.store.lock:
            return self.catalog.key(table, key).status

    def finish_key_indexes(self) -> None:
        with self.store.lock:
            self.catalog.finish_key_indexes()

    def fail_key_index(self, table: str, key: str) -> None:
        """Fault injection: this key's index job ends in Failed."""
        with self.store.lock:
            self.catalog.fail_key_index(table, key)

    # --- callers -----------------------------------------------------------------------------------------------
    def add_user(
        self,
        first_name: str,
        last_name: str,
        *,
        application_id: str | None = None,
        user_id: str | None = None,
    ) -> str:
        with self.store.lock:
            body = {"systemuserid": user_id or new_id(), "firstname": first_name, "lastname": last_name}
            if application_id is not None:
                body["applicationid"] = application_id
            self.service.context = RequestContext(SYSTEM_CALLER)
            users = self.tables["systemusers"]
            return str(
                self.service.create(users, body, self.service.resolver(None), trusted=True, notify=False)[
                    "systemuserid"
                ]
            )

    def add_application_user(self, application_id: str, name: str) -> str:
        """An application user (S2S): tokens whose appid is `application_id` act as this user."""
        return self.add_user("#", name, application_id=application_id)

    def application_user(self, application_id: str) -> str | None:
        with self.store.lock:
            wanted = application_id.lower()
            return next(
                (
                    str(row["systemuserid"])
                    for row in self.store.rows("systemusers")
                    if row.get("applicationid") == wanted
                ),
                None,
            )

    def add_token(self, token: str, user_id: str) -> None:
        """Bearer token -> user, for the default (static token) authenticator."""
        if not isinstance(self.authenticator, StaticTokens):
            raise TypeError("add_token needs the static token authenticator")
        self.authenticator.add(token, user_id)

    # --- HttpEmulator hooks -------------------------------------------------------------------------------------
    def operation_of(self, request: EmulatorRequest) -> str:
        return self.router.operation_of(request)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        with self.store.lock:
            self.catalog.tick()
            try:
                caller = resolve_caller(self.authenticator, request.headers, self._user_exists)
            except errors.DataverseError as error:
                return error_response(error)
            if caller is None:
                return self._challenge()
            self.service.context = RequestContext(
                caller, request.headers.get("mscrm.solutionuniquename") or None
            )
            if self._is_batch(request):
                try:
                    response = self.router.route(request, None)
                except errors.DataverseError as error:
                    response = error_response(error)
            else:
                response = self.router.atomic(lambda: self.router.route(request, None))
            outgoing = self.events.take()
        self.events.deliver(outgoing)  # after the lock: a slow Service Bus must not hold up other requests
        return response

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        return error_response(errors.throttled(), {"Retry-After": str(self.faults.retry_after_seconds)})

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        return error_response(errors.unexpected(status))

    # --- internals ------------------------------------------------------------------------------------------------
    def _challenge(self) -> EmulatorResponse:
        challenge = f"Bearer authorization_uri={self.authorization_uri}, resource_id={self.base_url}/"
        return EmulatorResponse(401, b"", {"WWW-Authenticate": challenge})

    def _user_exists(self, user_id: str) -> bool:
        return self.store.get("systemusers", user_id) is not None

    def _is_batch(self, request: EmulatorRequest) -> bool:
        return request.path.rstrip("/").endswith("/$batch")

    def _transaction(self) -> Transaction:
        """A store transaction that also drops the events of its writes when it rolls back."""
        marks: list[int] = []

        def begin() -> None:
            self.store.begin()
            marks.append(self.events.mark())

        def commit() -> None:
            self.store.commit()
            marks.pop()

        def rollback() -> None:
            self.store.rollback()
            self.events.rollback(marks.pop())

        return Transaction(begin, commit, rollback)


__all__ = ["Caller", "DataverseEmulator"]
