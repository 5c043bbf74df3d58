"""The app's identity holds a role for every service the code calls, each role assignment says why, and the
role ids are Azure's built-in ones."""

from __future__ import annotations

import re

import pytest

from tests.infra import bicep

# Azure's built-in role definition ids (learn.microsoft.com, "Azure built-in roles"), written out again here
# so a mistyped id in built-in-roles.json fails a test instead of a deployment.
BUILT_IN_ROLES = {
    "storageBlobDataOwner": ("Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"),
    "storageTableDataContributor": ("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"),
    "storageQueueDataContributor": ("Storage Queue Data Contributor", "974c5e8b-45b9-4653-ba55-5f855dd0fb88"),
    "serviceBusDataReceiver": ("Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"),
    "serviceBusDataSender": ("Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"),
    "serviceBusDataOwner": ("Azure Service Bus Data Owner", "090c5cfd-751d-490a-894a-3ce6f1109419"),
    "keyVaultSecretsUser": ("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6"),
    "keyVaultSecretsOfficer": ("Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),
    "monitoringMetricsPublisher": ("Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb"),
}

# What in the app's code (function_app.py and shared/) calls which service, and the role that call needs.
ROLES_THE_CODE_NEEDS = [
    (
        "the Functions host (timer leases, host keys, the Flex deployment package)",
        r"func\.FunctionApp\(",
        "storageBlobDataOwner",
    ),
    (
        "Application Insights with Entra auth (local auth is off)",
        r"func\.FunctionApp\(",
        "monitoringMetricsPublisher",
    ),
    ("a Service Bus trigger", r"service_bus_(queue|topic)_trigger", "serviceBusDataReceiver"),
    (
        "a Service Bus trigger's scaler reading the queue length",
        r"service_bus_(queue|topic)_trigger",
        "serviceBusDataOwner",
    ),
    ("sending to Service Bus", r"ServiceBusSender|get_queue_sender|get_topic_sender", "serviceBusDataSender"),
    ("Table Storage", r"azure\.data\.tables", "storageTableDataContributor"),
    ("Key Vault secrets", r"azure\.keyvault\.secrets", "keyVaultSecretsUser"),
    (
        "Storage queues",
        r"azure\.storage\.queue|\.queue_trigger\(|\.queue_output\(",
        "storageQueueDataContributor",
    ),
    (
        "Blob Storage from the code",
        r"azure\.storage\.blob|\.blob_trigger\(|\.blob_input\(|\.blob_output\(",
        "storageBlobDataOwner",
    ),
]


def app_code() -> str:
    paths = [bicep.REPO_ROOT / "function_app.py", *sorted((bicep.REPO_ROOT / "shared").rglob("*.py"))]
    return "\n".join(path.read_text() for path in paths)


def app_roles() -> set[str]:
    return {
        bicep.role_key(assignment)
        for assignment in bicep.resources_of_type(bicep.ROLE_ASSIGNMENT)
        if assignment.body["properties"]["principalId"] == "appPrincipalId"
    }


@pytest.mark.parametrize(
    ("what", "evidence", "role"), ROLES_THE_CODE_NEEDS, ids=[row[0] for row in ROLES_THE_CODE_NEEDS]
)
def test_the_app_identity_holds_the_role_each_service_it_calls_needs(
    what: str, evidence: str, role: str
) -> None:
    if not re.search(evidence, app_code()):
        pytest.skip(f"the code does not use {what}")
    assert role in app_roles(), f"the code uses {what} but the app identity lacks {BUILT_IN_ROLES[role][0]}"


def test_the_evidence_finds_the_services_the_app_uses_today() -> None:
    """Guards the table above: if these stop matching, a renamed import would silently drop a role check."""
    code = app_code()
    for role in (
        "serviceBusDataReceiver",
        "serviceBusDataSender",
        "storageTableDataContributor",
        "keyVaultSecretsUser",
    ):
        evidence = next(pattern for _, pattern, key in ROLES_THE_CODE_NEEDS if key == role)
        assert re.search(evidence, code), role


def test_every_app_role_is_principal_type_service_principal_and_module_parameters_carry_the_identity() -> (
    None
):
    for assignment in bicep.resources_of_type(bicep.ROLE_ASSIGNMENT):
        properties = assignment.body["properties"]
        if properties["principalId"] == "appPrincipalId":
            assert properties["principalType"] == "ServicePrincipal", assignment.symbol
    for symbol, declaration in bicep.main()["modules"].items():
        params = bicep.body(declaration)["params"]
        if "appPrincipalId" in params:
            assert bicep.render(params["appPrincipalId"]) == "identity.outputs.principalId", symbol


@pytest.mark.parametrize(
    "assignment",
    bicep.resources_of_type(bicep.ROLE_ASSIGNMENT),
    ids=lambda assignment: f"{assignment.file.stem}.{assignment.symbol}",
)
def test_each_role_assignment_has_a_comment_naming_its_role_and_saying_why(
    assignment: bicep.Resource,
) -> None:
    comment = bicep.comment_above(assignment.file, assignment.symbol)
    role_name = BUILT_IN_ROLES[bicep.role_key(assignment)][0]
    assert comment.startswith(role_name), f"{assignment.symbol}: comment should start with '{role_name}'"
    assert len(comment) > len(role_name) + 20, f"{assignment.symbol}: say why the identity needs {role_name}"


def test_role_ids_are_azure_built_in_role_ids() -> None:
    used = {bicep.role_key(assignment) for assignment in bicep.resources_of_type(bicep.ROLE_ASSIGNMENT)}
    for key, role_id in bicep.built_in_roles().items():
        assert role_id == BUILT_IN_ROLES[key][1], f"{key}: {role_id} is not {BUILT_IN_ROLES[key][0]}"
    assert used <= set(bicep.built_in_roles())


def test_storage_queue_role_is_left_out_while_nothing_uses_storage_queues() -> None:
    """Least privilege: the host on Flex Consumption uses blobs (and tables), the app no queue trigger."""
    if re.search(r"azure\.storage\.queue|\.queue_trigger\(", app_code()):
        pytest.skip("the code now uses storage queues")
    assert "storageQueueDataContributor" not in app_roles()
