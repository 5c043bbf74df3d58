"""Reading RemoteExecutionContext bodies, both JSON shapes, into CrmEvents; and refusing what is not one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox.dataverse_emulator import ContextShape
from shared.dataverse.events import MalformedContext, parse_context
from shared.model.crm_events import EntityRef, VersionStamp, as_datetime
from tests.crm_contexts import HUMAN_USER_ID, MOMENT, ORGANIZATION_ID, as_json, context

CURRENCY = "3f1c6a0e-2b7d-4c55-9d41-6c9a0b8e7d21"
SHAPES = [ContextShape.DATA_CONTRACT, ContextShape.PLAIN]


def product_update(shape: ContextShape, **options: object) -> bytes:
    return context(
        "products",
        changed={"quantityonhand": Decimal("7"), "price": Decimal("12.50")},
        post={
            "productnumber": "MUG-1",
            "quantityonhand": Decimal("7"),
            "price": Decimal("12.50"),
            "transactioncurrencyid": CURRENCY,
            "statecode": 0,
        },
        lookups={"transactioncurrencyid": "transactioncurrency"},
        shape=shape,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_an_update_is_read_with_its_changed_columns_and_its_post_image(shape: ContextShape) -> None:
    """Message, table, users and time come from the context; Target holds the changed columns, the image the rest."""
    event = parse_context(product_update(shape))
    assert (event.message, event.entity) == ("Update", "product")
    assert (event.initiating_user_id, event.user_id) == (HUMAN_USER_ID, HUMAN_USER_ID)
    assert event.organization_id == ORGANIZATION_ID
    assert event.operation_time == MOMENT
    assert event.changed("quantityonhand")
    assert not event.changed("productnumber")
    assert event.value("productnumber") == "MUG-1"
    assert event.value("quantityonhand") == Decimal("7")
    assert event.value("price") == Decimal("12.50")
    assert event.value("statecode") == 0
    assert event.value("transactioncurrencyid") == EntityRef(CURRENCY, "transactioncurrency")


@pytest.mark.parametrize("shape", SHAPES)
def test_the_version_stamp_is_the_operation_time_then_the_row_version(shape: ContextShape) -> None:
    """Two changes in the same second are told apart by RowVersion."""
    first = parse_context(product_update(shape, row_version=41)).version
    second = parse_context(product_update(shape, row_version=42)).version
    assert first == VersionStamp(MOMENT, 41)
    assert second.newer_than(first)
    assert not first.newer_than(second)


def test_both_shapes_read_to_the_same_values() -> None:
    """The wire format and the plain shape of one write give the same event (dates aside, read on use)."""
    wire, plain = (parse_context(product_update(shape, record_id=CURRENCY)) for shape in SHAPES)
    assert wire.target is not None
    assert plain.target is not None
    assert wire.post_images == plain.post_images
    assert wire.target.attributes["quantityonhand"] == plain.target.attributes["quantityonhand"]
    assert as_datetime(wire.value("modifiedon")) == as_datetime(plain.value("modifiedon")) == MOMENT


@pytest.mark.parametrize("shape", SHAPES)
def test_a_delete_has_no_target_columns(shape: ContextShape) -> None:
    """A Delete's Target is a reference: the event has no Target record, its pre-image still reads."""
    event = parse_context(context("products", message="Delete", pre={"productnumber": "MUG-1"}, shape=shape))
    assert event.target is None
    assert event.value("productnumber") == "MUG-1"


def test_the_impersonated_and_the_initiating_user_both_count_as_the_author() -> None:
    """An app acting as someone else (MSCRMCallerID) is still the initiating user of the change."""
    app = "0b7c9a2e-1111-4a4a-9b9b-222233334444"
    event = parse_context(
        context("products", changed={"price": 1}, user_id=HUMAN_USER_ID, initiating_user_id=app)
    )
    assert event.done_by(app.upper())
    assert event.done_by(HUMAN_USER_ID)
    assert not event.done_by("5a0f9a0e-9d5e-4b5f-8a8e-000000000002")


def test_a_value_of_a_type_nobody_reads_is_none_and_the_rest_still_reads() -> None:
    """An EntityCollection (or any other typed value) does not make the whole event unreadable."""
    body = as_json(product_update(ContextShape.DATA_CONTRACT))
    target = body["InputParameters"][0]["value"]
    target["Attributes"].append(
        {"key": "new_related", "value": {"__type": "EntityCollection:x", "Entities": []}}
    )
    event = parse_context(json.dumps(body))
    assert event.value("new_related") is None
    assert event.value("quantityonhand") == Decimal("7")


def test_dates_of_the_wire_format_are_read_with_or_without_an_offset() -> None:
    """ "/Date(ms)/" and "/Date(ms+0000)/" are both milliseconds since 1970 in UTC."""
    body = as_json(product_update(ContextShape.DATA_CONTRACT))
    body["OperationCreatedOn"] = "/Date(0)/"
    assert parse_context(json.dumps(body)).operation_time == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda body: body.pop("PrimaryEntityId"), "PrimaryEntityId is missing"),
        (lambda body: body.update(PrimaryEntityId="not-a-guid"), "PrimaryEntityId is not a GUID"),
        (lambda body: body.update(MessageName=7), "MessageName is not a message name"),
        (lambda body: body.update(InitiatingUserId=None), "InitiatingUserId is missing"),
        (lambda body: body.update(InputParameters=[]), "InputParameters has no Target"),
        (lambda body: body.update(InputParameters="Target"), "InputParameters is not an object"),
        (lambda body: body.update(PrimaryEntityName="account"), "another table than PrimaryEntityName"),
        (lambda body: body.update(OperationCreatedOn="yesterday"), "OperationCreatedOn is not a date"),
        (lambda body: body.update(PostEntityImages=[{"value": {}}]), "PostEntityImages.0 is not a key"),
    ],
)
def test_a_context_missing_or_mistyping_a_field_is_malformed_and_the_field_is_named(mutate, problem) -> None:
    """The dead-letter description says which field is wrong, never its value."""
    body = as_json(product_update(ContextShape.DATA_CONTRACT))
    mutate(body)
    with pytest.raises(MalformedContext, match=problem) as raised:
        parse_context(json.dumps(body))
    assert raised.value.reason == "MalformedEventContext"
    assert "MUG-1" not in str(raised.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"<RemoteExecutionContext/>", "not valid JSON"),
        (b"[1, 2]", "JSON list, not a RemoteExecutionContext object"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nests deeper than 32"),
        (b'{"MessageName": "' + b"x" * 300_000 + b'"}', "the limit is 262144"),
    ],
)
def test_what_is_not_a_context_at_all_is_malformed(body: bytes, problem: str) -> None:
    """Bodies that are not JSON objects within the limits are refused before anything reads them."""
    with pytest.raises(MalformedContext, match=problem):
        parse_context(body)
