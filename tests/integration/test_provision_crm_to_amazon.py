"""The Dynamics -> Amazon feature of `python -m shared.provision dataverse` against the Dataverse emulator: the
shipment columns, the FBA stock table with its product lookup and key, the Service Bus endpoint and the steps
with their post-images; a second run changes nothing; the registered steps post contexts our parser reads."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.dataverse_emulator import DataverseEmulator, EventMessage
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.dataverse_seed import PRODUCT_IDS, seed_out_of_the_box
from shared.config import Settings
from shared.dataverse.client import DataverseClient
from shared.dataverse.event_registration import EventRegistrations
from shared.dataverse.events import parse_context
from shared.dataverse.metadata import DataverseMetadata
from shared.mapping.config import load_mapping
from shared.provision.dataverse import DataverseOptions, DataverseProvisioner
from shared.provision.schema import crm_to_amazon
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.registry import declare_all
from tests.builders import settings_env

pytestmark = pytest.mark.sockets

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "sandbox" / "mapping.toml")
WRITES = (":post:", "create:", "update:", "delete:", "batch")


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as emulator:
        seed_out_of_the_box(emulator)
        yield emulator


def settings(**changes: str | None) -> Settings:
    """The app settings with a Service Bus namespace and the events key (NAME=None removes a setting)."""
    env = settings_env(
        **{
            "ServiceBusConnection__fullyQualifiedNamespace": "contoso.servicebus.windows.net",
            "DATAVERSE_EVENTS_SAS_KEY": "c2VjcmV0",
            **changes,
        }
    )
    return Settings(**env)  # type: ignore[arg-type]


def run(dv: DataverseEmulator, app_settings: Settings | None) -> tuple[bool, str]:
    client = DataverseClient(dv.base_url)
    context = SchemaContext("new_", MAPPING, ("ATVPDKIKX0DER",), app_settings)
    out = io.StringIO()
    provisioner = DataverseProvisioner(
        DataverseMetadata(client),
        EventRegistrations(client),
        declare_all(context, [crm_to_amazon.declare(context)]),
        prefix="new_",
        out=out,
    )
    ok = provisioner.run(DataverseOptions(poll_seconds=0))
    client.close()
    return ok, out.getvalue()


def writes(dv: DataverseEmulator) -> dict[str, int]:
    return {op: n for op, n in dv.requests.snapshot().items() if any(verb in op for verb in WRITES)}


def test_everything_is_created_once_and_a_second_run_changes_nothing(dv: DataverseEmulator) -> None:
    """Table, lookup, columns, key, endpoint, four steps and their images on the first run; only reads after."""
    ok, out = run(dv, settings())
    assert ok, out
    assert "create lookup new_amazonfbastock.new_productid -> product" in out
    assert "c2VjcmV0" not in out  # the shared access key is never printed
    steps = dv.records("sdkmessageprocessingsteps")
    assert sorted(step["name"] for step in steps) == [
        "Amazon sync: price list item create to Amazon",
        "Amazon sync: price list item update to Amazon",
        "Amazon sync: product stock to Amazon",
        "Amazon sync: shipment to Amazon",
    ]
    [endpoint] = dv.records("serviceendpoints")
    assert (endpoint["contract"], endpoint["messageformat"], endpoint["path"]) == (2, 2, "dataverse-events")
    dv.requests.reset()
    again, out = run(dv, settings())
    assert again, out
    assert "no changes" in out
    assert writes(dv) == {}


def test_without_a_shared_access_key_only_columns_and_the_table_are_provisioned(
    dv: DataverseEmulator,
) -> None:
    """Dataverse can post to Service Bus only with a key: without DATAVERSE_EVENTS_SAS_KEY no endpoint or step."""
    ok, out = run(dv, settings(DATAVERSE_EVENTS_SAS_KEY=None))
    assert ok, out
    assert dv.records("serviceendpoints") == []
    assert dv.records("sdkmessageprocessingsteps") == []
    assert "create table new_amazonfbastock" in out


def test_the_stock_step_posts_a_context_with_the_sku_in_its_post_image(dv: DataverseEmulator) -> None:
    """A person's stock change fires the stock step (not a name change): the Target holds the changed column, the
    post-image the SKU, and the parser reads both."""
    assert run(dv, settings())[0]
    sent: list[EventMessage] = []
    dv.events.sink = sent.append
    person = dv.add_user("Pat", "Buyer")
    dv.add_token("pat", person)
    api = WebApiClient(dv.service_root, token="pat")
    product = PRODUCT_IDS["MUG-CER-350-WHT"]
    assert api.patch(f"products({product})", {"quantityonhand": 4}).status_code == 204
    assert api.patch(f"products({product})", {"name": "Mug"}).status_code == 204
    [message] = sent
    event = parse_context(message.body)
    assert event.changed("quantityonhand")
    assert not event.changed("productnumber")
    assert event.value("productnumber") == "MUG-CER-350-WHT"
    assert event.done_by(person)


def test_an_fba_row_binds_its_product_through_the_lookup(dv: DataverseEmulator) -> None:
    """The provisioned lookup is bound as new_productid@odata.bind, as the FBA stock writer does."""
    assert run(dv, settings())[0]
    api = WebApiClient(dv.service_root)
    product = PRODUCT_IDS["MUG-CER-350-WHT"]
    body = {"new_name": "MUG @ Amazon.com", "new_productid@odata.bind": f"/products({product})"}
    assert api.patch(f"new_amazonfbastocks(new_stockkey='ATVPDKIKX0DER_{product}')", body).status_code == 204
    [row] = dv.records("new_amazonfbastocks")
    assert row["new_productid"] == product
