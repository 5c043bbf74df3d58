"""Registered steps turning writes into RemoteExecutionContext messages, and who made each change, over sockets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.dataverse_emulator import INTEGRATION_USER_ID, ContextShape, DataverseEmulator, EventMessage
from sandbox.dataverse_emulator.events.sinks import INITIATING_USER_PROPERTY, REQUEST_PROPERTY, USER_PROPERTY
from sandbox.dataverse_emulator.webapi_client import WebApiClient, batch_body, error_of, order_close
from sandbox.dataverse_seed import CURRENCY_IDS, PRICE_LIST_ID, PRODUCT_IDS, SOLUTION_NAME

pytestmark = pytest.mark.sockets

RETURN = {"Prefer": "return=representation"}
CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
APP_TOKEN, HUMAN_TOKEN = "app-token", "human-token"


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as emulator:
        emulator.load_seed()
        yield emulator


@pytest.fixture
def api(dv: DataverseEmulator) -> WebApiClient:
    return WebApiClient(dv.service_root)


def endpoint(api: WebApiClient, **extra: Any) -> str:
    body = {
        "name": "CRM events",
        "contract": 2,  # Queue
        "authtype": 2,  # SAS Key
        "namespaceaddress": "sb://contoso.servicebus.windows.net/",
        "path": "crm-events",
        "saskeyname": "RootManageSharedAccessKey",
        "saskey": "c2VjcmV0",
        "messageformat": 2,  # Json
        **extra,
    }
    response = api.post("serviceendpoints", body, headers=RETURN)
    assert response.status_code == 201, response.text
    return str(response.json()["serviceendpointid"])


def message_id(api: WebApiClient, name: str) -> str:
    [row] = api.get("sdkmessages", {"$filter": f"name eq '{name}'"}).json()["value"]
    return str(row["sdkmessageid"])


def filter_id(api: WebApiClient, message: str, table: str) -> str:
    query = f"primaryobjecttypecode eq '{table}' and _sdkmessageid_value eq {message}"
    [row] = api.get("sdkmessagefilters", {"$filter": query}).json()["value"]
    return str(row["sdkmessagefilterid"])


def step_body(api: WebApiClient, handler: str, message: str, table: str, **extra: Any) -> dict[str, Any]:
    message_row = message_id(api, message)
    return {
        "name": f"{table} {message} to Service Bus",
        "stage": 40,  # PostOperation
        "mode": 1,  # Asynchronous
        "rank": 1,
        "supporteddeployment": 0,
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({handler})",
        "sdkmessageid@odata.bind": f"/sdkmessages({message_row})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filter_id(api, message_row, table)})",
        **extra,
    }


def register(
    api: WebApiClient,
    table: str,
    message: str,
    *,
    images: tuple[dict[str, Any], ...] = (),
    extra: dict[str, Any] | None = None,
    filteringattributes: str | None = None,
) -> str:
    """A Service Bus endpoint, a step on `message` of `table`, and its images; returns the step id."""
    options = {
        **(extra or {}),
        **({"filteringattributes": filteringattributes} if filteringattributes else {}),
    }
    body = step_body(api, endpoint(api), message, table, **options)
    response = api.post("sdkmessageprocessingsteps", body, headers=RETURN)
    assert response.status_code == 201, response.text
    step = str(response.json()["sdkmessageprocessingstepid"])
    for image in images:
        image_body = {"sdkmessageprocessingstepid@odata.bind": f"/sdkmessageprocessingsteps({step})", **image}
        assert api.post("sdkmessageprocessingstepimages", image_body).status_code == 204
    return step


def context_of(message: EventMessage) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message.body)
    return body


def pairs(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: item["value"] for item in items}


def target(context: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = pairs(context["InputParameters"])["Target"]
    return value


def a_product(dv: DataverseEmulator) -> str:
    return PRODUCT_IDS["MUG-CER-350-WHT"]


# --- registration rows --------------------------------------------------------------------------------------------
def test_messages_and_filters_are_platform_rows(api: WebApiClient) -> None:
    """sdkmessages and sdkmessagefilters can be queried to register a step, but not written."""
    create = message_id(api, "Create")
    assert filter_id(api, create, "account")
    assert error_of(api.post("sdkmessages", {"name": "Mine"}))[:2] == (400, "0x80040203")


def test_endpoint_secrets_are_written_but_never_read_back(api: WebApiClient) -> None:
    """A SAS key is accepted on create, reported by issaskeyset, and missing from every read."""
    row = api.get(f"serviceendpoints({endpoint(api)})").json()
    assert "saskey" not in row
    assert row["issaskeyset"] is True
    assert (row["connectionmode"], row["userclaim"]) == (1, 1)
    assert api.get("serviceendpoints", {"$select": "saskey"}).status_code == 400


def test_steps_for_service_bus_must_be_asynchronous_and_post_operation(api: WebApiClient) -> None:
    """A synchronous Service Bus step, an asynchronous pre-operation step or a foreign filter are refused."""
    handler = endpoint(api)
    for wrong in ({"mode": 0}, {"stage": 20}):
        response = api.post(
            "sdkmessageprocessingsteps", step_body(api, handler, "Update", "account", **wrong)
        )
        assert error_of(response)[:2] == (400, "0x80040203")
    body = step_body(api, handler, "Update", "account")
    body["sdkmessagefilterid@odata.bind"] = (
        f"/sdkmessagefilters({filter_id(api, message_id(api, 'Create'), 'account')})"
    )
    assert error_of(api.post("sdkmessageprocessingsteps", body))[0] == 400


def test_images_must_fit_the_message(api: WebApiClient) -> None:
    """A Create has no pre-image, a Delete no post-image, and an image reads Target (or Id for Delete)."""
    for message, image in (
        ("Create", {"entityalias": "pre", "imagetype": 0}),
        ("Delete", {"entityalias": "post", "imagetype": 1}),
        ("Update", {"entityalias": "pre", "imagetype": 0, "messagepropertyname": "Id"}),
    ):
        step = register(api, "account", message)
        body = {"sdkmessageprocessingstepid@odata.bind": f"/sdkmessageprocessingsteps({step})", **image}
        assert error_of(api.post("sdkmessageprocessingstepimages", body))[0] == 400


# --- the context ----------------------------------------------------------------------------------------------
def test_a_create_posts_the_new_row_as_a_data_contract_entity(
    dv: DataverseEmulator, api: WebApiClient
) -> None:
    """A Create step gets the DataContract JSON: typed Target with Money, OptionSetValue and EntityReference values."""
    register(
        api,
        "salesorder",
        "Create",
        images=({"entityalias": "created", "imagetype": 1, "attributes": "name,totalamount"},),
    )
    order = {
        "name": "Order 1",
        "freightamount": 4.5,
        "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})",
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['USD']})",
    }
    order_id = api.post("salesorders", order, headers=RETURN).json()["salesorderid"]
    [message] = dv.events.delivered
    assert message.content_type == "application/json"
    assert b'"__type":"Entity:http:\\/\\/schemas.microsoft.com\\/xrm\\/2011\\/Contracts"' in message.body
    context = context_of(message)
    assert (context["MessageName"], context["PrimaryEntityName"], context["PrimaryEntityId"]) == (
        "Create",
        "salesorder",
        order_id,
    )
    assert (context["Stage"], context["Mode"], context["Depth"]) == (40, 1, 1)
    assert re.fullmatch(r"/Date\(\d+\+0000\)/", context["OperationCreatedOn"])
    assert pairs(context["OutputParameters"]) == {"id": order_id}
    assert context["ParentContext"]["Stage"] == 30
    entity = target(context)
    assert (entity["__type"], entity["LogicalName"], entity["Id"]) == (
        f"Entity:{CONTRACTS}",
        "salesorder",
        order_id,
    )
    values = pairs(entity["Attributes"])
    assert values["freightamount"] == {"__type": f"Money:{CONTRACTS}", "Value": 4.5}
    assert values["statecode"] == {"__type": f"OptionSetValue:{CONTRACTS}", "Value": 0}
    assert values["transactioncurrencyid"]["LogicalName"] == "transactioncurrency"
    assert values["transactioncurrencyid"]["__type"] == f"EntityReference:{CONTRACTS}"
    assert re.fullmatch(r"/Date\(\d+\)/", values["createdon"])
    [image] = context["PostEntityImages"]
    assert image["key"] == "created"
    assert "__type" not in image["value"]
    assert set(pairs(image["value"]["Attributes"])) == {"name", "totalamount"}


def test_an_update_target_holds_only_the_sent_columns(dv: DataverseEmulator, api: WebApiClient) -> None:
    """An Update's Target has the columns the request sent (plus the platform's modified* stamps); images hold more."""
    images = (
        {"entityalias": "before", "imagetype": 0, "attributes": "price,productnumber"},
        {"entityalias": "after", "imagetype": 1, "attributes": "price,productnumber"},
    )
    register(api, "product", "Update", images=images)
    product = a_product(dv)
    assert api.patch(f"products({product})", {"price": 13.75}).status_code == 204
    context = context_of(dv.events.delivered[-1])
    assert set(pairs(target(context)["Attributes"])) == {
        "productid",
        "price",
        "modifiedon",
        "modifiedby",
        "modifiedonbehalfby",
    }
    before = pairs(pairs(context["PreEntityImages"])["before"]["Attributes"])
    after = pairs(pairs(context["PostEntityImages"])["after"]["Attributes"])
    assert before["price"]["Value"] == 12.5
    assert after["price"]["Value"] == 13.75
    assert after["productnumber"] == "MUG-CER-350-WHT"


def test_filtering_attributes_choose_the_updates_that_fire(dv: DataverseEmulator, api: WebApiClient) -> None:
    """With filteringattributes, only an Update that sends one of those columns posts a message."""
    register(api, "product", "Update", filteringattributes="price,statecode")
    product = a_product(dv)
    api.patch(f"products({product})", {"description": "no event"})
    api.patch(f"products({product})", {"price": 9.99, "description": "event"})
    assert [m.message for m in dv.events.delivered] == ["Update"]


def test_a_delete_posts_a_reference_and_the_row_before(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A Delete's Target is an EntityReference; its pre-image has the row as it was."""
    register(api, "account", "Delete", images=({"entityalias": "gone", "imagetype": 0},))
    account = api.post("accounts", {"name": "Short-lived"}, headers=RETURN).json()["accountid"]
    assert api.delete(f"accounts({account})").status_code == 204
    context = context_of(dv.events.delivered[-1])
    assert target(context) == {
        "__type": f"EntityReference:{CONTRACTS}",
        "Id": account,
        "KeyAttributes": [],
        "LogicalName": "account",
        "Name": None,
        "RowVersion": None,
    }
    assert pairs(pairs(context["PreEntityImages"])["gone"]["Attributes"])["name"] == "Short-lived"


