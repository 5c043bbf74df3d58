"""The emulator's definition endpoints (EntityDefinitions, Keys, RelationshipDefinitions, solutions), over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.dataverse_emulator import DataverseEmulator, KeyIndexTiming
from sandbox.dataverse_emulator.metadata.naming import plural
from sandbox.dataverse_emulator.webapi_client import WebApiClient, batch_body, error_of, label, literal
from sandbox.dataverse_seed import CURRENCY_IDS, PRICE_LIST_ID, SOLUTION_NAME

pytestmark = pytest.mark.sockets

P = "new_"
CRM = "Microsoft.Dynamics.CRM."


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    # Two requests Pending, two InProgress: slow enough to watch, fast enough for a test.
    with DataverseEmulator(prefix=P, key_index_timing=KeyIndexTiming(2, 2)) as emulator:
        emulator.load_seed()
        yield emulator


@pytest.fixture
def api(dv: DataverseEmulator) -> WebApiClient:
    return WebApiClient(dv.service_root)


def definition(table: str) -> str:
    return f"EntityDefinitions(LogicalName='{table}')"


def string_column(schema_name: str, max_length: int = 100, **extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": CRM + "StringAttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(schema_name),
        "RequiredLevel": {"Value": "None", "CanBeChanged": True},
        "MaxLength": max_length,
        "FormatName": {"Value": "Text"},
        **extra,
    }


def bank_account_table(**extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": CRM + "EntityMetadata",
        "SchemaName": "new_BankAccount",
        "DisplayName": label("Bank Account"),
        "DisplayCollectionName": label("Bank Accounts"),
        "OwnershipType": "UserOwned",
        "IsActivity": False,
        "HasNotes": False,
        "HasActivities": False,
        "Attributes": [string_column("new_AccountName", IsPrimaryName=True)],
        **extra,
    }


def add_column(api: WebApiClient, table: str, body: dict[str, Any], **headers: str) -> None:
    response = api.post(f"{definition(table)}/Attributes", body, headers=headers)
    assert response.status_code == 204, response.text


def key_status(api: WebApiClient, table: str, key: str) -> str:
    response = api.get(f"{definition(table)}/Keys(LogicalName='{key}')")
    assert response.status_code == 200, response.text
    status: str = response.json()["EntityKeyIndexStatus"]
    return status


# --- reading definitions ---------------------------------------------------------------------------------------
def test_a_table_definition_is_read_by_logical_name(api: WebApiClient) -> None:
    """EntityDefinitions(LogicalName='salesorder') names the entity set, the primary columns and the type code."""
    body = api.get(definition("salesorder")).json()
    assert body["@odata.context"].endswith("$metadata#EntityDefinitions/$entity")
    assert (body["LogicalName"], body["SchemaName"], body["EntitySetName"]) == (
        "salesorder",
        "SalesOrder",
        "salesorders",
    )
    assert (body["PrimaryIdAttribute"], body["PrimaryNameAttribute"], body["ObjectTypeCode"]) == (
        "salesorderid",
        "name",
        1088,
    )
    assert body["IsCustomEntity"] is False
    assert body["DisplayName"]["UserLocalizedLabel"]["Label"] == "Order"


def test_select_returns_the_named_properties_and_the_metadata_id(api: WebApiClient) -> None:
    """$select limits a definition to the named properties; MetadataId always comes along."""
    body = api.get(definition("account"), {"$select": "LogicalName,EntitySetName"}).json()
    assert set(body) == {"@odata.context", "MetadataId", "LogicalName", "EntitySetName"}
    status, code, message = error_of(api.get(definition("account"), {"$select": "Nope"}))
    assert (status, code) == (400, "0x80060888")
    assert "Nope" in message


def test_expand_lists_the_columns_and_the_keys(api: WebApiClient) -> None:
    """$expand=Attributes,Keys adds the table's columns (provisioned ones included) and its keys with their status."""
    body = api.get(
        definition("salesorder"), {"$expand": "Attributes($select=LogicalName,AttributeType),Keys"}
    ).json()
    columns = {item["LogicalName"]: item["AttributeType"] for item in body["Attributes"]}
    assert columns[f"{P}amazonorderid"] == "String"
    assert columns["customerid"] == "Customer"
    [key] = body["Keys"]
    assert (key["KeyAttributes"], key["EntityKeyIndexStatus"]) == ([f"{P}amazonorderid"], "Active")


