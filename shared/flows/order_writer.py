"""Writes order plans to Dataverse: one $batch per group of orders, one atomic change set per order.

Each change set upserts the customer, the salesorder and its lines by alternate key, then moves the order
to its target state (PATCH for Active/Submitted, CancelSalesOrder / FulfillSalesOrder for Canceled /
Fulfilled, which Dataverse does not allow by PATCH). Because the change set is atomic, an order is never
left without its lines; because every upsert is keyed, writing it again changes nothing.

Two cases need a read first: a *repair* (an earlier attempt may or may not have committed, so the
CRM's actual state decides which state action is still needed) and keys Dataverse cannot address in a
URL (the record is found by $filter and written by GUID, or created by POST).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.dataverse import odata
from shared.dataverse.batch import (
    MAX_OPERATIONS,
    BatchItem,
    BatchResponseItem,
    ChangeSet,
    ChangeSetResponse,
    Operation,
    OperationResponse,
)
from shared.dataverse.errors import AmbiguousWrite, error_from_response
from shared.errors import SyncError
from shared.mapping.config import StateTarget
from shared.mapping.salesorder import OrderWritePlan, RecordWrite, Reference

log = logging.getLogger(__name__)

NEW_ORDER_STATE = (0, 1)  # Dataverse creates a salesorder as Active / New
CLOSED_STATES = frozenset({2, 3, 4})  # Canceled, Fulfilled, Invoiced: read-only
_ACTIONS = {2: "CancelSalesOrder", 3: "FulfillSalesOrder"}

State = tuple[int, int]


@dataclass
class WriteJob:
    plan: OrderWritePlan
    crm_state: State | None  # where the CRM order is as far as our checkpoint knows; None: never written
    repair: bool = False  # an earlier attempt did not finish: read the CRM before deciding


@dataclass
class WriteOutcome:
    job: WriteJob
    error: SyncError | None = None
    state: State | None = None  # the salesorder's state after the write
    salesorder_id: str | None = None
    closed_in_crm: bool = False  # nothing written: the CRM order is already canceled/fulfilled
    requests: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Prepared:
    job: WriteJob
    current: State | None
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # unaddressable record -> GUID


class WriterClient(Protocol):
    """What the writer needs of DataverseClient (tests hand it a fake)."""

    def batch(
        self, items: Sequence[BatchItem], *, idempotent: bool, continue_on_error: bool = False
    ) -> list[BatchResponseItem]: ...

    def get(
        self, entity_set: str, key: odata.Key, *, select: Sequence[str] = ()
    ) -> dict[str, Any] | None: ...

    def query(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] = (),
        orderby: str | None = None,
        top: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]: ...


class OrderWriter:
    def __init__(self, client: WriterClient, *, orders_per_batch: int = 50) -> None:
        self._client = client
        self._orders_per_batch = orders_per_batch

    def write(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        outcomes = self._write_all(jobs)
        # A refusal can come from a CRM state our checkpoint does not know (an order closed by hand, a
        # state table restored from backup): read the CRM and try once more before giving up.
        unexplained = [
            outcome.job
            for outcome in outcomes
            if outcome.error and not outcome.error.transient and not outcome.job.repair
        ]
        if not unexplained:
            return outcomes
        retried = {
            id(job): outcome
            for job, outcome in zip(
                unexplained,
                self._write_all([WriteJob(job.plan, job.crm_state, repair=True) for job in unexplained]),
                strict=True,
            )
        }
        return [retried.get(id(outcome.job), outcome) for outcome in outcomes]

    def _write_all(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for chunk in self._chunks(jobs):
            try:
                outcomes += self._write_chunk(chunk)
            except AmbiguousWrite:
                # The batch may have committed. Read the CRM and try once more: what is done is skipped
                # (closed orders, states reached), the rest is idempotent.
                log.warning("Dataverse $batch answer lost; re-reading %d orders before retrying", len(chunk))
                try:
                    outcomes += self._write_chunk(
                        [WriteJob(job.plan, job.crm_state, repair=True) for job in chunk]
                    )
                except SyncError as exc:
                    outcomes += [WriteOutcome(job, error=exc) for job in chunk]
            except SyncError as exc:
                outcomes += [WriteOutcome(job, error=exc) for job in chunk]
        return outcomes

    def _chunks(self, jobs: Sequence[WriteJob]) -> Iterator[list[WriteJob]]:
        chunk: list[WriteJob] = []
        operations = 0
        for job in jobs:
            size = len(job.plan.lines) + 3  # customer + order + lines + state change
            if chunk and (len(chunk) >= self._orders_per_batch or operations + size > MAX_OPERATIONS):
                yield chunk
                chunk, operations = [], 0
            chunk.append(job)
            operations += size
        if chunk:
            yield chunk

    def _write_chunk(self, jobs: Sequence[WriteJob]) -> list[WriteOutcome]:
        """Outcomes in the order of `jobs`."""
        prepared = [self._prepare(job) for job in jobs]
        outcomes: dict[int, WriteOutcome] = {}
        to_send: list[tuple[int, _Prepared, ChangeSet, State]] = []
        for index, item in enumerate(prepared):
            if item.current is not None and item.current[0] in CLOSED_STATES:
                outcomes[index] = WriteOutcome(item.job, state=item.current, closed_in_crm=True)
                continue
            changeset, final_state = _changeset(item)
            to_send.append((index, item, changeset, final_state))
        if to_send:
            idempotent = not any(
                op.method == "POST" for _, _, changeset, _ in to_send for op in changeset.operations
            )
            responses = self._client.batch(
                [changeset for _, _, changeset, _ in to_send], idempotent=idempotent, continue_on_error=True
            )
            for position, (index, item, _, final_state) in enumerate(to_send):
                response = responses[position] if position < len(responses) else None
                outcomes[index] = _outcome(item, response, final_state)
        return [outcomes[index] for index in range(len(jobs))]

    def _prepare(self, job: WriteJob) -> _Prepared:
        """Read what the job cannot know: the CRM state (repairs) and GUIDs of unaddressable records."""
        prepared = _Prepared(job, job.crm_state)
        plan = job.plan
        records = [plan.customer, plan.salesorder, *plan.lines]
        unaddressable = [record for record in records if not _addressable(record.key)]
        if job.repair or unaddressable:
            order = self._find(plan.salesorder, select=("salesorderid", "statecode", "statuscode"))
            prepared.current = (int(order["statecode"]), int(order["statuscode"])) if order else None
            if order is not None:
                prepared.ids[_identity(plan.salesorder)] = str(order["salesorderid"])
        for record in unaddressable:
            if record is plan.salesorder:
                continue
            found = self._find(record, select=(_primary_key(record.entity_set),))
            if found is not None:
                prepared.ids[_identity(record)] = str(found[_primary_key(record.entity_set)])
        return prepared

    def _find(self, record: RecordWrite, *, select: Sequence[str]) -> dict[str, Any] | None:
        if _addressable(record.key):
            return self._client.get(record.entity_set, dict(record.key), select=select)
        rows = self._client.query(record.entity_set, filter=odata.all_of(record.key), select=select, top=1)
        return next(iter(rows), None)


def _changeset(item: _Prepared) -> tuple[ChangeSet, State]:
    plan = item.job.plan
    changeset = ChangeSet()
    references: dict[tuple[str, str], str] = {}
    for record in (plan.customer, plan.salesorder, *plan.lines):
        _add_upsert(changeset, record, item.ids, references)
    current = item.current or NEW_ORDER_STATE
    operation = _state_operation(
        current, plan.target_state, _reference_url(plan.salesorder, item.ids, references)
    )
    if operation is None:
        return changeset, current
    changeset.add(operation)
    return changeset, (plan.target_state.statecode, plan.target_state.statuscode)


def _add_upsert(
    changeset: ChangeSet,
    record: RecordWrite,
    ids: Mapping[tuple[str, str], str],
    references: dict[tuple[str, str], str],
) -> None:
    body = dict(record.fields)
    for navigation, target in record.binds.items():
        body[f"{navigation}@odata.bind"] = _bind(target, ids, references)
    identity = _identity(record)
    if _addressable(record.key):
        changeset.add(Operation("PATCH", odata.entity_path(record.entity_set, dict(record.key)), body))
        return
    known = ids.get(identity)
    if known is not None:
        changeset.add(
            Operation("PATCH", odata.entity_path(record.entity_set, known), body, {"If-Match": "*"})
        )
        references[identity] = f"/{record.entity_set}({known})"
        return
    body.update(record.key)  # a POST must carry its own key values
    references[identity] = changeset.add(Operation("POST", record.entity_set, body))


def _bind(
    target: Reference, ids: Mapping[tuple[str, str], str], references: Mapping[tuple[str, str], str]
) -> str:
    if isinstance(target.key, str):
        return odata.bind(target.entity_set, target.key)
    identity = (target.entity_set, _key_text(target.key))
    if identity in references:
        return references[identity]
    if identity in ids:
        return odata.bind(target.entity_set, ids[identity])
    return odata.bind(target.entity_set, dict(target.key))


def _reference_url(
    record: RecordWrite, ids: Mapping[tuple[str, str], str], references: Mapping[tuple[str, str], str]
) -> str:
    return _bind(Reference(record.entity_set, record.key), ids, references)


def _moves_backwards(current: State, target: StateTarget) -> bool:
    return target.statecode < current[0]


def _state_operation(current: State, target: StateTarget, order_url: str) -> Operation | None:
    """The request that moves the order from `current` to `target`, or None (already there, or backwards)."""
    if current == (target.statecode, target.statuscode) or _moves_backwards(current, target):
        return None
    action = _ACTIONS.get(target.statecode)
    if action is None:
        url = order_url[1:] if order_url.startswith("/") else order_url
        return Operation(
            "PATCH", url, {"statecode": target.statecode, "statuscode": target.statuscode}, {"If-Match": "*"}
        )
    close = {
        "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
        "subject": "Amazon order " + ("cancelled" if target.statecode == 2 else "shipped"),
        "salesorderid@odata.bind": order_url,
    }
    return Operation("POST", action, {"OrderClose": close, "Status": target.statuscode})


def _outcome(item: _Prepared, response: Any, final_state: State) -> WriteOutcome:
    job = item.job
    if response is None:
        return WriteOutcome(
            job, error=error_from_response(503, None, what="$batch change set (not answered)")
        )
    failure: OperationResponse | None
    if isinstance(response, ChangeSetResponse):
        failure = response.failure
        answers = response.responses
    else:
        failure = None if response.ok else response
        answers = [response]
    if failure is not None:
        error = error_from_response(
            failure.status, failure.body, failure.headers, what=f"write of order {job.plan.order_id}"
        )
        return WriteOutcome(job, error=error)
    order_id = item.ids.get(_identity(job.plan.salesorder)) or _entity_id(
        answers[1] if len(answers) > 1 else None
    )
    return WriteOutcome(job, state=final_state, salesorder_id=order_id)


def _entity_id(response: OperationResponse | None) -> str | None:
    if response is None:
        return None
    location = response.headers.get("odata-entityid", "")
    start = location.rfind("(")
    candidate = location[start + 1 : -1] if start >= 0 and location.endswith(")") else ""
    return candidate if odata.is_guid(candidate) else None


def _addressable(key: Mapping[str, str]) -> bool:
    return all(odata.addressable(value) for value in key.values())


def _identity(record: RecordWrite) -> tuple[str, str]:
    return (record.entity_set, _key_text(record.key))


def _key_text(key: Mapping[str, str]) -> str:
    return "\x1f".join(f"{column}={value}" for column, value in sorted(key.items()))


_PRIMARY_KEYS = {
    "salesorders": "salesorderid",
    "salesorderdetails": "salesorderdetailid",
    "contacts": "contactid",
    "accounts": "accountid",
}


def _primary_key(entity_set: str) -> str:
    return _PRIMARY_KEYS[entity_set]
