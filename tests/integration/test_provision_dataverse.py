"""`python -m shared.provision dataverse` against the Dataverse emulator over sockets: a new org gets the app's
columns and keys in an unmanaged solution, a second run only reads, conflicts and failed indexes are reported,
a dry run writes nothing, and declared event steps are registered once."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.dataverse_emulator import DataverseEmulator, KeyIndexTiming, KeyStatus
from sandbox.dataverse_emulator.tables.platform import COMPONENT_ATTRIBUTE, COMPONENT_ENTITY_KEY
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.dataverse_seed import PRODUCT_IDS, seed_out_of_the_box
from shared.dataverse.client import DataverseClient
from shared.dataverse.event_registration import EventRegistrations
from shared.dataverse.metadata import DataverseMetadata
from shared.mapping.config import load_mapping
from shared.model.crm_schema import (
    Column,
    ColumnType,
    CustomTable,
    Feature,
    ImageType,
    ServiceBusEndpoint,
    ServiceEndpointStep,
    StepImage,
)
from shared.provision.cli import main
from shared.provision.dataverse import DataverseOptions, DataverseProvisioner
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.registry import declare_all

pytestmark = pytest.mark.sockets

WRITE_VERBS = (":post:", "create:", "update:", "delete:", "batch")
ORDERS_KEYS = (
    "new_amazonorderkey",
    "new_amazonorderitemkey",
    "new_amazonmarketplacekey",
    "new_amazonbuyerkey",
)


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    # Index jobs take a few requests each, as they take a while in Dataverse: the command has to wait.
    with DataverseEmulator(key_index_timing=KeyIndexTiming(2, 3)) as emulator:
        seed_out_of_the_box(emulator)
        yield emulator


@pytest.fixture
def settings_for(monkeypatch: pytest.MonkeyPatch):
    """Point the app settings at an emulator (anonymous loopback, as the sandbox does)."""

    def apply(emulator: DataverseEmulator, **extra: str) -> None:
        for name in list(os.environ):
            if name.upper().startswith(("DATAVERSE_", "MAPPING_", "KEY_VAULT", "SPAPI_", "SQS_")):
                monkeypatch.delenv(name, raising=False)
        env = {
            "DATAVERSE_URL": emulator.base_url,
            "DATAVERSE_AUTH": "none",
            "STATE_STORAGE_CONNECTION": "UseDevelopmentStorage=true",
            **extra,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def provision(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["dataverse", "--poll-seconds", "0", *args], out=out, err=out)
    return code, out.getvalue()


def writes(emulator: DataverseEmulator) -> dict[str, int]:
    return {
        name: count
        for name, count in emulator.requests.snapshot().items()
        if any(verb in name for verb in WRITE_VERBS)
    }


def components(emulator: DataverseEmulator, kind: int) -> int:
    return sum(1 for row in emulator.records("solutioncomponents") if row["componenttype"] == kind)


def test_a_new_org_gets_the_columns_and_active_keys_in_one_unmanaged_solution(dv, settings_for) -> None:
    """The first run creates the solution, 12 columns and 4 keys with MSCRM.SolutionUniqueName, waits for every
    index to be Active, and an upsert by the new key then works."""
    settings_for(dv)
    code, output = provision()

    assert code == 0, output
    assert [row["uniquename"] for row in dv.records("solutions")] == ["AmazonSellerSync"]
    # Order sync: 12 columns, 4 keys. Finance: 3 tables (their columns come with them), 5 columns on invoice and
    # its line, 5 lookups (each with its relationship), 5 keys. Dynamics -> Amazon: the FBA stock table, 3
    # shipment columns on salesorder, its product lookup, 1 key (no event steps without DATAVERSE_EVENTS_SAS_KEY).
    assert (components(dv, COMPONENT_ATTRIBUTE), components(dv, COMPONENT_ENTITY_KEY)) == (89, 10)
    tables = ("salesorder", "salesorderdetail", "account", "contact")
    assert {dv.key_status(table, key) for table, key in zip(tables, ORDERS_KEYS, strict=True)} == {
        KeyStatus.ACTIVE
    }
    assert writes(dv) == {
        "create:solutions": 1,
        "metadata:post:entitydefinitions": 4,
        "metadata:post:attributes": 20,
        "metadata:post:relationshipdefinitions": 6,
        "metadata:post:keys": 10,
    }
    assert "+ create column salesorder.new_amazonorderid (String, 100)" in output
    assert "done: 41 created" in output
    api = WebApiClient(dv.service_root)
    assert (
        api.patch("accounts(new_amazonmarketplaceid='ATVPDKIKX0DER')", {"name": "Amazon.com"}).status_code
        == 204
    )


def test_a_second_run_changes_nothing_and_only_reads(dv, settings_for) -> None:
    """Run again, the command says "no changes" and sends nothing but GET requests."""
    settings_for(dv)
    assert provision()[0] == 0
    dv.requests.reset()

    code, output = provision()

    assert code == 0
    assert "no changes" in output
    assert writes(dv) == {}
    assert set(dv.requests.snapshot()) <= {
        "query:solutions",
        "metadata:get:entitydefinitions",
        "metadata:get:attributes",
    }
    assert "Dataverse requests: 23 (23 reads, 0 writes)" in output


def test_a_column_of_another_type_is_a_clear_error_and_nothing_is_changed(dv, settings_for) -> None:
    """An existing new_amazonorderid that is a Memo column fails the run with table, column, expected and found
    type named; no column, key or solution is created and the column keeps its type."""
    dv.create_attribute(
        "salesorder",
        {
            "@odata.type": "Microsoft.Dynamics.CRM.MemoAttributeMetadata",
            "SchemaName": "new_amazonlastupdatedtime",
            "MaxLength": 100,
        },
    )
    settings_for(dv)

    code, output = provision()

    assert code == 1
    assert "column salesorder.new_amazonlastupdatedtime is Memo, expected DateTime" in output
    assert "nothing was changed" in output
    assert writes(dv) == {}
    api = WebApiClient(dv.service_root)
    found = api.get(
        "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='new_amazonlastupdatedtime')"
    )
    assert found.json()["AttributeType"] == "Memo"


def test_dry_run_prints_the_plan_and_sends_no_write(dv, settings_for) -> None:
    """--dry-run lists every change it would make and sends only reads; the org stays as it was."""
    settings_for(dv)

    code, output = provision("--dry-run")

    assert code == 0
    assert "would create solution AmazonSellerSync" in output
    assert "would create alternate key salesorderdetail.new_amazonorderitemkey" in output
    assert "dry run: would make 41 changes; nothing was written" in output
    assert writes(dv) == {}
    assert dv.records("solutions") == []


def test_a_key_whose_index_fails_is_reported_and_fails_the_run(dv, settings_for) -> None:
    """When Dataverse's index job ends in Failed, the command names the key, says what to do, and exits 1."""
    dv.fail_key_index("salesorder", "new_amazonorderkey")
    settings_for(dv)

    code, output = provision()

    assert code == 1
    assert "alternate key salesorder.new_amazonorderkey: its index job Failed" in output
    assert "ReactivateEntityKey" in output
    assert "key salesorderdetail.new_amazonorderitemkey: Active" in output
    # Run again: the Failed key is a problem found by reading, so nothing more is written.
    dv.requests.reset()
    assert provision()[0] == 1
    assert writes(dv) == {}