def test_the_table_list_can_be_filtered_by_logical_name(api: WebApiClient) -> None:
    """GET EntityDefinitions?$filter=LogicalName eq 'x' finds that one table."""
    body = api.get(
        "EntityDefinitions", {"$filter": "LogicalName eq 'invoice'", "$select": "EntitySetName"}
    ).json()
    assert [item["EntitySetName"] for item in body["value"]] == ["invoices"]


def test_an_unknown_table_is_a_404_with_a_dataverse_error(api: WebApiClient) -> None:
    """A definition of a table that does not exist is 404 ObjectDoesNotExist."""
    status, code, message = error_of(api.get(definition("new_nothing")))
    assert (status, code) == (404, "0x80040217")
    assert "new_nothing" in message


def test_a_column_is_read_through_its_derived_type(api: WebApiClient) -> None:
    """Attributes(LogicalName='y')/Microsoft.Dynamics.CRM.StringAttributeMetadata gives the string's own properties."""
    path = (
        f"{definition('salesorder')}/Attributes(LogicalName='{P}amazonorderid')/{CRM}StringAttributeMetadata"
    )
    body = api.get(path).json()
    assert body["@odata.context"].endswith(f"/Attributes/{CRM}StringAttributeMetadata/$entity")
    assert (body["MaxLength"], body["FormatName"], body["IsCustomAttribute"]) == (
        100,
        {"Value": "Text"},
        True,
    )
    assert body["SchemaName"] == f"{P}AmazonOrderId"
    wrong = api.get(path.replace("StringAttributeMetadata", "MoneyAttributeMetadata"))
    assert wrong.status_code == 404


def test_a_cast_segment_filters_the_columns_by_type(api: WebApiClient) -> None:
    """Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata lists the money columns only."""
    body = api.get(f"{definition('salesorder')}/Attributes/{CRM}MoneyAttributeMetadata").json()
    names = {item["LogicalName"] for item in body["value"]}
    assert {"totalamount", f"{P}amazongrandtotal"} <= names
    assert {item["AttributeType"] for item in body["value"]} == {"Money"}


def test_choice_options_are_expanded(api: WebApiClient) -> None:
    """$expand=OptionSet on a choice column lists its values and labels."""
    path = (
        f"{definition('serviceendpoint')}/Attributes(LogicalName='contract')/{CRM}PicklistAttributeMetadata"
    )
    options = api.get(path, {"$expand": "OptionSet"}).json()["OptionSet"]["Options"]
    assert {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in options}[2] == "Queue"


# --- creating columns ----------------------------------------------------------------------------------------
def test_a_new_column_answers_204_and_becomes_writable(api: WebApiClient) -> None:
    """Writing a column before it exists is the unknown-property error; once created (204) it is written and read."""
    refused = api.post("accounts", {"name": "Shop", f"{P}vatnumber": "DE1"})
    assert error_of(refused)[:2] == (400, "0x80048d19")
    assert f"'{P}vatnumber' does not exist" in error_of(refused)[2]
    response = api.post(f"{definition('account')}/Attributes", string_column(f"{P}VatNumber", 20))
    assert response.status_code == 204
    assert f"{definition('account')}/Attributes(" in response.headers["OData-EntityId"]
    created = api.post(
        "accounts", {"name": "Shop", f"{P}vatnumber": "DE1"}, headers={"Prefer": "return=representation"}
    )
    assert created.json()[f"{P}vatnumber"] == "DE1"
    too_long = api.post("accounts", {"name": "Shop", f"{P}vatnumber": "X" * 21})
    assert error_of(too_long)[:2] == (400, "0x80044331")


