"""Create, update, delete and look up rows: the table-independent half of Dataverse's data operations.

Table-specific behaviour (sales documents, contact names, currencies) lives in rules.py; this module calls it
at fixed points: before a row is stored, and after a write settles. Every write is stamped with the request's
user (createdby/modifiedby, and the *onbehalfby columns when impersonating) and reported to the observers as a
Write: what the event pipeline (events/) and the solution recorder (solutions.py) listen to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from . import errors, rules
from .callers import RequestContext
from .keys import RecordKey, parse_key, parse_resource
from .payload import Changes, Operation, ResolveReference, lookup_annotation, parse_payload
from .schema import ColumnType, NavigationProperty, Table
from .store import Row, Store
from .values import coerce, new_id, utc_now

Message = Literal["Create", "Update", "Delete"]


@dataclass(frozen=True)
class Write:
    """One Create/Update/Delete as the event pipeline sees it."""

    table: Table
    message: Message
    before: Row | None
    after: Row | None
    sent: frozenset[str]  # the columns the request named: an Update's Target holds only these
    context: RequestContext


Observer = Callable[[Write], None]


class Service:
    def __init__(self, store: Store, service_root_path: str) -> None:
        self.store = store
        self.tables = store.tables  # the live schema: tables come and go through the metadata endpoints
        self.service_root_path = service_root_path  # "/api/data/v9.2"
        self.context = RequestContext()  # the current request's; requests run one at a time under the lock
        self.observers: list[Observer] = []

    @property
    def logical_names(self) -> dict[str, str]:
        return {entity_set: table.logical_name for entity_set, table in self.tables.items()}

    # --- lookups ---
    def find(self, table: Table, key: RecordKey) -> Row | None:
        if key.record_id is not None:
            return self.store.get(table.entity_set, key.record_id)
        for name, value in key.values:
            if table.columns[name].type is ColumnType.STRING and not isinstance(value, str):
                raise errors.invalid_key(table.logical_name)
        return self.store.find_by_key(table, key.as_dict())

    def require(self, table: Table, key: RecordKey) -> Row:
        row = self.find(table, key)
        if row is None:
            raise self.not_found(table, key)
        return row

    @staticmethod
    def not_found(table: Table, key: RecordKey) -> errors.DataverseError:
        if key.record_id is not None:
            return errors.not_found_by_id(table.logical_name, key.record_id)
        return errors.not_found_by_key(table.logical_name)

    def resolver(self, content_ids: Mapping[str, str] | None) -> ResolveReference:
        """Resolves `@odata.bind` values: `/set(<id>)`, `/set(key='v')`, absolute URLs, or `$n` in a change set."""

        def resolve(table: Table, navigation: NavigationProperty, reference: str) -> str:
            resource = parse_resource(self.reference_path(reference, content_ids))
            if resource.name != navigation.target or resource.key is None or resource.rest:
                raise errors.bad_reference(
                    table.entity_set, navigation.name, f"expected {navigation.target}(<key>)"
                )
            target = self.tables[navigation.target]
            return str(self.require(target, parse_key(target, resource.key))[target.primary_id])

        return resolve

    def reference_path(self, reference: str, content_ids: Mapping[str, str] | None) -> str:
        """`accounts(...)` from any of the reference forms, still percent-encoded."""
        if reference.startswith("$"):
            name, _, rest = reference[1:].partition("/")
            if content_ids is None or name not in content_ids:
                raise errors.missing_content_id(f"${name}")
            reference = content_ids[name] + (f"/{rest}" if rest else "")
        path = urlsplit(reference).path if "://" in reference else reference
        root = self.service_root_path + "/"
        if path.startswith(root):
            path = path[len(root) :]
        return path.lstrip("/")

    # --- writes ---
    def create(
        self,
        table: Table,
        body: Any,
        resolve: ResolveReference,
        *,
        key: RecordKey | None = None,
        trusted: bool = False,
        notify: bool = True,
    ) -> Row:
        """`trusted` (an import) may write columns the API refuses; `notify` False keeps it out of events."""
        self._require_writable(table, "Create", trusted)
        changes = self._parse(table, body, "create", resolve, trusted)
        if key is not None and key.values:
            # An upsert that creates by alternate key writes the key's values into the new row.
            for name, value in key.values:
                changes.values[name] = coerce(table, table.columns[name], value)
        record_id = changes.values.get(table.primary_id) or (key.record_id if key else None) or new_id()
        if self.store.get(table.entity_set, record_id) is not None:
            raise errors.duplicate_record()
        row: Row = dict.fromkeys(table.columns)
        row.update({table.primary_id: record_id, "createdon": utc_now()})
        self._stamp(table, row, "created")
        row = changes.apply_to(row)
        row = rules.prepare_create(self, table, row, changes, trusted=trusted)
        self._check_state(table, row)
        self._check_unique_keys(table, row)
        saved = self.save(table, row)
        rules.after_write(self, table, None, saved)
        if notify:
            self._notify(table, "Create", None, saved, changes)
        return saved

    def update(self, table: Table, row: Row, body: Any, resolve: ResolveReference) -> Row:
        self._require_writable(table, "Update", False)
        changes = self._parse(table, body, "update", resolve, False)
        given_id = changes.values.pop(table.primary_id, None)
        if given_id is not None and given_id != row[table.primary_id]:
            raise errors.not_valid_for(table.logical_name, table.primary_id, "update")
        updated = rules.prepare_update(self, table, row, changes.apply_to(row), changes)
        self._check_state(table, updated)
        self._check_unique_keys(table, updated)
        saved = self.save(table, updated)
        rules.after_write(self, table, row, saved)
        self._notify(table, "Update", row, saved, changes)
        return saved

    def update_state(self, table: Table, row: Row, values: Mapping[str, Any]) -> Row:
        """A state change made by an action (CancelSalesOrder, ConvertSalesOrderToInvoice ...): stored and
        reported as an Update of those columns, as the platform's own SetState does."""
        saved = self.save(table, {**row, **values})
        self._notify(table, "Update", row, saved, Changes(values=dict(values)))
        return saved

    def delete(self, table: Table, row: Row) -> None:
        self._require_writable(table, "Delete", False)
        rules.before_delete(self, table, row)
        self.store.remove(table.entity_set, row[table.primary_id])
        rules.after_write(self, table, row, None)
        self._notify(table, "Delete", row, None, Changes())

    def save(self, table: Table, row: Row) -> Row:
        """Store `row` as a new version: versionnumber (the ETag), modifiedon and modifiedby move on every write."""
        stored = {**row, "versionnumber": self.store.next_version(), "modifiedon": utc_now()}
        self._stamp(table, stored, "modified")
        self.store.put(table.entity_set, stored, table.primary_id)
        return stored

    # --- shared steps ---
    def _stamp(self, table: Table, row: Row, verb: str) -> None:
        """createdby/modifiedby: the acting user; *onbehalfby: the initiating one when impersonating."""
        caller = self.context.caller
        stamps = {
            f"{verb}by": caller.user_id,
            f"{verb}onbehalfby": caller.initiating_user_id if caller.impersonating else None,
        }
        for column, user in stamps.items():
            if column in table.columns:
                row[column] = user
                row[lookup_annotation(column)] = "systemuser" if user else None

    def _notify(
        self, table: Table, message: Message, before: Row | None, after: Row | None, changes: Changes
    ) -> None:
        sent = frozenset(changes.values) | frozenset(
            name for name in table.columns if lookup_annotation(name) in changes.annotations
        )
        write = Write(table, message, before, after, sent, self.context)
        for observer in self.observers:
            observer(write)

    @staticmethod
    def _require_writable(table: Table, message: str, trusted: bool) -> None:
        if not trusted and table.info is not None and not table.info.writable:
            raise errors.not_supported_message(message, table.logical_name)

    def _parse(
        self, table: Table, body: Any, operation: Operation, resolve: ResolveReference, trusted: bool
    ) -> Changes:
        return parse_payload(
            table,
            body,
            operation=operation,
            resolve=resolve,
            logical_names=self.logical_names,
            trusted=trusted,
        )

    @staticmethod
    def _check_state(table: Table, row: Row) -> None:
        """statecode must be one of the table's states and statuscode one of that state's status reasons."""
        if not table.states:
            return
        state, status = row.get("statecode"), row.get("statuscode")
        option = table.statuses.get(status) if isinstance(status, int) else None
        if state not in table.states or option is None or option.state != state:
            raise errors.invalid_state_status()

    def _check_unique_keys(self, table: Table, row: Row) -> None:
        for key in table.alternate_keys:
            values = {name: row.get(name) for name in key}
            if all(value is not None for value in values.values()) and self.store.find_by_key(
                table, values, exclude=row[table.primary_id]
            ):
                raise errors.duplicate_record()
