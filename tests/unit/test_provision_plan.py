"""The Dataverse plan builder: what is missing becomes an action, what exists as declared is left alone, and
what exists differently is a problem that names what was expected and found."""

from __future__ import annotations

from shared.dataverse.event_registration import EndpointRow, ImageRow, StepRow
from shared.dataverse.metadata import (
    ExistingColumn,
    ExistingKey,
    KeyIndexStatus,
    Publisher,
    Solution,
    TableState,
)
from shared.mapping.config import load_mapping
from shared.model.crm_schema import (
    AlternateKey,
    Column,
    ColumnType,
    CustomTable,
    Feature,
    ImageType,
    Lookup,
    ServiceBusEndpoint,
    ServiceEndpointStep,
    StepImage,
)
from shared.provision.plan import ActionKind, DataverseState, EventState, SolutionTarget, plan_dataverse
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.registry import Declaration, declare_all

TARGET = SolutionTarget("AmazonSellerSync", "amazonsellersync", "new")
SOLUTION = Solution("s-1", "AmazonSellerSync", "p-1", managed=False)
ORDER_ID = Column("salesorder", "new_amazonorderid", ColumnType.STRING, "Amazon order id", 100)
NOTE = Column("salesorder", "description", ColumnType.MEMO, "Description", 2000)
ORDER_KEY = AlternateKey("salesorder", "new_amazonorderkey", ("new_amazonorderid",), "Amazon order")


def declaration(*features: Feature) -> Declaration:
    return declare_all(SchemaContext("new_", load_mapping(None), ("ATVPDKIKX0DER",)), features)


def salesorder(*columns: tuple[str, str], keys: tuple[ExistingKey, ...] = ()) -> TableState:
    existing = {
        name: ExistingColumn(name, kind) for name, kind in (("salesorderid", "Uniqueidentifier"), *columns)
    }
    return TableState("salesorder", "salesorders", existing, keys)


ORDERS = Feature("orders", columns=(ORDER_ID, NOTE), keys=(ORDER_KEY,))


def test_an_empty_org_gets_publisher_solution_columns_and_keys_in_dependency_order() -> None:
    """Nothing exists: create the publisher, the solution, the missing column and the key, and wait for the key."""
    state = DataverseState(None, None, {"salesorder": salesorder(("description", "Memo"))})

    plan = plan_dataverse(declaration(ORDERS), state, TARGET)

    assert [action.kind for action in plan.actions] == [
        ActionKind.CREATE_PUBLISHER,
        ActionKind.CREATE_SOLUTION,
        ActionKind.CREATE_COLUMN,
        ActionKind.CREATE_KEY,
    ]
    assert plan.actions[2].what == "salesorder.new_amazonorderid (String, 100)"
    assert plan.keys_to_wait_for == [ORDER_KEY]
    assert plan.problems == []


def test_a_publisher_with_the_prefix_is_reused_for_a_new_solution() -> None:
    """An existing publisher with DATAVERSE_PREFIX's prefix owns the new solution; none is created."""
    state = DataverseState(None, Publisher("p-9", "DefaultPublisherorg", "new"), {"salesorder": salesorder()})

    plan = plan_dataverse(declaration(), state, TARGET)

    assert [action.kind for action in plan.actions] == [ActionKind.CREATE_SOLUTION]
    assert "DefaultPublisherorg" in plan.notes[0]


def test_everything_in_place_means_no_action() -> None:
    """Columns of the declared types and an Active key: no action, nothing to wait for."""
    active = ExistingKey("new_amazonorderkey", ("new_amazonorderid",), KeyIndexStatus.ACTIVE)
    state = DataverseState(
        SOLUTION,
        None,
        {"salesorder": salesorder(("new_amazonorderid", "String"), ("description", "Memo"), keys=(active,))},
    )

    plan = plan_dataverse(declaration(ORDERS), state, TARGET)

    assert (plan.changes, plan.problems, plan.keys_to_wait_for) == (False, [], [])
    assert plan.in_place == 4  # solution, two columns, key


def test_a_column_of_another_type_names_table_column_expected_and_found() -> None:
    """new_amazonorderid existing as an Integer is a problem with every fact an admin needs."""
    state = DataverseState(
        SOLUTION, None, {"salesorder": salesorder(("new_amazonorderid", "Integer"), ("description", "Memo"))}
    )

    plan = plan_dataverse(declaration(ORDERS), state, TARGET)

    assert plan.problems[0].startswith("column salesorder.new_amazonorderid is Integer, expected String")
    assert ActionKind.CREATE_COLUMN not in {action.kind for action in plan.actions}


def test_text_may_go_to_a_single_or_multi_line_column() -> None:
    """A text field finds its column as String or Memo alike: both take the same value."""
    state = DataverseState(
        SOLUTION, None, {"salesorder": salesorder(("new_amazonorderid", "String"), ("description", "String"))}
    )

    assert plan_dataverse(declaration(Feature("o", columns=(NOTE,))), state, TARGET).problems == []