@pytest.mark.parametrize(
    ("metadata_type", "attribute_type", "extra"),
    [
        ("StringAttributeMetadata", "String", {"MaxLength": 50}),
        ("MemoAttributeMetadata", "Memo", {"MaxLength": 5000, "Format": "TextArea"}),
        ("DecimalAttributeMetadata", "Decimal", {"Precision": 4, "MinValue": 0, "MaxValue": 1000}),
        ("MoneyAttributeMetadata", "Money", {"PrecisionSource": 2}),
        ("IntegerAttributeMetadata", "Integer", {"MinValue": 0, "MaxValue": 100, "Format": "None"}),
        ("BigIntAttributeMetadata", "BigInt", {}),
        ("DateTimeAttributeMetadata", "DateTime", {"Format": "DateOnly"}),
        (
            "BooleanAttributeMetadata",
            "Boolean",
            {
                "OptionSet": {
                    "TrueOption": {"Value": 1, "Label": label("Yes")},
                    "FalseOption": {"Value": 0, "Label": label("No")},
                }
            },
        ),
        (
            "PicklistAttributeMetadata",
            "Picklist",
            {"OptionSet": {"Options": [{"Value": 1, "Label": label("One")}]}},
        ),
    ],
)
def test_each_documented_column_type_can_be_created(
    api: WebApiClient, metadata_type: str, attribute_type: str, extra: dict[str, Any]
) -> None:
    """A POSTed definition of each documented type becomes a column of that AttributeType."""
    body = {
        "@odata.type": CRM + metadata_type,
        "SchemaName": f"{P}Sample",
        "DisplayName": label("Sample"),
        **extra,
    }
    add_column(api, "contact", body)
    read = api.get(f"{definition('contact')}/Attributes(LogicalName='{P}sample')").json()
    assert (read["AttributeType"], read["@odata.type"]) == (attribute_type, f"#{CRM}{metadata_type}")
    assert read["DisplayName"]["LocalizedLabels"][0]["Label"] == "Sample"


def test_creating_a_column_that_exists_is_duplicate_attribute_schema_name(api: WebApiClient) -> None:
    """A second column with the same schema name is 0x80047013 DuplicateAttributeSchemaName."""
    status, code, _ = error_of(
        api.post(f"{definition('salesorder')}/Attributes", string_column(f"{P}AmazonOrderId"))
    )
    assert (status, code) == (400, "0x80047013")


def test_an_unknown_attribute_type_cannot_be_resolved(api: WebApiClient) -> None:
    """An @odata.type the model does not know is the OData reader's payload error."""
    body = {**string_column(f"{P}Odd"), "@odata.type": CRM + "FancyAttributeMetadata"}
    status, code, message = error_of(api.post(f"{definition('account')}/Attributes", body))
    assert (status, code) == (400, "0x80048d19")
    assert "could not be resolved by the model" in message


def test_lookups_and_unprefixed_names_are_refused(api: WebApiClient) -> None:
    """A lookup comes with a relationship, and a custom name needs a customization prefix."""
    lookup = {
        "@odata.type": CRM + "LookupAttributeMetadata",
        "SchemaName": f"{P}ParentId",
        "DisplayName": label("P"),
    }
    assert error_of(api.post(f"{definition('account')}/Attributes", lookup))[0] == 400
    assert error_of(api.post(f"{definition('account')}/Attributes", string_column("nounderscore")))[0] == 400
    assert api.post(f"{definition('new_nothing')}/Attributes", string_column(f"{P}X")).status_code == 404