def test_keys_still_building_after_the_wait_are_reported(settings_for) -> None:
    """A key index that outlasts --key-timeout makes the run fail with the keys named (not a hang)."""
    with DataverseEmulator(key_index_timing=KeyIndexTiming(10_000, 1)) as slow:
        seed_out_of_the_box(slow)
        settings_for(slow)
        code, output = provision("--key-timeout", "0")

    assert code == 1
    assert "still building after 0 s" in output
    assert "salesorder.new_amazonorderkey" in output


def test_renamed_columns_and_another_prefix_are_provisioned_under_a_new_publisher(
    dv, settings_for, tmp_path: Path
) -> None:
    """With DATAVERSE_PREFIX=contoso_ and a MAPPING_FILE renaming the order id, the publisher is created with the
    prefix contoso and the renamed column and its key exist."""
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns.salesorder]\norder_id = "{prefix}ordernumber"\n', "utf-8")
    settings_for(dv, DATAVERSE_PREFIX="contoso_", MAPPING_FILE=str(mapping))

    code, output = provision("--solution", "ContosoAmazon")

    assert code == 0, output
    [publisher] = [row for row in dv.records("publishers") if row["customizationprefix"] == "contoso"]
    [solution] = dv.records("solutions")
    assert (solution["uniquename"], solution["publisherid"]) == ("ContosoAmazon", publisher["publisherid"])
    assert dv.key_status("salesorder", "contoso_amazonorderkey") is KeyStatus.ACTIVE
    api = WebApiClient(dv.service_root)
    assert api.get(
        "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='contoso_ordernumber')"
    ).ok