def test_a_missing_column_outside_the_prefix_is_not_created_but_reported() -> None:
    """Only columns under the publisher prefix are created; a missing standard column is a problem."""
    state = DataverseState(SOLUTION, None, {"salesorder": salesorder(("new_amazonorderid", "String"))})

    plan = plan_dataverse(declaration(ORDERS), state, TARGET)

    assert "column salesorder.description does not exist" in plan.problems[0]
    assert ActionKind.CREATE_COLUMN not in {action.kind for action in plan.actions}


def test_a_missing_table_that_is_not_ours_is_one_problem() -> None:
    """Columns and keys on a table the org lacks give one problem for the table, no action."""
    plan = plan_dataverse(declaration(ORDERS), DataverseState(SOLUTION, None, {"salesorder": None}), TARGET)

    assert plan.problems == ["table salesorder does not exist in this org"]
    assert not plan.changes


def test_a_shorter_text_column_is_noted_not_altered() -> None:
    """Our text column holding fewer characters than the app writes is a note; nothing changes."""
    state = DataverseState(
        SOLUTION,
        None,
        {"salesorder": salesorder(("new_amazonorderid", "String"), ("description", "Memo"))},
        text_lengths={"salesorder": {"new_amazonorderid": 20}},
    )

    plan = plan_dataverse(declaration(Feature("o", columns=(ORDER_ID,))), state, TARGET)

    assert "holds 20 characters, the app may write 100" in plan.notes[0]
    assert not plan.changes


def test_keys_are_matched_by_name_or_columns_and_their_index_status_decides() -> None:
    """Same columns under another name serves; a Pending index is waited for; a Failed one or other columns
    under our name are problems."""
    columns = (("new_amazonorderid", "String"), ("description", "Memo"))
    cases = {
        ExistingKey("legacy_key", ("new_amazonorderid",), KeyIndexStatus.PENDING): ([], ["legacy_key"]),
        ExistingKey("new_amazonorderkey", ("new_amazonorderid",), KeyIndexStatus.FAILED): (["Failed"], []),
        ExistingKey("new_amazonorderkey", ("description",), KeyIndexStatus.ACTIVE): (
            ["covers description"],
            [],
        ),
    }
    for key, (problems, waits) in cases.items():
        plan = plan_dataverse(
            declaration(ORDERS),
            DataverseState(SOLUTION, None, {"salesorder": salesorder(*columns, keys=(key,))}),
            TARGET,
        )
        assert [p for p in problems if not any(p in found for found in plan.problems)] == [], plan.problems
        assert [k.name for k in plan.keys_to_wait_for] == waits
        assert not plan.changes


def test_a_managed_solution_or_a_publisher_of_another_prefix_is_refused() -> None:
    """Components cannot go into a managed solution, nor under a publisher whose prefix is not DATAVERSE_PREFIX."""
    managed = Solution("s-1", "AmazonSellerSync", "p-1", managed=True)
    other = Publisher("p-2", "amazonsellersync", "cr123")

    assert (
        "is managed" in plan_dataverse(declaration(), DataverseState(managed, None, {}), TARGET).problems[0]
    )
    assert (
        "prefix 'cr123'" in plan_dataverse(declaration(), DataverseState(None, other, {}), TARGET).problems[0]
    )


ENDPOINT = ServiceBusEndpoint(
    "CRM events", "sb://contoso.servicebus.windows.net/", "crm-events", "key", "secret"
)
STEP = ServiceEndpointStep(
    "product updated",
    ENDPOINT,
    "Update",
    "product",
    ("price",),
    (StepImage("post", ImageType.POST, ("price",)),),
)
MESSAGES: dict[str, str | None] = {"Update": "m-1"}
FILTERS: dict[tuple[str, str], str | None] = {("Update", "product"): "f-1"}


def test_a_new_step_brings_its_endpoint_and_images() -> None:
    """Nothing registered: endpoint, step and image are created, in that order."""
    plan = plan_dataverse(
        declaration(Feature("crm", steps=(STEP,))),
        DataverseState(SOLUTION, None, {}, events=EventState(message_ids=MESSAGES, filter_ids=FILTERS)),
        TARGET,
    )

    assert [action.kind for action in plan.actions] == [
        ActionKind.CREATE_ENDPOINT,
        ActionKind.CREATE_STEP,
        ActionKind.CREATE_IMAGE,
    ]