def test_memo_and_choice_columns_can_be_filtered(api: WebApiClient) -> None:
    """A memo column answers contains() case-insensitively and a choice column compares as a number."""
    add_column(api, "account", {"@odata.type": CRM + "MemoAttributeMetadata", "SchemaName": f"{P}Notes"})
    options = {"Options": [{"Value": 1, "Label": label("Open")}, {"Value": 2, "Label": label("Closed")}]}
    add_column(
        api,
        "account",
        {"@odata.type": CRM + "PicklistAttributeMetadata", "SchemaName": f"{P}Stage", "OptionSet": options},
    )
    api.post("accounts", {"name": "A", f"{P}notes": "Paid by Wire transfer", f"{P}stage": 2})
    api.post("accounts", {"name": "B", f"{P}notes": "card", f"{P}stage": 1})
    found = api.get(
        "accounts", {"$filter": f"contains({P}notes,'wire') and {P}stage eq 2", "$select": "name"}
    )
    assert [row["name"] for row in found.json()["value"]] == ["A"]


def test_number_columns_keep_their_range_and_precision(api: WebApiClient) -> None:
    """A Decimal column rounds to its precision and refuses values outside MinValue..MaxValue."""
    add_column(
        api,
        "account",
        {
            "@odata.type": CRM + "DecimalAttributeMetadata",
            "SchemaName": f"{P}Rate",
            "Precision": 2,
            "MinValue": 0,
            "MaxValue": 10,
        },
    )
    created = api.post(
        "accounts", {"name": "A", f"{P}rate": 1.005}, headers={"Prefer": "return=representation"}
    )
    assert created.json()[f"{P}rate"] == 1.01
    status, code, message = error_of(api.post("accounts", {"name": "A", f"{P}rate": 11}))
    assert (status, code) == (400, "0x80044331")
    assert "outside the valid range" in message


def test_choice_columns_number_their_options_and_refuse_others(api: WebApiClient) -> None:
    """Options created without values are numbered from the publisher's prefix; other values are refused."""
    options = {"Options": [{"Label": label("Open")}, {"Label": label("Settled")}]}
    add_column(
        api,
        "account",
        {"@odata.type": CRM + "PicklistAttributeMetadata", "SchemaName": f"{P}Stage", "OptionSet": options},
        **{"MSCRM.SolutionUniqueName": SOLUTION_NAME},
    )
    assert api.post("accounts", {"name": "A", f"{P}stage": 100000001}).status_code == 204
    assert error_of(api.post("accounts", {"name": "A", f"{P}stage": 7}))[:2] == (400, "0x80044331")


# --- creating tables -------------------------------------------------------------------------------------------
def test_a_custom_table_becomes_an_entity_set_with_rows(api: WebApiClient) -> None:
    """POST EntityDefinitions makes a table whose entity set is the plural of its logical name; rows follow."""
    response = api.post("EntityDefinitions", bank_account_table())
    assert response.status_code == 204
    assert "/EntityDefinitions(" in response.headers["OData-EntityId"]
    body = api.get(definition("new_bankaccount")).json()
    assert (body["EntitySetName"], body["PrimaryIdAttribute"], body["PrimaryNameAttribute"]) == (
        "new_bankaccounts",
        "new_bankaccountid",
        "new_accountname",
    )
    assert body["IsCustomEntity"] is True
    assert body["ObjectTypeCode"] >= 10000
    created = api.post(
        "new_bankaccounts", {"new_accountname": "Main"}, headers={"Prefer": "return=representation"}
    )
    assert created.status_code == 201
    assert (created.json()["statecode"], created.json()["statuscode"]) == (0, 1)
    assert (
        api.get("new_bankaccounts", {"$filter": "new_accountname eq 'main'"}).json()["value"][0][
            "new_accountname"
        ]
        == "Main"
    )


