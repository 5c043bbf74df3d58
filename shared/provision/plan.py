"""The Dataverse plan: what the declaration needs compared with what the org has (pure, no HTTP).

Nothing that exists is ever altered. A column of another type, a key over other columns, an event step that
points elsewhere: each is a problem naming what was expected and what was found, and a plan with problems
changes nothing (an admin decides, then runs the command again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from shared.dataverse.event_registration import (
    CONTRACT_QUEUE,
    FORMAT_JSON,
    MODE_ASYNCHRONOUS,
    STAGE_POST_OPERATION,
    EndpointRow,
    ImageRow,
    StepRow,
)
from shared.dataverse.metadata import ExistingKey, KeyIndexStatus, Publisher, Solution, TableState
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
from shared.provision.schema.registry import Declaration


class ActionKind(StrEnum):
    CREATE_PUBLISHER = "create publisher"
    CREATE_SOLUTION = "create solution"
    CREATE_TABLE = "create table"
    CREATE_COLUMN = "create column"
    CREATE_LOOKUP = "create lookup"
    CREATE_KEY = "create alternate key"
    CREATE_ENDPOINT = "create service endpoint"
    CREATE_STEP = "register step"
    CREATE_IMAGE = "register step image"


Subject = (
    str
    | CustomTable
    | Column
    | Lookup
    | AlternateKey
    | ServiceBusEndpoint
    | ServiceEndpointStep
    | tuple[ServiceEndpointStep, StepImage]
)


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    what: str  # for people: "salesorder.new_amazonorderid (String, 100)"
    subject: Subject


@dataclass(frozen=True)
class SolutionTarget:
    """Where new components go: the solution, and the publisher that owns it (by name and prefix)."""

    solution: str
    publisher: str
    prefix: str  # DATAVERSE_PREFIX without its underscore


@dataclass(frozen=True)
class EventState:
    """The org's registration rows for the declared steps, and the ids of their messages and filters."""

    endpoints: Mapping[str, EndpointRow | None] = field(default_factory=dict)
    steps: Mapping[str, StepRow | None] = field(default_factory=dict)
    images: Mapping[str, Sequence[ImageRow]] = field(default_factory=dict)  # by step name
    message_ids: Mapping[str, str | None] = field(default_factory=dict)
    filter_ids: Mapping[tuple[str, str], str | None] = field(default_factory=dict)  # (message, table)


@dataclass(frozen=True)
class DataverseState:
    """What the org has of everything the declaration names (None: it does not exist)."""

    solution: Solution | None
    publisher: Publisher | None  # read only when the solution is missing
    tables: Mapping[str, TableState | None]
    text_lengths: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    events: EventState = field(default_factory=EventState)


@dataclass
class DataversePlan:
    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    keys_to_wait_for: list[AlternateKey] = field(default_factory=list)
    in_place: int = 0  # declared things that already exist as declared

    @property
    def changes(self) -> bool:
        return bool(self.actions)


def plan_dataverse(declaration: Declaration, state: DataverseState, target: SolutionTarget) -> DataversePlan:
    plan = DataversePlan()
    _plan_solution(state, target, plan)
    creating_tables = _plan_tables(declaration, state, plan)
    _plan_columns(declaration, state, target, creating_tables, plan)
    _plan_lookups(declaration, state, creating_tables, plan)
    _plan_keys(declaration, state, plan)
    _plan_steps(declaration, state.events, plan)
    return plan


# --- solution ---------------------------------------------------------------------------------------------
def _plan_solution(state: DataverseState, target: SolutionTarget, plan: DataversePlan) -> None:
    if state.solution is not None:
        if state.solution.managed:
            plan.problems.append(
                f"solution {target.solution} is managed: components can only be added to an unmanaged solution "
                "(choose another with --solution)"
            )
        else:
            plan.in_place += 1
        return
    publisher = state.publisher
    if publisher is None:
        plan.actions.append(
            Action(
                ActionKind.CREATE_PUBLISHER, f"{target.publisher} (prefix {target.prefix})", target.publisher
            )
        )
    elif publisher.prefix != target.prefix:
        plan.problems.append(
            f"publisher {publisher.unique_name} has the prefix {publisher.prefix!r}, DATAVERSE_PREFIX says "
            f"{target.prefix!r}"
        )
    else:
        plan.notes.append(
            f"publisher {publisher.unique_name} (prefix {publisher.prefix}) owns the new solution"
        )
    plan.actions.append(Action(ActionKind.CREATE_SOLUTION, target.solution, target.solution))


