"""`python -m shared.provision dataverse`: read what the org has, plan, create what is missing inside the
unmanaged solution, then wait for the new keys' indexes.

Every run reads first, so running it again after a crash, a lost answer or a timeout is always safe, and a
run with nothing to do only reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO, TypeVar

from shared.dataverse.errors import AmbiguousWrite, DataverseError
from shared.dataverse.event_registration import EventRegistrations
from shared.dataverse.metadata import DataverseMetadata, KeyIndexStatus, TableState
from shared.model.crm_schema import (
    AlternateKey,
    Column,
    ColumnType,
    CustomTable,
    Lookup,
    ServiceBusEndpoint,
    ServiceEndpointStep,
    StepImage,
)
from shared.provision.plan import (
    Action,
    ActionKind,
    DataversePlan,
    DataverseState,
    EventState,
    SolutionTarget,
    failed_key_message,
    plan_dataverse,
)
from shared.provision.schema.registry import Declaration

T = TypeVar("T")

DEFAULT_SOLUTION = "AmazonSellerSync"
DEFAULT_PUBLISHER = "amazonsellersync"
PUBLISHER_NAME = "Amazon Seller Central sync"
# Index jobs run in the background; on a large table they take minutes. Past the wait the command says so
# and fails: upserts by a key that is not Active are refused, so the app cannot run yet.
DEFAULT_KEY_TIMEOUT_SECONDS = 600.0
DEFAULT_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class DataverseOptions:
    solution: str = DEFAULT_SOLUTION
    publisher: str = DEFAULT_PUBLISHER
    dry_run: bool = False
    key_timeout: float = DEFAULT_KEY_TIMEOUT_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS


class DataverseProvisioner:
    def __init__(
        self,
        metadata: DataverseMetadata,
        events: EventRegistrations,
        declaration: Declaration,
        *,
        prefix: str,
        out: TextIO,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metadata = metadata
        self._events = events
        self._declaration = declaration
        self._prefix = prefix.rstrip("_")
        self._out = out
        self._sleep = sleep
        self._clock = clock
        # Ids of what this run created, for what it creates next (a solution needs its publisher, ...).
        self._publisher_id: str | None = None
        self._endpoint_ids: dict[str, str] = {}
        self._step_ids: dict[str, str] = {}

    def run(self, options: DataverseOptions) -> bool:
        """True when everything declared is in place (or, with dry_run, could be put in place)."""
        target = SolutionTarget(options.solution, options.publisher, self._prefix)
        plan = plan_dataverse(self._declaration, self.read_state(target), target)
        self._say_plan(plan, dry_run=options.dry_run)
        if plan.problems:
            self._say("nothing was changed: resolve the problems above, then run the command again")
            return False
        if options.dry_run:
            verdict = f"would make {len(plan.actions)} changes" if plan.changes else "no changes"
            self._say(f"dry run: {verdict}; nothing was written")
            return True
        try:
            for action in self._ordered(plan.actions):
                self._apply(action, target)
        except AmbiguousWrite as exc:
            self._say(f"! the answer was lost ({exc}); run the command again: it reads what exists first")
            return False
        except DataverseError as exc:
            self._say(f"! Dataverse refused: {exc}")
            return False
        keys_ready = self._wait_for_keys(plan.keys_to_wait_for, options)
        if not plan.changes:
            self._say(f"no changes: {plan.in_place} declared items already in place")
        else:
            self._say(f"done: {len(plan.actions)} created, {plan.in_place} already in place")
        return keys_ready

    # --- reading ----------------------------------------------------------------------------------------
    def read_state(self, target: SolutionTarget) -> DataverseState:
        declaration = self._declaration
        solution = self._metadata.solution(target.solution)
        publisher = None
        if solution is None:
            publisher = self._metadata.publisher(target.publisher) or self._metadata.publisher_with_prefix(
                target.prefix
            )
            self._publisher_id = publisher.id if publisher is not None else None
        names = {c.table for c in declaration.columns} | {k.table for k in declaration.keys}
        names |= {t.name for t in declaration.tables}
        names |= {lookup.table for lookup in declaration.lookups} | {
            lookup.target for lookup in declaration.lookups
        }
        tables = {name: self._metadata.table(name) for name in sorted(names)}
        return DataverseState(
            solution=solution,
            publisher=publisher,
            tables=tables,
            text_lengths=self._text_lengths(tables, target),
            events=self._event_state(),
        )

    def _text_lengths(
        self, tables: dict[str, TableState | None], target: SolutionTarget
    ) -> dict[str, dict[str, int]]:
        """Lengths of our existing text columns (one request per table that has some); other columns are
        Dataverse's own, whose lengths the mapping already respects."""
        ours = target.prefix + "_"
        wanted = {
            column.table
            for column in self._declaration.columns
            if column.type is ColumnType.STRING
            and column.name.startswith(ours)
            and (table := tables.get(column.table)) is not None
            and column.name in table.columns
        }
        return {table: self._metadata.text_lengths(table) for table in sorted(wanted)}

    def _event_state(self) -> EventState:
        steps = self._declaration.steps
        if not steps:
            return EventState()
        events = self._events
        endpoints = {step.endpoint.name: events.endpoint(step.endpoint.name) for step in steps}
        message_ids = {message: events.message_id(message) for message in sorted({s.message for s in steps})}
        filter_ids: dict[tuple[str, str], str | None] = {}
        for step in steps:
            message_id = message_ids[step.message]
            if message_id is not None and (step.message, step.table) not in filter_ids:
                filter_ids[(step.message, step.table)] = events.filter_id(message_id, step.table)
        rows = {step.name: events.step(step.name) for step in steps}
        images = {name: events.images(row.id) for name, row in rows.items() if row is not None}
        return EventState(endpoints, rows, images, message_ids, filter_ids)

    # --- writing ----------------------------------------------------------------------------------------
    @staticmethod
    def _ordered(actions: list[Action]) -> list[Action]:
        """Dependencies first: publisher, solution, tables, columns, lookups, keys, endpoints, steps, images."""
        order = list(ActionKind)
        return sorted(actions, key=lambda action: order.index(action.kind))

    def _apply(self, action: Action, target: SolutionTarget) -> None:
        self._say(f"  + {action.kind.value} {action.what}")
        subject, solution = action.subject, target.solution
        if action.kind is ActionKind.CREATE_PUBLISHER:
            self._publisher_id = self._metadata.create_publisher(
                target.publisher, PUBLISHER_NAME, target.prefix
            ).id
        elif action.kind is ActionKind.CREATE_SOLUTION:
            if self._publisher_id is None:  # the plan creates one first, or read_state found one
                raise DataverseError(f"no publisher for the solution {solution}")
            self._metadata.create_solution(solution, PUBLISHER_NAME, self._publisher_id)
        elif isinstance(subject, CustomTable):
            columns = [c for c in self._declaration.columns if c.table == subject.name]
            self._metadata.create_table(subject, columns, solution)
        elif isinstance(subject, Column):
            self._metadata.create_column(subject, solution)
        elif isinstance(subject, Lookup):
            self._metadata.create_lookup(subject, solution)
        elif isinstance(subject, AlternateKey):
            self._metadata.create_key(subject, solution)
        elif isinstance(subject, ServiceBusEndpoint):
            self._endpoint_ids[subject.name] = self._events.create_endpoint(subject, solution)
        elif isinstance(subject, ServiceEndpointStep):
            self._step_ids[subject.name] = self._register_step(subject, solution)
        elif isinstance(subject, tuple):
            step, image = subject
            self._register_image(step, image, solution)

    def _register_step(self, step: ServiceEndpointStep, solution: str) -> str:
        events = self._events
        handler = (
            self._endpoint_ids.get(step.endpoint.name)
            or _required(events.endpoint(step.endpoint.name), f"service endpoint {step.endpoint.name}").id
        )
        message_id = _required(events.message_id(step.message), f"message {step.message}")
        filter_id = _required(events.filter_id(message_id, step.table), f"{step.message} of {step.table}")
        return events.create_step(
            step, handler_id=handler, message_id=message_id, filter_id=filter_id, solution=solution
        )

    def _register_image(self, step: ServiceEndpointStep, image: StepImage, solution: str) -> None:
        step_id = (
            self._step_ids.get(step.name) or _required(self._events.step(step.name), f"step {step.name}").id
        )
        self._events.create_image(step_id, step.message, image, solution)

    # --- keys ---------------------------------------------------------------------------------------------
    def _wait_for_keys(self, keys: list[AlternateKey], options: DataverseOptions) -> bool:
        """Poll each key until its index is Active or Failed, at most `key_timeout` seconds in all."""
        if not keys:
            return True
        self._say(f"waiting for {len(keys)} alternate key index(es) to become Active ...")
        pending = list(keys)
        failed: list[AlternateKey] = []
        deadline = self._clock() + options.key_timeout
        while pending:
            still = []
            for key in pending:
                status = self._metadata.key_status(key.table, key.name)
                if status is KeyIndexStatus.ACTIVE:
                    self._say(f"  key {key.table}.{key.name}: Active")
                elif status is KeyIndexStatus.FAILED:
                    failed.append(key)
                    self._say(f"! {failed_key_message(key.table, key.name)}")
                else:
                    still.append(key)
            pending = still
            if pending and self._clock() >= deadline:
                names = ", ".join(f"{k.table}.{k.name}" for k in pending)
                self._say(
                    f"! still building after {options.key_timeout:.0f} s: {names}; upserts by a key are refused "
                    "until it is Active: run the command again later to check"
                )
                return False
            if pending:
                self._sleep(options.poll_seconds)
        return not failed

    # --- output ---------------------------------------------------------------------------------------------
    def _say_plan(self, plan: DataversePlan, *, dry_run: bool) -> None:
        if dry_run:
            for action in self._ordered(plan.actions):
                self._say(f"  would {action.kind.value} {action.what}")
        for note in plan.notes:
            self._say(f"  note: {note}")
        for problem in plan.problems:
            self._say(f"! {problem}")

    def _say(self, line: str) -> None:
        self._out.write(line + "\n")


def _required(value: T | None, what: str) -> T:
    if value is None:
        raise DataverseError(f"{what} was not found")
    return value