# --- custom tables and event steps: the machinery the other features declare into -----------------------------
def provisioner(emulator: DataverseEmulator, *features: Feature) -> tuple[DataverseProvisioner, io.StringIO]:
    client = DataverseClient(emulator.base_url)
    context = SchemaContext("new_", load_mapping(None), ("ATVPDKIKX0DER",))
    out = io.StringIO()
    declaration = declare_all(context, features)
    return DataverseProvisioner(
        DataverseMetadata(client), EventRegistrations(client), declaration, prefix="new_", out=out
    ), out


ENDPOINT = ServiceBusEndpoint(
    "Amazon sync: CRM events", "sb://contoso.servicebus.windows.net/", "crm-events", "dataverse", "c2VjcmV0"
)
PRODUCT_STEP = ServiceEndpointStep(
    "Amazon sync: product price changed",
    ENDPOINT,
    "Update",
    "product",
    filtering_columns=("price", "name"),
    images=(StepImage("post", ImageType.POST, ("productnumber", "price")),),
)
SETTLEMENT = CustomTable("new_amazonsettlement", "Amazon settlement", "Amazon settlements", "new_name")


def test_event_steps_are_registered_once_and_deliver_events(dv) -> None:
    """A declared step gets its Service Bus endpoint (JSON), step and post-image in the solution; a second run
    registers nothing; a price change on a product then reaches the endpoint with the post-image."""
    feature = Feature("crm-to-amazon", steps=(PRODUCT_STEP,))
    first, out = provisioner(dv, feature)
    assert first.run(DataverseOptions(poll_seconds=0)), out.getvalue()
    [endpoint] = dv.records("serviceendpoints")
    assert (endpoint["messageformat"], endpoint["contract"], endpoint["path"]) == (2, 2, "crm-events")
    assert "c2VjcmV0" not in out.getvalue()  # the SAS key is never printed

    dv.requests.reset()
    second, out = provisioner(dv, feature)
    assert second.run(DataverseOptions(poll_seconds=0))
    assert "no changes" in out.getvalue()
    assert writes(dv) == {}
    assert len(dv.records("sdkmessageprocessingsteps")) == 1
    assert len(dv.records("sdkmessageprocessingstepimages")) == 1

    api = WebApiClient(dv.service_root)
    assert api.patch(f"products({PRODUCT_IDS['MUG-CER-350-WHT']})", {"price": 13.5}).status_code == 204
    [event] = dv.events.delivered
    context = json.loads(event.body)
    images = {item["key"]: item["value"] for item in context["PostEntityImages"]}
    assert (event.message, context["PrimaryEntityName"]) == ("Update", "product")
    assert {item["key"] for item in images["post"]["Attributes"]} >= {"productnumber", "price"}


def test_a_step_that_differs_is_reported_not_altered(dv) -> None:
    """A registered step whose filtering columns differ from the declaration is a problem; nothing is written."""
    first, _ = provisioner(dv, Feature("crm-to-amazon", steps=(PRODUCT_STEP,)))
    assert first.run(DataverseOptions(poll_seconds=0))
    changed = ServiceEndpointStep(
        PRODUCT_STEP.name,
        ENDPOINT,
        "Update",
        "product",
        filtering_columns=("statecode",),
        images=PRODUCT_STEP.images,
    )
    dv.requests.reset()
    second, out = provisioner(dv, Feature("crm-to-amazon", steps=(changed,)))

    assert not second.run(DataverseOptions(poll_seconds=0))
    assert "step Amazon sync: product price changed exists but differs" in out.getvalue()
    assert writes(dv) == {}


def test_a_custom_table_is_created_with_its_columns_then_left_alone(dv) -> None:
    """A declared table arrives with its primary name and declared columns in one request; a second run only reads."""
    amount = Column("new_amazonsettlement", "new_amount", ColumnType.MONEY, "Amount")
    feature = Feature("settlements", tables=(SETTLEMENT,), columns=(amount,))
    first, out = provisioner(dv, feature)
    assert first.run(DataverseOptions(poll_seconds=0)), out.getvalue()
    assert writes(dv) == {"create:solutions": 1, "metadata:post:entitydefinitions": 1}
    api = WebApiClient(dv.service_root)
    assert api.post("new_amazonsettlements", {"new_name": "S-1", "new_amount": 12.5}).status_code == 204

    dv.requests.reset()
    second, out = provisioner(dv, feature)
    assert second.run(DataverseOptions(poll_seconds=0))
    assert "no changes" in out.getvalue()
    assert writes(dv) == {}