# --- tables and columns ---------------------------------------------------------------------------------------
def _plan_tables(declaration: Declaration, state: DataverseState, plan: DataversePlan) -> set[str]:
    creating = set()
    for table in declaration.tables:
        if state.tables.get(table.name) is None:
            creating.add(table.name)
            plan.actions.append(Action(ActionKind.CREATE_TABLE, f"{table.name} ({table.label})", table))
        else:
            plan.in_place += 1
    return creating


def _plan_columns(
    declaration: Declaration,
    state: DataverseState,
    target: SolutionTarget,
    creating_tables: set[str],
    plan: DataversePlan,
) -> None:
    prefix = target.prefix + "_"
    missing_tables: set[str] = set()
    for column in declaration.columns:
        if column.table in creating_tables:
            continue  # created with its table
        table = state.tables.get(column.table)
        if table is None:
            if column.table not in missing_tables:
                missing_tables.add(column.table)
                plan.problems.append(f"table {column.table} does not exist in this org")
            continue
        found = table.columns.get(column.name)
        if found is None:
            if column.name.startswith(prefix):
                plan.actions.append(Action(ActionKind.CREATE_COLUMN, _describe(column), column))
            else:
                plan.problems.append(
                    f"column {column.table}.{column.name} does not exist, and only columns under the prefix "
                    f"{prefix} are created: add it, or map the field to another column (MAPPING_FILE)"
                )
            continue
        if not column.accepts(found.type):
            plan.problems.append(
                f"column {column.table}.{column.name} is {found.type}, expected {column.type.value}: an existing "
                "column is never altered; delete it, or map the field to another column (MAPPING_FILE)"
            )
            continue
        plan.in_place += 1
        length = state.text_lengths.get(column.table, {}).get(column.name)
        if column.type is ColumnType.STRING and length is not None and length < (column.max_length or 0):
            plan.notes.append(
                f"column {column.table}.{column.name} holds {length} characters, the app may write "
                f"{column.max_length}: longer values are refused by Dataverse (not altered)"
            )


def _plan_lookups(
    declaration: Declaration, state: DataverseState, creating_tables: set[str], plan: DataversePlan
) -> None:
    for lookup in declaration.lookups:
        missing = [
            name
            for name in (lookup.table, lookup.target)
            if state.tables.get(name) is None and name not in creating_tables
        ]
        if missing:
            plan.problems.append(
                f"lookup {lookup.table}.{lookup.name}: table {missing[0]} does not exist in this org"
            )
            continue
        table = state.tables.get(lookup.table)
        found = table.columns.get(lookup.name) if table is not None else None
        label = f"{lookup.table}.{lookup.name} -> {lookup.target}"
        if found is None:
            plan.actions.append(Action(ActionKind.CREATE_LOOKUP, label, lookup))
        elif found.type != "Lookup":
            plan.problems.append(
                f"column {lookup.table}.{lookup.name} is {found.type}, expected a lookup to {lookup.target}: an "
                "existing column is never altered"
            )
        else:
            plan.in_place += 1


def _describe(column: Column) -> str:
    size = f", {column.max_length}" if column.max_length and column.type is not ColumnType.DATETIME else ""
    return f"{column.table}.{column.name} ({column.type.value}{size})"


# --- keys -------------------------------------------------------------------------------------------------------
def _plan_keys(declaration: Declaration, state: DataverseState, plan: DataversePlan) -> None:
    for key in declaration.keys:
        table = state.tables.get(key.table)
        existing = _existing_key(key, table.keys) if table is not None else None
        label = f"{key.table}.{key.name} ({' + '.join(key.columns)})"
        if existing is None:
            if table is None and key.table not in {t.name for t in declaration.tables}:
                continue  # the missing table is already a problem
            plan.actions.append(Action(ActionKind.CREATE_KEY, label, key))
            plan.keys_to_wait_for.append(key)
        elif sorted(existing.columns) != sorted(key.columns):
            plan.problems.append(
                f"alternate key {key.table}.{existing.name} covers {' + '.join(existing.columns)}, expected "
                f"{' + '.join(key.columns)}: an existing key is never altered"
            )
        elif existing.status is KeyIndexStatus.FAILED:
            plan.problems.append(failed_key_message(key.table, existing.name))
        else:
            plan.in_place += 1
            if existing.name != key.name:
                plan.notes.append(f"alternate key {key.table}.{existing.name} serves as {key.name}")
            if existing.status is not KeyIndexStatus.ACTIVE:
                plan.keys_to_wait_for.append(_renamed(key, existing.name))


