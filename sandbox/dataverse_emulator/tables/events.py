"""The tables that register Dataverse's events to Azure: service endpoints, the messages and message filters
a step names, processing steps and their images. Column names and option values are those of the Dataverse
table reference (reference/entities/serviceendpoint, sdkmessage, sdkmessagefilter, sdkmessageprocessingstep,
sdkmessageprocessingstepimage); sdkmessage and sdkmessagefilter rows belong to the platform and are read-only.
"""

from __future__ import annotations

from ..schema import (
    BOOLEAN,
    NONE,
    SYSTEM,
    Column,
    ColumnType,
    Origin,
    RequiredLevel,
    StatusOption,
    Table,
    TableInfo,
    audit,
    lookup,
    make_table,
    memo,
    picklist,
    primary_id,
    state_model,
    state_status,
    typed,
)
from .platform import COMPONENT_SERVICE_ENDPOINT, COMPONENT_STEP, COMPONENT_STEP_IMAGE

P = Origin.PLATFORM

CONTRACTS = {
    1: "OneWay",
    2: "Queue",
    3: "Rest",
    4: "TwoWay",
    5: "Topic",
    6: "Queue (Persistent)",
    7: "Event Hub",
    8: "Webhook",
    9: "Event Grid",
    10: "Managed Data Lake",
}
CONTRACT_TOPIC, CONTRACT_WEBHOOK = 5, 8
AUTH_TYPES = {
    1: "ACS",
    2: "SAS Key",
    3: "SAS Token",
    4: "Webhook Key",
    5: "Http Header",
    6: "Http Query String",
    7: "Connection String",
    8: "Access Key",
}
AUTH_CONNECTION_STRING = 7
MESSAGE_FORMATS = {1: "Binary XML", 2: "Json", 3: "Text XML"}
FORMAT_BINARY_XML, FORMAT_JSON = 1, 2

STAGES = {
    10: "Pre-validation",
    20: "Pre-operation",
    30: "Main Operation",
    40: "Post-operation",
    50: "Post-operation (Deprecated)",
}
STAGE_POST_OPERATION = 40
MODES = {0: "Synchronous", 1: "Asynchronous"}
MODE_ASYNCHRONOUS = 1
IMAGE_TYPES = {0: "PreImage", 1: "PostImage", 2: "Both"}
IMAGE_PRE, IMAGE_POST, IMAGE_BOTH = 0, 1, 2
STEP_ENABLED, STEP_DISABLED = 0, 1


def _text(name: str, max_length: int, required: RequiredLevel = NONE, *, secret: bool = False) -> Column:
    return Column(name, ColumnType.STRING, required, max_length, P, valid_for_read=not secret)


