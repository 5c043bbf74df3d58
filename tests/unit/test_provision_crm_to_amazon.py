"""The Dynamics -> Amazon feature's declaration, and the lookups it needs the plan to create."""

from __future__ import annotations

from pathlib import Path

from shared.config import Settings
from shared.dataverse.metadata import Solution
from shared.mapping.config import load_mapping
from shared.model.crm_schema import ImageType
from shared.provision.plan import SolutionTarget
from shared.provision.schema import crm_to_amazon
from shared.provision.schema.context import SchemaContext
from tests.builders import settings_env

TARGET = SolutionTarget("AmazonSellerSync", "amazonsellersync", "new")
SOLUTION = Solution("s-1", "AmazonSellerSync", "p-1", managed=False)


def context(tmp_path: Path | None = None, mapping: str = "", **env: str | None) -> SchemaContext:
    mapping_file = None
    if tmp_path is not None:
        mapping_file = tmp_path / "mapping.toml"
        mapping_file.write_text(mapping)
    settings = Settings(
        **settings_env(  # type: ignore[arg-type]
            **{
                "ServiceBusConnection__fullyQualifiedNamespace": "contoso.servicebus.windows.net",
                "DATAVERSE_EVENTS_SAS_KEY": "c2VjcmV0",
                **env,
            }
        )
    )
    return SchemaContext("new_", load_mapping(mapping_file), ("ATVPDKIKX0DER",), settings)


def test_steps_post_to_the_events_queue_with_the_columns_a_flow_needs_in_their_post_image() -> None:
    """Stock, price (create and update) and shipment steps; each post-image carries what its Target may not."""
    feature = crm_to_amazon.declare(context())
    steps = {step.name: step for step in feature.steps}
    stock = steps["Amazon sync: product stock to Amazon"]
    shipment = steps["Amazon sync: shipment to Amazon"]
    assert (stock.message, stock.table, stock.filtering_columns) == ("Update", "product", ("quantityonhand",))
    assert stock.images[0].image_type is ImageType.POST
    assert set(stock.images[0].columns) == {"productnumber", "quantityonhand", "statecode"}
    assert {"new_amazonorderid", "new_amazonfulfillmentchannel", "new_trackingnumber"} <= set(
        shipment.images[0].columns
    )
    assert {step.endpoint.queue for step in feature.steps} == {"dataverse-events"}
    assert {step.endpoint.namespace_address for step in feature.steps} == {
        "sb://contoso.servicebus.windows.net/"
    }


def test_without_the_shared_access_key_no_step_is_declared() -> None:
    """Dataverse can only post with a key: no key, no endpoint; the columns and the table are still declared."""
    feature = crm_to_amazon.declare(context(DATAVERSE_EVENTS_SAS_KEY=None))
    assert feature.steps == ()
    assert [table.name for table in feature.tables] == ["new_amazonfbastock"]


def test_a_renamed_column_in_the_mapping_file_is_the_one_declared(tmp_path: Path) -> None:
    """[columns.salesorder] tracking_number = "{prefix}tracking" provisions new_tracking."""
    feature = crm_to_amazon.declare(
        context(tmp_path, '[columns.salesorder]\ntracking_number = "{prefix}tracking"\n')
    )
    assert "new_tracking" in {column.name for column in feature.columns}
    assert "new_trackingnumber" not in {column.name for column in feature.columns}