def _existing_key(key: AlternateKey, keys: Sequence[ExistingKey]) -> ExistingKey | None:
    """The key of that name, else one over the same columns (Dataverse allows only one per column set)."""
    by_name = next((k for k in keys if k.name == key.name), None)
    return by_name or next((k for k in keys if sorted(k.columns) == sorted(key.columns)), None)


def _renamed(key: AlternateKey, name: str) -> AlternateKey:
    return AlternateKey(key.table, name, key.columns, key.label)


def failed_key_message(table: str, key: str) -> str:
    return (
        f"alternate key {table}.{key}: its index job Failed (usually rows that repeat the key's values); "
        "remove the duplicates, then reactivate the key (ReactivateEntityKey) or delete it and run again"
    )


# --- event steps -------------------------------------------------------------------------------------------------
def _plan_steps(declaration: Declaration, state: EventState, plan: DataversePlan) -> None:
    endpoints_planned: set[str] = set()
    for step in declaration.steps:
        endpoint = step.endpoint
        if endpoint.name not in endpoints_planned:
            endpoints_planned.add(endpoint.name)
            _plan_endpoint(endpoint, state.endpoints.get(endpoint.name), plan)
        message_id = state.message_ids.get(step.message)
        filter_id = state.filter_ids.get((step.message, step.table))
        if message_id is None or filter_id is None:
            plan.problems.append(
                f"step {step.name}: Dataverse has no {step.message} message for {step.table}"
            )
            continue
        existing = state.steps.get(step.name)
        if existing is None:
            plan.actions.append(
                Action(ActionKind.CREATE_STEP, f"{step.name} ({step.message} of {step.table})", step)
            )
            plan.actions.extend(
                Action(ActionKind.CREATE_IMAGE, f"{step.name}: {image.alias}", (step, image))
                for image in step.images
            )
            continue
        endpoint_row = state.endpoints.get(endpoint.name)
        expected = (
            endpoint_row.id if endpoint_row else None,
            message_id.lower(),
            filter_id.lower(),
            STAGE_POST_OPERATION,
            MODE_ASYNCHRONOUS,
            tuple(sorted(step.filtering_columns)),
        )
        found = (
            existing.handler_id,
            (existing.message_id or "").lower(),
            (existing.filter_id or "").lower(),
            existing.stage,
            existing.mode,
            existing.filtering_columns,
        )
        if found != expected:
            plan.problems.append(
                f"step {step.name} exists but differs (endpoint, message, table, stage, mode or filtering "
                "columns): it is never altered; delete it to have it registered again"
            )
            continue
        plan.in_place += 1
        _plan_images(step, state.images.get(step.name, ()), plan)


def _plan_endpoint(endpoint: ServiceBusEndpoint, existing: EndpointRow | None, plan: DataversePlan) -> None:
    if existing is None:
        plan.actions.append(
            Action(ActionKind.CREATE_ENDPOINT, f"{endpoint.name} (queue {endpoint.queue})", endpoint)
        )
        return
    expected = (CONTRACT_QUEUE, FORMAT_JSON, _namespace(endpoint.namespace_address), endpoint.queue)
    found = (
        existing.contract,
        existing.message_format,
        _namespace(existing.namespace_address),
        existing.queue,
    )
    if found != expected:
        plan.problems.append(
            f"service endpoint {endpoint.name} exists but is not a JSON queue endpoint for "
            f"{endpoint.namespace_address} {endpoint.queue}: it is never altered"
        )
    else:
        plan.in_place += 1


def _plan_images(step: ServiceEndpointStep, existing: Sequence[ImageRow], plan: DataversePlan) -> None:
    by_alias = {image.alias: image for image in existing}
    for image in step.images:
        found = by_alias.get(image.alias)
        if found is None:
            plan.actions.append(Action(ActionKind.CREATE_IMAGE, f"{step.name}: {image.alias}", (step, image)))
        elif (found.image_type, found.columns) != (int(image.image_type), tuple(sorted(image.columns))):
            plan.problems.append(
                f"image {image.alias} of step {step.name} exists with another type or columns: never altered"
            )
        else:
            plan.in_place += 1


def _namespace(address: str | None) -> str:
    return (address or "").strip().lower().rstrip("/")