def serviceendpoint() -> Table:
    columns = [
        primary_id("serviceendpointid", P),
        _text("name", 256, SYSTEM),
        memo("description", 2000, P),
        picklist("contract", CONTRACTS, SYSTEM),
        picklist("connectionmode", {1: "Normal", 2: "Federated"}, SYSTEM),
        picklist("authtype", AUTH_TYPES),
        _text("authvalue", 2048, secret=True),
        picklist("messageformat", MESSAGE_FORMATS),
        picklist("messagecharset", {0: "Default", 1: "UTF8"}),
        _text("namespaceaddress", 255),
        picklist("namespaceformat", {1: "Namespace Name", 2: "Namespace Address"}),
        _text("path", 160, SYSTEM),
        _text("saskeyname", 256),
        _text("saskey", 256, secret=True),
        _text("sastoken", 256, secret=True),
        picklist("schematype", {1: "Event Grid", 2: "Cloud Events"}),
        _text("solutionnamespace", 160, SYSTEM),
        _text("url", 2000),
        picklist("userclaim", {1: "None", 2: "UserId", 3: "UserInfo"}, SYSTEM),
        typed("isauthvalueset", BOOLEAN, computed=True, origin=P),
        typed("issaskeyset", BOOLEAN, computed=True, origin=P),
        typed("issastokenset", BOOLEAN, computed=True, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "ServiceEndpoint",
        4618,
        "Service Endpoint",
        "Service Endpoints",
        primary_name="name",
        ownership="OrganizationOwned",
        component_type=COMPONENT_SERVICE_ENDPOINT,
    )
    return make_table("serviceendpoint", "serviceendpoints", None, columns, info)


def sdkmessage() -> Table:
    columns = [
        primary_id("sdkmessageid", P),
        _text("name", 256, SYSTEM),
        _text("categoryname", 25),
        typed("isprivate", BOOLEAN, origin=P),
        typed("autotransact", BOOLEAN, origin=P),
        typed("isvalidforexecuteasync", BOOLEAN, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "SdkMessage",
        4606,
        "Sdk Message",
        "Sdk Messages",
        primary_name="name",
        ownership="OrganizationOwned",
        writable=False,
    )
    return make_table("sdkmessage", "sdkmessages", None, columns, info)


def sdkmessagefilter() -> Table:
    columns = [
        primary_id("sdkmessagefilterid", P),
        lookup("sdkmessageid", "sdkmessages", required=SYSTEM, origin=P),
        # EntityName columns: the table's logical name in the Web API ("account"), "none" when there is none.
        _text("primaryobjecttypecode", 128, SYSTEM),
        _text("secondaryobjecttypecode", 128, SYSTEM),
        typed("iscustomprocessingstepallowed", BOOLEAN, origin=P),
        typed("isvisible", BOOLEAN, origin=P),
        typed("availability", ColumnType.INTEGER, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "SdkMessageFilter",
        4607,
        "Sdk Message Filter",
        "Sdk Message Filters",
        ownership="OrganizationOwned",
        writable=False,
    )
    return make_table("sdkmessagefilter", "sdkmessagefilters", None, columns, info)


def sdkmessageprocessingstep() -> Table:
    columns = [
        primary_id("sdkmessageprocessingstepid", P),
        _text("name", 256, SYSTEM),
        memo("description", 256, P),
        memo("configuration", 1073741823, P),
        picklist("stage", STAGES, SYSTEM),
        picklist("mode", MODES, SYSTEM),
        typed("rank", ColumnType.INTEGER, SYSTEM, origin=P),
        picklist(
            "supporteddeployment",
            {0: "Server Only", 1: "Microsoft Dynamics 365 Client for Outlook Only", 2: "Both"},
            SYSTEM,
        ),
        typed("asyncautodelete", BOOLEAN, SYSTEM, origin=P),
        _text("filteringattributes", 100000),
        # The handler is a plug-in type or a service endpoint; only service endpoints are emulated.
        lookup("eventhandler", "serviceendpoints", origin=P, polymorphic=True),
        lookup("sdkmessageid", "sdkmessages", required=SYSTEM, origin=P),
        lookup("sdkmessagefilterid", "sdkmessagefilters", origin=P),
        lookup("impersonatinguserid", "systemusers", origin=P),
        *state_status(origin=P),
        *audit(P),
    ]
    states = state_model(
        {STEP_ENABLED: "Enabled", STEP_DISABLED: "Disabled"},
        (StatusOption(1, "Enabled", STEP_ENABLED), StatusOption(2, "Disabled", STEP_DISABLED)),
        {STEP_ENABLED: 1, STEP_DISABLED: 2},
    )
    info = TableInfo(
        "SdkMessageProcessingStep",
        4608,
        "Sdk Message Processing Step",
        "Sdk Message Processing Steps",
        primary_name="name",
        ownership="OrganizationOwned",
        component_type=COMPONENT_STEP,
    )
    return make_table(
        "sdkmessageprocessingstep", "sdkmessageprocessingsteps", None, columns, info, state=states
    )


def sdkmessageprocessingstepimage() -> Table:
    columns = [
        primary_id("sdkmessageprocessingstepimageid", P),
        _text("name", 256, SYSTEM),
        memo("description", 256, P),
        _text("entityalias", 256, SYSTEM),
        picklist("imagetype", IMAGE_TYPES, SYSTEM),
        _text("messagepropertyname", 256, SYSTEM),
        _text("attributes", 100000),
        lookup("sdkmessageprocessingstepid", "sdkmessageprocessingsteps", required=SYSTEM, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "SdkMessageProcessingStepImage",
        4615,
        "Sdk Message Processing Step Image",
        "Sdk Message Processing Step Images",
        primary_name="name",
        ownership="OrganizationOwned",
        component_type=COMPONENT_STEP_IMAGE,
    )
    return make_table("sdkmessageprocessingstepimage", "sdkmessageprocessingstepimages", None, columns, info)
