"""Rows that make Dataverse post events to Azure Service Bus: serviceendpoint, sdkmessageprocessingstep and
sdkmessageprocessingstepimage (what the Plug-in Registration Tool writes), read and created by name.

Option values from Microsoft's table reference (serviceendpoint, sdkmessageprocessingstep,
sdkmessageprocessingstepimage) and azure-integration: a Service Bus endpoint takes asynchronous steps in the
post-operation stage only, and sends JSON only when messageformat says so (the default is .NET binary XML).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.dataverse import odata
from shared.dataverse.client import DataverseClient
from shared.model.crm_schema import ServiceBusEndpoint, ServiceEndpointStep, StepImage

CONTRACT_QUEUE = 2
AUTH_SAS_KEY = 2
FORMAT_JSON = 2
NAMESPACE_ADDRESS = 2  # namespaceformat: namespaceaddress holds sb://<namespace>.servicebus.windows.net/
USER_CLAIM_NONE = 1
STAGE_POST_OPERATION = 40
MODE_ASYNCHRONOUS = 1
SERVER_ONLY = 0
# The message parameter an image reads: the row written (Create, Update) or the id deleted (Delete).
IMAGE_MESSAGE_PROPERTY = {"Create": "Target", "Update": "Target", "Delete": "Id"}


@dataclass(frozen=True)
class EndpointRow:
    id: str
    name: str
    contract: int | None
    message_format: int | None
    namespace_address: str | None
    queue: str | None


@dataclass(frozen=True)
class StepRow:
    id: str
    name: str
    handler_id: str | None
    message_id: str | None
    filter_id: str | None
    stage: int | None
    mode: int | None
    filtering_columns: tuple[str, ...]


@dataclass(frozen=True)
class ImageRow:
    id: str
    alias: str
    image_type: int | None
    columns: tuple[str, ...]


def column_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated column list (filteringattributes, attributes), order-free."""
    return tuple(sorted(name.strip() for name in (text or "").split(",") if name.strip()))


class EventRegistrations:
    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    # --- reads ------------------------------------------------------------------------------------------
    def endpoint(self, name: str) -> EndpointRow | None:
        select = ("serviceendpointid", "name", "contract", "messageformat", "namespaceaddress", "path")
        for row in self._client.query("serviceendpoints", filter=odata.eq("name", name), select=select):
            return EndpointRow(
                str(row["serviceendpointid"]),
                str(row["name"]),
                row.get("contract"),
                row.get("messageformat"),
                row.get("namespaceaddress"),
                row.get("path"),
            )
        return None

    def message_id(self, message: str) -> str | None:
        rows = self._client.query("sdkmessages", filter=odata.eq("name", message), select=("sdkmessageid",))
        return next((str(row["sdkmessageid"]) for row in rows), None)

    def filter_id(self, message_id: str, table: str) -> str | None:
        condition = (
            f"{odata.eq('primaryobjecttypecode', table)} and "
            f"{odata.eq('_sdkmessageid_value', uuid.UUID(message_id))}"
        )
        rows = self._client.query("sdkmessagefilters", filter=condition, select=("sdkmessagefilterid",))
        return next((str(row["sdkmessagefilterid"]) for row in rows), None)

    def step(self, name: str) -> StepRow | None:
        select = (
            "sdkmessageprocessingstepid",
            "name",
            "stage",
            "mode",
            "filteringattributes",
            "_eventhandler_value",
            "_sdkmessageid_value",
            "_sdkmessagefilterid_value",
        )
        for row in self._client.query(
            "sdkmessageprocessingsteps", filter=odata.eq("name", name), select=select
        ):
            return StepRow(
                str(row["sdkmessageprocessingstepid"]),
                str(row["name"]),
                _id(row.get("_eventhandler_value")),
                _id(row.get("_sdkmessageid_value")),
                _id(row.get("_sdkmessagefilterid_value")),
                row.get("stage"),
                row.get("mode"),
                column_list(row.get("filteringattributes")),
            )
        return None

    def images(self, step_id: str) -> list[ImageRow]:
        rows = self._client.query(
            "sdkmessageprocessingstepimages",
            filter=odata.eq("_sdkmessageprocessingstepid_value", uuid.UUID(step_id)),
            select=("sdkmessageprocessingstepimageid", "entityalias", "imagetype", "attributes"),
        )
        return [
            ImageRow(
                str(row["sdkmessageprocessingstepimageid"]),
                str(row["entityalias"]),
                row.get("imagetype"),
                column_list(row.get("attributes")),
            )
            for row in rows
        ]

    # --- creates ----------------------------------------------------------------------------------------
    def create_endpoint(self, endpoint: ServiceBusEndpoint, solution: str) -> str:
        return self._create("serviceendpoints", endpoint_body(endpoint), solution, "serviceendpointid")

    def create_step(
        self,
        step: ServiceEndpointStep,
        *,
        handler_id: str,
        message_id: str,
        filter_id: str,
        solution: str,
    ) -> str:
        body = step_body(step, handler_id=handler_id, message_id=message_id, filter_id=filter_id)
        return self._create("sdkmessageprocessingsteps", body, solution, "sdkmessageprocessingstepid")

    def create_image(self, step_id: str, message: str, image: StepImage, solution: str) -> str:
        return self._create(
            "sdkmessageprocessingstepimages",
            image_body(step_id, message, image),
            solution,
            "sdkmessageprocessingstepimageid",
        )

    def _create(self, entity_set: str, body: Mapping[str, Any], solution: str, id_column: str) -> str:
        answer = self._client.request(
            "POST",
            entity_set,
            body=body,
            headers={"MSCRM.SolutionUniqueName": solution, "Prefer": "return=representation"},
            idempotent=False,
            what=f"create {entity_set}",
        )
        return str(answer.body[id_column])


# --- bodies (pure) -------------------------------------------------------------------------------------------
def endpoint_body(endpoint: ServiceBusEndpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "description": endpoint.description,
        "contract": CONTRACT_QUEUE,
        "connectionmode": 1,  # Normal
        "authtype": AUTH_SAS_KEY,
        "saskeyname": endpoint.sas_key_name,
        "saskey": endpoint.sas_key,
        "namespaceformat": NAMESPACE_ADDRESS,
        "namespaceaddress": endpoint.namespace_address,
        "path": endpoint.queue,
        "messageformat": FORMAT_JSON,
        "userclaim": USER_CLAIM_NONE,
    }


def step_body(
    step: ServiceEndpointStep, *, handler_id: str, message_id: str, filter_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": step.name,
        "description": step.description or step.name,
        "stage": STAGE_POST_OPERATION,
        "mode": MODE_ASYNCHRONOUS,
        "rank": 1,
        "supporteddeployment": SERVER_ONLY,
        "asyncautodelete": True,  # finished system jobs of the step are cleaned up instead of piling up
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({handler_id})",
        "sdkmessageid@odata.bind": f"/sdkmessages({message_id})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filter_id})",
    }
    if step.filtering_columns:
        body["filteringattributes"] = ",".join(sorted(step.filtering_columns))
    return body


def image_body(step_id: str, message: str, image: StepImage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": image.alias,
        "entityalias": image.alias,
        "imagetype": int(image.image_type),
        "messagepropertyname": IMAGE_MESSAGE_PROPERTY.get(message, "Target"),
        "sdkmessageprocessingstepid@odata.bind": f"/sdkmessageprocessingsteps({step_id})",
    }
    if image.columns:
        body["attributes"] = ",".join(sorted(image.columns))
    return body


def _id(value: Any) -> str | None:
    return str(value).lower() if value else None
