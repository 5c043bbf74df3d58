"""Provisioning the Dynamics -> Amazon direction against the Dataverse emulator through the Web API: columns, the
FBA stock table with its key and product lookup, the Service Bus endpoint and the steps with their post-images,
idempotently; and the registered steps really post RemoteExecutionContexts our parser reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.dataverse_emulator import DataverseEmulator, EventMessage
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.dataverse_seed import PRODUCT_IDS
from shared.crm_setup.declarations import crm_to_amazon, endpoint_body
from shared.crm_setup.registrar import Registrar
from shared.dataverse.client import DataverseClient
from shared.dataverse.events import parse_context
from shared.mapping.config import load_mapping

pytestmark = pytest.mark.sockets

MAPPING = load_mapping(Path(__file__).resolve().parents[2] / "sandbox" / "mapping.toml")
FEATURE = crm_to_amazon(MAPPING)
ENDPOINT = endpoint_body(
    FEATURE.endpoint_name,
    "contoso.servicebus.windows.net",
    "dataverse-events",
    sas_key_name="dataverse-send",
    sas_key="c2VjcmV0",
    connection_string=None,
)


@pytest.fixture
def dataverse() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as emulator:
        emulator.load_seed()
        yield emulator


@pytest.fixture
def client(dataverse: DataverseEmulator) -> Iterator[DataverseClient]:
    client = DataverseClient(dataverse.base_url)
    yield client
    client.close()


def test_everything_is_created_once_and_a_second_run_creates_nothing(
    dataverse: DataverseEmulator, client: DataverseClient
) -> None:
    """The first run creates table, lookup, columns, key, endpoint, four steps and their images; the second only
    brings endpoint, steps and images to the declared values."""
    first = Registrar(client).apply(FEATURE, ENDPOINT)
    dataverse.finish_key_indexes()
    second = Registrar(client).apply(FEATURE, ENDPOINT)
    assert sum(line.startswith("create") for line in first) == 1 + 1 + 8 + 1 + 1 + 4 + 4
    assert [line for line in second if line.startswith("create")] == []
    steps = dataverse.records("sdkmessageprocessingsteps")
    assert len(steps) == 4
    assert {step["mode"] for step in steps} == {1}  # asynchronous, as Service Bus endpoints require
    [endpoint] = dataverse.records("serviceendpoints")
    assert (endpoint["contract"], endpoint["messageformat"], endpoint["path"]) == (2, 2, "dataverse-events")
    assert len(dataverse.records("sdkmessageprocessingstepimages")) == 4


def test_dry_run_changes_nothing(dataverse: DataverseEmulator, client: DataverseClient) -> None:
    """--dry-run says what it would create and creates nothing."""
    planned = Registrar(client, dry_run=True).apply(FEATURE, ENDPOINT)
    assert "create serviceendpoints Amazon Seller Central sync: Dataverse events" in planned
    assert dataverse.records("serviceendpoints") == []
    assert dataverse.records("sdkmessageprocessingsteps") == []


def test_a_registered_step_posts_a_context_with_the_sku_in_its_post_image(
    dataverse: DataverseEmulator, client: DataverseClient
) -> None:
    """A stock change of a product fires the stock step: the Target holds the changed column, the post-image the
    SKU, and the parser reads both."""
    Registrar(client).apply(FEATURE, ENDPOINT)
    sent: list[EventMessage] = []
    dataverse.events.sink = sent.append
    product = PRODUCT_IDS["MUG-CER-350-WHT"]
    person = dataverse.add_user("Pat", "Buyer")
    dataverse.add_token("pat", person)
    api = WebApiClient(dataverse.service_root, token="pat")
    assert api.patch(f"products({product})", {"quantityonhand": 4}).status_code == 204
    assert api.patch(f"products({product})", {"name": "Mug"}).status_code == 204  # not a filtering attribute
    [message] = sent
    event = parse_context(message.body)
    assert event.target is not None
    assert set(event.target.attributes) >= {"quantityonhand"}
    assert "productnumber" not in event.target.attributes
    assert event.value("productnumber") == "MUG-CER-350-WHT"
    assert event.done_by(person)
