"""Checks and defaults for registering events: service endpoints, processing steps and step images.

What Dataverse insists on (learn.microsoft.com: azure-integration, use-webhooks, register-plug-in, and the
sdkmessageprocessingstep / sdkmessageprocessingstepimage references):
- A Service Bus endpoint only takes asynchronous steps ("Azure Service Bus only allows for asynchronous
  steps"; webhooks allow both); asynchronous steps run in the PostOperation stage (40).
- A step's message filter belongs to the step's message; a step needs a handler.
- A Create has no pre-image and a Delete no post-image; an image reads the message's `Target` (Create,
  Update) or `Id` (Delete) parameter.
- The default message format of an endpoint is the .NET binary one (1): JSON (2) must be asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import errors
from ..store import Row
from ..tables.events import (
    CONTRACT_WEBHOOK,
    FORMAT_BINARY_XML,
    IMAGE_BOTH,
    IMAGE_POST,
    IMAGE_PRE,
    MODE_ASYNCHRONOUS,
    STAGE_POST_OPERATION,
)

if TYPE_CHECKING:
    from ..service import Service

REGISTRATION_TABLES = ("serviceendpoint", "sdkmessageprocessingstep", "sdkmessageprocessingstepimage")
_SECRETS = {"authvalue": "isauthvalueset", "saskey": "issaskeyset", "sastoken": "issastokenset"}
MESSAGE_PROPERTY = {"Create": "Target", "Update": "Target", "Delete": "Id"}


def prepare(service: Service, logical_name: str, row: Row, *, creating: bool) -> Row:
    if logical_name == "serviceendpoint":
        return _endpoint(row, creating=creating)
    if logical_name == "sdkmessageprocessingstep":
        return _step(service, row, creating=creating)
    return _image(service, row, creating=creating)


def _endpoint(row: Row, *, creating: bool) -> Row:
    if creating:
        for column, default in (
            ("connectionmode", 1),
            ("userclaim", 1),
            ("messageformat", FORMAT_BINARY_XML),
        ):
            if row.get(column) is None:
                row[column] = default
    if not row.get("name") or row.get("contract") is None:
        raise errors.invalid_argument("A service endpoint needs a name and a contract.")
    if row["contract"] == CONTRACT_WEBHOOK:
        if not row.get("url"):
            raise errors.invalid_argument("A webhook service endpoint needs a url.")
    elif not (row.get("namespaceaddress") or row.get("solutionnamespace")) or not row.get("path"):
        raise errors.invalid_argument(
            "A Service Bus endpoint needs its namespace (namespaceaddress or solutionnamespace) and a path."
        )
    for secret, flag in _SECRETS.items():
        row[flag] = bool(row.get(secret))
    return row


def _step(service: Service, row: Row, *, creating: bool) -> Row:
    if creating:
        for column, default in (
            ("rank", 1),
            ("supporteddeployment", 0),
            ("asyncautodelete", False),
            ("mode", 0),
        ):
            if row.get(column) is None:
                row[column] = default
    if not row.get("name") or row.get("stage") is None or row.get("sdkmessageid") is None:
        raise errors.invalid_argument("A processing step needs a name, a stage and an sdkmessageid.")
    endpoint = service.store.get("serviceendpoints", row["eventhandler"]) if row.get("eventhandler") else None
    if endpoint is None:
        raise errors.invalid_argument(
            "A processing step needs an event handler (eventhandler_serviceendpoint)."
        )
    filter_row = (
        service.store.get("sdkmessagefilters", row["sdkmessagefilterid"])
        if row.get("sdkmessagefilterid")
        else None
    )
    if filter_row is not None and filter_row["sdkmessageid"] != row["sdkmessageid"]:
        raise errors.invalid_argument("The message filter of the step does not belong to the step's message.")
    if endpoint["contract"] != CONTRACT_WEBHOOK and row["mode"] != MODE_ASYNCHRONOUS:
        raise errors.invalid_argument(
            "A step for an Azure Service Bus endpoint must be asynchronous (mode 1)."
        )
    if row["mode"] == MODE_ASYNCHRONOUS and row["stage"] != STAGE_POST_OPERATION:
        raise errors.invalid_argument(
            "An asynchronous step can only be registered in the PostOperation stage (40)."
        )
    return row


def _image(service: Service, row: Row, *, creating: bool) -> Row:
    step = (
        service.store.get("sdkmessageprocessingsteps", row["sdkmessageprocessingstepid"])
        if row.get("sdkmessageprocessingstepid")
        else None
    )
    if step is None or not row.get("entityalias") or row.get("imagetype") is None:
        raise errors.invalid_argument("A step image needs its step, an entityalias and an imagetype.")
    message_row = service.store.get("sdkmessages", step["sdkmessageid"])
    message = message_row["name"] if message_row else ""
    if message == "Create" and row["imagetype"] in (IMAGE_PRE, IMAGE_BOTH):
        raise errors.invalid_argument("A Create step cannot have a pre-image: there is no row before it.")
    if message == "Delete" and row["imagetype"] in (IMAGE_POST, IMAGE_BOTH):
        raise errors.invalid_argument("A Delete step cannot have a post-image: there is no row after it.")
    expected = MESSAGE_PROPERTY.get(message)
    if row.get("messagepropertyname") is None and expected is not None:
        row["messagepropertyname"] = expected
    if expected is not None and row["messagepropertyname"] != expected:
        raise errors.invalid_argument(
            f"An image of a {message} step reads the '{expected}' message property, not "
            f"'{row['messagepropertyname']}'."
        )
    if not row.get("name"):
        row["name"] = row["entityalias"]
    return row