def test_registered_steps_are_compared_and_never_altered() -> None:
    """A step exactly as declared (image included) is in place; another filtering column or an endpoint
    of another queue is a problem; a table without that message is a problem."""
    endpoint_row = EndpointRow("e-1", "CRM events", 2, 2, "sb://contoso.servicebus.windows.net", "crm-events")
    step_row = StepRow("s-1", "product updated", "e-1", "m-1", "f-1", 40, 1, ("price",))
    image_row = ImageRow("i-1", "post", 1, ("price",))
    same = EventState(
        {"CRM events": endpoint_row},
        {"product updated": step_row},
        {"product updated": [image_row]},
        message_ids=MESSAGES,
        filter_ids=FILTERS,
    )
    steps = declaration(Feature("crm", steps=(STEP,)))

    in_place = plan_dataverse(steps, DataverseState(SOLUTION, None, {}, events=same), TARGET)
    assert (in_place.changes, in_place.problems) == (False, [])

    other_filter = StepRow("s-1", "product updated", "e-1", "m-1", "f-1", 40, 1, ("name",))
    differs = EventState(
        {"CRM events": endpoint_row},
        {"product updated": other_filter},
        {},
        message_ids=MESSAGES,
        filter_ids=FILTERS,
    )
    assert (
        "exists but differs"
        in plan_dataverse(steps, DataverseState(SOLUTION, None, {}, events=differs), TARGET).problems[0]
    )

    other_queue = EndpointRow("e-1", "CRM events", 2, 2, "sb://contoso.servicebus.windows.net", "elsewhere")
    moved = EventState(
        {"CRM events": other_queue},
        {"product updated": step_row},
        {"product updated": [image_row]},
        message_ids=MESSAGES,
        filter_ids=FILTERS,
    )
    assert (
        "never altered"
        in plan_dataverse(steps, DataverseState(SOLUTION, None, {}, events=moved), TARGET).problems[0]
    )

    no_filter = EventState(message_ids={"Update": "m-1"}, filter_ids={("Update", "product"): None})
    problems = plan_dataverse(steps, DataverseState(SOLUTION, None, {}, events=no_filter), TARGET).problems
    assert "has no Update message for product" in problems[-1]


def test_a_custom_table_is_created_with_its_columns_in_one_action() -> None:
    """A missing declared table is one action; its columns ride along instead of being actions of their own."""
    table = CustomTable("new_amazonsettlement", "Amazon settlement", "Amazon settlements", "new_name")
    amount = Column("new_amazonsettlement", "new_amount", ColumnType.MONEY, "Amount")
    state = DataverseState(SOLUTION, None, {"new_amazonsettlement": None})

    plan = plan_dataverse(declaration(Feature("s", tables=(table,), columns=(amount,))), state, TARGET)

    assert [action.kind for action in plan.actions] == [ActionKind.CREATE_TABLE]
    assert plan.problems == []


# --- lookups -------------------------------------------------------------------------------------------------
PAYOUTS = CustomTable("new_payout", "Payout", "Payouts", "new_name")
PAYOUT_ORDER = Lookup("new_payout", "new_salesorderid", "salesorder", "new_salesorder_payout", "Sales order")


def test_a_lookup_is_created_after_the_table_it_sits_on() -> None:
    """A new table with a lookup to salesorder: the table first, then the lookup (with its relationship)."""
    state = DataverseState(SOLUTION, None, {"salesorder": salesorder(), "new_payout": None})

    plan = plan_dataverse(
        declaration(Feature("pay", tables=(PAYOUTS,), lookups=(PAYOUT_ORDER,))), state, TARGET
    )

    assert [action.kind for action in plan.actions] == [ActionKind.CREATE_TABLE, ActionKind.CREATE_LOOKUP]
    assert plan.actions[1].what == "new_payout.new_salesorderid -> salesorder"


def test_a_lookup_in_place_is_left_alone_and_a_column_of_another_type_is_a_problem() -> None:
    """The lookup exists: nothing to do. A text column where the lookup should be: a problem, nothing created."""
    as_lookup = TableState(
        "new_payout", "new_payouts", {"new_salesorderid": ExistingColumn("new_salesorderid", "Lookup")}, ()
    )
    as_text = TableState(
        "new_payout", "new_payouts", {"new_salesorderid": ExistingColumn("new_salesorderid", "String")}, ()
    )
    feature = Feature("pay", tables=(PAYOUTS,), lookups=(PAYOUT_ORDER,))

    in_place = plan_dataverse(
        declaration(feature),
        DataverseState(SOLUTION, None, {"salesorder": salesorder(), "new_payout": as_lookup}),
        TARGET,
    )
    clash = plan_dataverse(
        declaration(feature),
        DataverseState(SOLUTION, None, {"salesorder": salesorder(), "new_payout": as_text}),
        TARGET,
    )

    assert in_place.actions == []
    assert clash.actions == []
    assert clash.problems == [
        "column new_payout.new_salesorderid is String, expected a lookup to salesorder: an existing column is "
        "never altered"
    ]


def test_a_lookup_to_a_table_the_org_lacks_is_a_problem() -> None:
    """Pointing at a table that neither exists nor is declared: named, nothing created."""
    lookup = Lookup("salesorder", "new_payoutid", "new_payout", "new_payout_salesorder", "Payout")

    plan = plan_dataverse(
        declaration(Feature("pay", lookups=(lookup,))),
        DataverseState(SOLUTION, None, {"salesorder": salesorder()}),
        TARGET,
    )

    assert plan.problems == ["lookup salesorder.new_payoutid: table new_payout does not exist in this org"]