def test_disabled_steps_post_nothing(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A step set to Disabled (statecode 1) stops firing."""
    step = register(api, "account", "Create")
    assert api.patch(f"sdkmessageprocessingsteps({step})", {"statecode": 1}).status_code == 204
    api.post("accounts", {"name": "Quiet"})
    assert dv.events.delivered == []


def test_closing_an_order_fires_its_update_steps(dv: DataverseEmulator, api: WebApiClient) -> None:
    """FulfillSalesOrder changes the order's state as an Update of statecode/statuscode, which Update steps see."""
    register(api, "salesorder", "Update", filteringattributes="statecode")
    order = {"name": "O", "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})"}
    order_id = api.post("salesorders", order, headers=RETURN).json()["salesorderid"]
    assert api.post("FulfillSalesOrder", order_close(order_id)).status_code == 204
    values = pairs(target(context_of(dv.events.delivered[-1]))["Attributes"])
    assert values["statecode"]["Value"] == 3
    assert values["statuscode"]["Value"] == 100001


def test_the_plain_shape_can_be_chosen_per_step(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A step switched to the plain shape posts dictionaries and bare values instead of key/value lists."""
    step = register(api, "product", "Update")
    dv.events.use_shape(step, ContextShape.PLAIN)
    api.patch(f"products({a_product(dv)})", {"price": 8.5})
    context = context_of(dv.events.delivered[-1])
    attributes = context["InputParameters"]["Target"]["Attributes"]
    assert attributes["price"] == 8.5
    assert attributes["modifiedby"] == {"Id": INTEGRATION_USER_ID, "LogicalName": "systemuser"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", context["OperationCreatedOn"])


def test_endpoints_in_the_default_binary_format_are_not_sent(
    dv: DataverseEmulator, api: WebApiClient
) -> None:
    """An endpoint left at the default .NET binary format (1) gets no message: the emulator writes JSON only."""
    handler = endpoint(api, messageformat=None)
    assert api.get(f"serviceendpoints({handler})").json()["messageformat"] == 1
    assert (
        api.post("sdkmessageprocessingsteps", step_body(api, handler, "Create", "account")).status_code == 204
    )
    api.post("accounts", {"name": "Binary"})
    assert dv.events.delivered == []
    [undelivered] = dv.events.undelivered
    assert "messageformat 1" in undelivered.reason


def test_webhook_endpoints_always_get_json(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A webhook endpoint (contract 8) takes synchronous steps and gets the JSON context whatever its format."""
    webhook = {
        "contract": 8,
        "url": "https://hooks.contoso.com/crm",
        "authtype": 4,
        "authvalue": "key",
        "messageformat": None,
    }
    handler = endpoint(api, **webhook)
    body = step_body(api, handler, "Create", "account", mode=0)
    assert api.post("sdkmessageprocessingsteps", body).status_code == 204
    api.post("accounts", {"name": "Hooked"})
    [message] = dv.events.delivered
    assert (message.content_type, message.endpoint["url"]) == (
        "application/json",
        "https://hooks.contoso.com/crm",
    )


# --- commit and delivery ---------------------------------------------------------------------------------------
def test_a_rolled_back_change_set_posts_nothing(dv: DataverseEmulator, api: WebApiClient) -> None:
    """Events are sent when their writes commit: a change set that fails sends none of its writes' events."""
    register(api, "account", "Create")
    posts = [
        ("accounts", '{"name": "kept only if all succeed"}'),
        ("accounts", '{"name": "x", "nonexistent": 1}'),
    ]
    response = api.post_batch(batch_body("batch_e", posts, change_set="changeset_e"), "batch_e")
    assert response.status_code == 400
    assert dv.events.delivered == []
    assert dv.records("accounts") == []


def test_a_failed_request_posts_nothing(dv: DataverseEmulator, api: WebApiClient) -> None:
    """An action that fails after writing leaves neither rows nor events (one request, one transaction)."""
    register(api, "invoice", "Create")
    order = {"name": "O", "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})"}
    order_id = api.post("salesorders", order, headers=RETURN).json()["salesorderid"]
    api.post(
        "salesorderdetails",
        {
            "salesorderid@odata.bind": f"/salesorders({order_id})",
            "isproductoverridden": True,
            "productdescription": "x",
            "quantity": 1,
        },
    )
    response = api.post(
        "ConvertSalesOrderToInvoice", {"SalesOrderId": order_id, "ColumnSet": {"Columns": ["nope"]}}
    )
    assert response.status_code == 400
    assert dv.events.delivered == []
    assert dv.records("invoices") == []


def test_a_failing_sink_keeps_the_message_for_redelivery(dv: DataverseEmulator, api: WebApiClient) -> None:
    """A message the sink refuses is kept as undelivered and sent by redeliver() once the sink works again."""
    register(api, "account", "Create")
    received: list[EventMessage] = []
    attempts: list[str] = []

    def flaky(message: EventMessage) -> None:
        attempts.append(message.step_id)
        if len(attempts) == 1:
            raise ConnectionError("Service Bus unreachable")
        received.append(message)

    dv.events.sink = flaky
    assert api.post("accounts", {"name": "Retried"}).status_code == 204
    assert [u.reason for u in dv.events.undelivered] == ["ConnectionError: Service Bus unreachable"]
    dv.events.redeliver()
    assert len(received) == 1
    assert dv.events.undelivered == []


# --- who made the change ---------------------------------------------------------------------------------------
@pytest.fixture
def users(dv: DataverseEmulator) -> tuple[str, str]:
    """The sync's application user and a person, each with a bearer token."""
    app = dv.add_application_user("11111111-2222-3333-4444-555555555555", "Amazon sync")
    human = dv.add_user("Dana", "Sales")
    dv.add_token(APP_TOKEN, app)
    dv.add_token(HUMAN_TOKEN, human)
    return app, human


def test_each_change_carries_the_user_who_made_it(dv: DataverseEmulator, users: tuple[str, str]) -> None:
    """The token's user stamps modifiedby and is the message's UserId and InitiatingUserId."""
    app, human = users
    register(WebApiClient(dv.service_root), "product", "Update")
    product = a_product(dv)
    WebApiClient(dv.service_root, token=APP_TOKEN).patch(f"products({product})", {"price": 1})
    WebApiClient(dv.service_root, token=HUMAN_TOKEN).patch(f"products({product})", {"price": 2})
    initiators = [context_of(m)["InitiatingUserId"] for m in dv.events.delivered]
    assert initiators == [app, human]
    assert [m.properties[INITIATING_USER_PROPERTY] for m in dv.events.delivered] == [app, human]
    assert [m.properties[REQUEST_PROPERTY] for m in dv.events.delivered] == ["Update", "Update"]
    assert dv.get_by_key("products", productid=product)["modifiedby"] == human  # type: ignore[index]


def test_impersonation_changes_the_acting_user_not_the_initiating_one(
    dv: DataverseEmulator, users: tuple[str, str]
) -> None:
    """With MSCRMCallerID the change is made as the impersonated user; InitiatingUserId stays the caller."""
    app, human = users
    register(WebApiClient(dv.service_root), "account", "Create")
    client = WebApiClient(dv.service_root, token=APP_TOKEN, headers={"MSCRMCallerID": human})
    row = client.post("accounts", {"name": "On behalf"}, headers=RETURN).json()
    assert (row["_createdby_value"], row["_createdonbehalfby_value"]) == (human, app)
    [message] = dv.events.delivered
    context = context_of(message)
    assert (context["UserId"], context["InitiatingUserId"]) == (human, app)
    assert message.properties[USER_PROPERTY] == human
    assert client.get("WhoAmI").json()["UserId"] == human


def test_impersonating_a_user_who_does_not_exist_is_refused(
    dv: DataverseEmulator, users: tuple[str, str]
) -> None:
    """An MSCRMCallerID that names no user is 404 for that systemuser."""
    client = WebApiClient(
        dv.service_root, token=APP_TOKEN, headers={"MSCRMCallerID": "00000000-0000-0000-0000-0000000000ee"}
    )
    assert error_of(client.post("accounts", {"name": "x"}))[:2] == (404, "0x80040217")


def test_a_steps_impersonating_user_becomes_the_messages_user(
    dv: DataverseEmulator, users: tuple[str, str]
) -> None:
    """A step registered to run as a user posts that user as UserId, the caller as InitiatingUserId."""
    app, human = users
    api = WebApiClient(dv.service_root)
    register(api, "account", "Create", extra={"impersonatinguserid@odata.bind": f"/systemusers({human})"})
    WebApiClient(dv.service_root, token=APP_TOKEN).post("accounts", {"name": "x"})
    context = context_of(dv.events.delivered[-1])
    assert (context["UserId"], context["InitiatingUserId"]) == (human, app)


def test_unknown_tokens_fall_back_to_the_integration_user_only_without_a_configured_token(
    users: tuple[str, str],
) -> None:
    """The default emulator lets anonymous callers in as the integration user; one with a bearer token does not."""
    with DataverseEmulator(bearer_token="only-this") as locked:
        assert WebApiClient(locked.service_root).get("WhoAmI").status_code == 401
        assert (
            WebApiClient(locked.service_root, token="only-this").get("WhoAmI").json()["UserId"]
            == INTEGRATION_USER_ID
        )


# --- solutions and custom tables -----------------------------------------------------------------------------------
def test_endpoints_and_steps_created_with_a_solution_become_its_components(
    dv: DataverseEmulator, api: WebApiClient
) -> None:
    """Service endpoints (95) and steps (92) created with MSCRM.SolutionUniqueName join that solution."""
    in_solution = WebApiClient(dv.service_root, headers={"MSCRM.SolutionUniqueName": SOLUTION_NAME})
    handler = endpoint(in_solution)
    assert (
        in_solution.post(
            "sdkmessageprocessingsteps", step_body(api, handler, "Update", "product")
        ).status_code
        == 204
    )
    types = sorted(row["componenttype"] for row in dv.records("solutioncomponents") if not row["ismetadata"])
    assert types == [92, 95]


def test_a_custom_table_gets_message_filters_and_fires_steps(
    dv: DataverseEmulator, api: WebApiClient
) -> None:
    """A table created through EntityDefinitions can have steps like any other."""
    table = {
        "SchemaName": "new_Settlement",
        "DisplayName": {"LocalizedLabels": [{"Label": "Settlement", "LanguageCode": 1033}]},
        "DisplayCollectionName": {"LocalizedLabels": [{"Label": "Settlements", "LanguageCode": 1033}]},
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
            }
        ],
    }
    assert api.post("EntityDefinitions", table).status_code == 204
    register(api, "new_settlement", "Create")
    api.post("new_settlements", {"new_name": "2024-05"})
    assert [m.entity for m in dv.events.delivered] == ["new_settlement"]