def test_the_entity_set_name_can_be_given(api: WebApiClient) -> None:
    """EntitySetName in the definition replaces the derived plural."""
    assert api.post("EntityDefinitions", bank_account_table(EntitySetName="new_banks")).status_code == 204
    assert api.get("new_banks").status_code == 200
    assert api.get("new_bankaccounts").status_code == 404


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("new_bankaccount", "new_bankaccounts"),
        ("new_category", "new_categories"),
        ("new_box", "new_boxes"),
        ("new_key", "new_keys"),
    ],
)
def test_custom_entity_sets_are_english_plurals(name: str, expected: str) -> None:
    """A custom table's default collection name is its logical name in the English plural."""
    assert plural(name) == expected


def test_a_table_needs_exactly_one_primary_name_and_a_free_name(api: WebApiClient) -> None:
    """Without a primary name column the table is refused; a second table of the same name is EntityAlreadyExists."""
    assert error_of(api.post("EntityDefinitions", bank_account_table(Attributes=[])))[0] == 400
    assert api.post("EntityDefinitions", bank_account_table()).status_code == 204
    assert error_of(api.post("EntityDefinitions", bank_account_table()))[:2] == (400, "0x80048403")


def test_custom_tables_take_filter_batch_and_upsert_by_key(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A custom table with a key is upserted by that key, read by $filter and written in $batch like any other."""
    assert api.post("EntityDefinitions", bank_account_table()).status_code == 204
    add_column(api, "new_bankaccount", string_column(f"{P}Iban", 34))
    assert (
        api.post(
            f"{definition('new_bankaccount')}/Keys",
            {"SchemaName": f"{P}IbanKey", "KeyAttributes": [f"{P}iban"]},
        ).status_code
        == 204
    )
    dv.finish_key_indexes()
    key_url = f"new_bankaccounts({P}iban={literal('DE89370400440532013000')})"
    created = api.patch(key_url, {"new_accountname": "Main"}, headers={"Prefer": "return=representation"})
    updated = api.patch(key_url, {"new_accountname": "Main EUR"}, headers={"Prefer": "return=representation"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["new_bankaccountid"] == updated.json()["new_bankaccountid"]
    posts = [("new_bankaccounts", '{"new_accountname": "Savings", "new_iban": "DE02120300000000202051"}')]
    sent = api.post_batch(batch_body("batch_custom", posts), "batch_custom")
    assert sent.status_code == 200
    assert "204 No Content" in sent.text
    names = {
        row["new_accountname"]
        for row in api.get("new_bankaccounts", {"$orderby": "new_accountname"}).json()["value"]
    }
    assert names == {"Main EUR", "Savings"}


# --- keys ---------------------------------------------------------------------------------------------------------
def test_a_key_index_goes_pending_in_progress_active_over_requests(api: WebApiClient) -> None:
    """A new key's index is built in the background: Pending, then InProgress, then Active, request by request."""
    add_column(api, "account", string_column(f"{P}ErpId", 40))
    response = api.post(
        f"{definition('account')}/Keys",
        {"SchemaName": f"{P}ErpKey", "KeyAttributes": [f"{P}erpid"], "DisplayName": label("ERP")},
    )
    assert response.status_code == 204
    assert "/Keys(" in response.headers["OData-EntityId"]
    seen = [key_status(api, "account", f"{P}erpkey") for _ in range(5)]
    assert seen == ["Pending", "InProgress", "InProgress", "Active", "Active"]
    keys = api.get(f"{definition('account')}/Keys").json()["value"]
    assert {key["SchemaName"]: key["EntityKeyIndexStatus"] for key in keys}[f"{P}ErpKey"] == "Active"


def test_upserts_and_binds_by_a_key_wait_for_its_index(dv: DataverseEmulator, api: WebApiClient) -> None:
    """Until its index is Active a key is not addressable: the upsert and the bind are refused as an unknown key."""
    add_column(api, "account", string_column(f"{P}ErpId", 40))
    api.post(f"{definition('account')}/Keys", {"SchemaName": f"{P}ErpKey", "KeyAttributes": [f"{P}erpid"]})
    by_key = f"accounts({P}erpid='E-1')"
    status, code, message = error_of(api.patch(by_key, {"name": "ERP customer"}))
    assert (status, code) == (400, "0x80060888")
    assert "The key in the request URI is not valid" in message
    bind = {
        "name": "x",
        "customerid_account@odata.bind": f"/{by_key}",
        "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})",
    }
    assert error_of(api.post("salesorders", bind))[:2] == (400, "0x80060888")
    dv.finish_key_indexes()
    assert api.patch(by_key, {"name": "ERP customer"}).status_code == 204
    bind["transactioncurrencyid@odata.bind"] = f"/transactioncurrencies({CURRENCY_IDS['USD']})"
    assert api.post("salesorders", bind).status_code == 204


def test_an_index_over_duplicate_rows_fails(dv: DataverseEmulator, api: WebApiClient) -> None:
    """Rows that already repeat the key's values make the index job fail, and the key stays unusable."""
    add_column(api, "account", string_column(f"{P}ErpId", 40))
    for name in ("A", "B"):
        assert api.post("accounts", {"name": name, f"{P}erpid": "SAME"}).status_code == 204
    api.post(f"{definition('account')}/Keys", {"SchemaName": f"{P}ErpKey", "KeyAttributes": [f"{P}erpid"]})
    dv.finish_key_indexes()
    assert key_status(api, "account", f"{P}erpkey") == "Failed"
    assert api.get(f"accounts({P}erpid='SAME')").status_code == 400


def test_an_injected_index_failure_leaves_the_key_failed(dv: DataverseEmulator, api: WebApiClient) -> None:
    """fail_key_index() makes a key's job end in Failed even over clean data."""
    add_column(api, "account", string_column(f"{P}ErpId", 40))
    dv.fail_key_index("account", f"{P}erpkey")
    api.post(f"{definition('account')}/Keys", {"SchemaName": f"{P}ErpKey", "KeyAttributes": [f"{P}erpid"]})
    statuses = [key_status(api, "account", f"{P}erpkey") for _ in range(5)]
    assert statuses[-1] == "Failed"
    assert "Active" not in statuses


def test_key_definitions_are_checked(api: WebApiClient) -> None:
    """A key over a memo column, over an unknown column, or repeating another key's columns is refused."""
    add_column(api, "account", {"@odata.type": CRM + "MemoAttributeMetadata", "SchemaName": f"{P}Notes"})
    keys = f"{definition('account')}/Keys"
    assert error_of(api.post(keys, {"SchemaName": f"{P}NotesKey", "KeyAttributes": [f"{P}notes"]}))[0] == 400
    assert error_of(api.post(keys, {"SchemaName": f"{P}NoKey", "KeyAttributes": [f"{P}nothing"]}))[0] == 404
    again = {"SchemaName": f"{P}MarketKey2", "KeyAttributes": [f"{P}amazonmarketplaceid"]}
    assert error_of(api.post(keys, again))[0] == 400


def test_a_deleted_key_is_gone(api: WebApiClient) -> None:
    """DELETE Keys(LogicalName='k') removes the key: its URL form stops working."""
    key = f"{definition('account')}/Keys(LogicalName='{P}amazonmarketplacekey')"
    assert api.get("accounts(new_amazonmarketplaceid='X')").status_code == 404
    assert api.delete(key).status_code == 204
    assert api.get(key).status_code == 404
    assert api.get("accounts(new_amazonmarketplaceid='X')").status_code == 400


# --- solutions and relationships -------------------------------------------------------------------------------
def test_definitions_created_with_a_solution_header_become_its_components(api: WebApiClient) -> None:
    """MSCRM.SolutionUniqueName records a new table, column and key as components of that unmanaged solution."""
    publisher = {
        "uniquename": "contoso",
        "friendlyname": "Contoso",
        "customizationprefix": "cts",
        "customizationoptionvalueprefix": 72700,
    }
    assert api.post("publishers", publisher, headers={"Prefer": "return=representation"}).status_code == 201
    publisher_id = api.get("publishers", {"$filter": "uniquename eq 'contoso'"}).json()["value"][0][
        "publisherid"
    ]
    solution = {
        "uniquename": "Finance",
        "friendlyname": "Finance",
        "version": "1.0.0.0",
        "publisherid@odata.bind": f"/publishers({publisher_id})",
    }
    assert api.post("solutions", solution).status_code == 204
    header = {"MSCRM.SolutionUniqueName": "Finance"}
    assert (
        api.post(
            "EntityDefinitions",
            bank_account_table(
                SchemaName="cts_Settlement", Attributes=[string_column("cts_Name", IsPrimaryName=True)]
            ),
            headers=header,
        ).status_code
        == 204
    )
    add_column(api, "cts_settlement", string_column("cts_Reference"), **header)
    assert (
        api.post(
            f"{definition('cts_settlement')}/Keys",
            {"SchemaName": "cts_SettlementKey", "KeyAttributes": ["cts_reference"]},
            headers=header,
        ).status_code
        == 204
    )
    solution_id = api.get("solutions", {"$filter": "uniquename eq 'Finance'"}).json()["value"][0][
        "solutionid"
    ]
    components = api.get("solutioncomponents", {"$filter": f"_solutionid_value eq {solution_id}"}).json()[
        "value"
    ]
    assert sorted(component["componenttype"] for component in components) == [1, 2, 2, 14]


def test_an_unknown_solution_is_refused_before_anything_is_created(api: WebApiClient) -> None:
    """A definition sent with the name of a solution that does not exist creates nothing."""
    response = api.post(
        f"{definition('account')}/Attributes",
        string_column(f"{P}Orphan"),
        headers={"MSCRM.SolutionUniqueName": "Nope"},
    )
    assert error_of(response)[:2] == (404, "0x80040217")
    assert api.get(f"{definition('account')}/Attributes(LogicalName='{P}orphan')").status_code == 404


def test_solution_components_are_read_only(api: WebApiClient) -> None:
    """solutioncomponent rows are written by the platform only."""
    assert error_of(api.post("solutioncomponents", {"componenttype": 1}))[0] == 400


def test_a_one_to_many_relationship_adds_a_bindable_lookup(api: WebApiClient) -> None:
    """POST RelationshipDefinitions adds a lookup to the referencing table, bound through its navigation property."""
    assert api.post("EntityDefinitions", bank_account_table()).status_code == 204
    relationship = {
        "@odata.type": CRM + "OneToManyRelationshipMetadata",
        "SchemaName": "new_account_new_bankaccount",
        "ReferencedEntity": "account",
        "ReferencedAttribute": "accountid",
        "ReferencingEntity": "new_bankaccount",
        "Lookup": {
            "@odata.type": CRM + "LookupAttributeMetadata",
            "SchemaName": "new_AccountId",
            "DisplayName": label("Account"),
        },
    }
    response = api.post("RelationshipDefinitions", relationship)
    assert response.status_code == 204
    assert (
        api.get("RelationshipDefinitions(SchemaName='new_account_new_bankaccount')").json()[
            "ReferencingAttribute"
        ]
        == "new_accountid"
    )
    account = api.post("accounts", {"name": "Owner"}, headers={"Prefer": "return=representation"}).json()[
        "accountid"
    ]
    row = api.post(
        "new_bankaccounts",
        {"new_accountname": "Main", "new_accountid@odata.bind": f"/accounts({account})"},
        headers={"Prefer": "return=representation"},
    ).json()
    assert row["_new_accountid_value"] == account
    lookup = api.get(f"{definition('new_bankaccount')}/Attributes(LogicalName='new_accountid')").json()
    assert (lookup["AttributeType"], lookup["Targets"]) == ("Lookup", ["account"])
