"""Every template parses offline and the pieces fit together: modules exist, parameters are passed, the
Flex Consumption app is wired as the design says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.infra import bicep

API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@pytest.mark.parametrize("path", bicep.bicep_files(), ids=lambda path: str(path.relative_to(bicep.INFRA)))
def test_every_bicep_file_parses_with_pycep(path: Path) -> None:
    parsed = bicep.parse(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path.name} declares nothing"


def test_every_module_reference_points_at_a_file_whose_required_parameters_it_passes() -> None:
    for path in bicep.bicep_files():
        for symbol, declaration in bicep.parse(path).get("modules", {}).items():
            target = path.parent / declaration["detail"]["path"]
            assert target.is_file(), f"{path.name}: module {symbol} -> {target} missing"
            passed = set(bicep.body(declaration).get("params", {}))
            required = {
                name
                for name, param in bicep.parse(target)["parameters"].items()
                if not bicep.has_default(param)
            }
            assert required <= passed, f"{path.name}: module {symbol} misses {sorted(required - passed)}"
            assert passed <= set(bicep.parse(target)["parameters"]), f"{symbol} passes unknown parameters"


def test_every_resource_names_a_dated_api_version() -> None:
    for resource in bicep.resources():
        assert API_VERSION.match(resource.api_version), f"{resource.symbol}: {resource.api_version}"


def test_function_app_runs_python_311_on_flex_consumption_from_an_identity_read_package() -> None:
    (plan,) = bicep.resources_of_type("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.body["properties"]["reserved"] is True  # Linux
    (app,) = bicep.resources_of_type("Microsoft.Web/sites")
    assert app.api_version >= "2023-12-01", "functionAppConfig needs Microsoft.Web/sites 2023-12-01 or later"
    config = app.body["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["scaleAndConcurrency"] == {
        "instanceMemoryMB": "instanceMemoryMB",
        "maximumInstanceCount": "maximumInstanceCount",
    }, "memory and instance count are parameters"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    assert app.body["identity"]["type"] == "UserAssigned"
    assert app.body["tags"], "azd finds the app by its azd-service-name tag"
    assert "'azd-service-name': 'app'" in (bicep.INFRA / "modules" / "function-app.bicep").read_text()


def test_memory_and_instance_count_are_parameters_azd_can_set() -> None:
    parameters = bicep.main()["parameters"]
    assert parameters["instanceMemoryMB"]["default"] in (512, 2048, 4096)
    assert parameters["maximumInstanceCount"]["default"] >= 1
    mapped = json.loads((bicep.INFRA / "main.parameters.json").read_text())["parameters"]
    assert {"instanceMemoryMB", "maximumInstanceCount", "privateNetworking"} <= set(mapped)


def test_every_main_parameter_is_mapped_to_an_azd_environment_value_with_the_same_default() -> None:
    """azd fills parameters from main.parameters.json and prompts for the empty ones without a default; an
    unset variable without `=default` would pass '' and override the Bicep default."""
    mapped = json.loads((bicep.INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(mapped) == set(bicep.main()["parameters"])
    for name, parameter in bicep.main()["parameters"].items():
        match = re.fullmatch(r"\$\{([A-Z_]+)(?:=([^}]*))?\}", mapped[name]["value"])
        assert match, f"{name}: {mapped[name]['value']}"
        if bicep.has_default(parameter) and name != "principalId":  # azd always sets AZURE_PRINCIPAL_ID
            assert match.group(2) == json.dumps(parameter["default"]).strip('"'), name


def test_private_networking_switches_service_bus_to_premium_and_closes_public_access() -> None:
    (namespace,) = bicep.resources_of_type("Microsoft.ServiceBus/namespaces")
    sku = namespace.body["sku"]["operator"]
    assert sku["type"] == "conditional"
    assert sku["operands"]["condition"] == "privateNetworking"
    assert sku["operands"]["true_value"]["name"] == "Premium", "private endpoints need a Premium namespace"
    assert sku["operands"]["false_value"]["name"] == "Standard"
    for resource_type in (
        "Microsoft.ServiceBus/namespaces",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.KeyVault/vaults",
    ):
        (resource,) = bicep.resources_of_type(resource_type)
        access = resource.body["properties"]["publicNetworkAccess"]["operator"]["operands"]
        assert access["condition"] == "privateNetworking", resource_type
        assert access["true_value"] == "Disabled", resource_type


def test_private_network_has_a_flex_subnet_and_an_endpoint_with_dns_zone_per_service() -> None:
    network = bicep.module("private-network")
    (vnet,) = list(bicep.resources_of_type("Microsoft.Network/virtualNetworks"))
    delegations = [
        delegation["properties"]["serviceName"]
        for subnet in vnet.body["properties"]["subnets"]
        for delegation in subnet["properties"].get("delegations", [])
    ]
    assert delegations == ["Microsoft.App/environments"], (
        "Flex Consumption VNet integration needs this delegation"
    )
    endpoints = bicep.literal("endpoints", network)
    assert sorted(endpoint["groupId"] for endpoint in endpoints) == [
        "blob",
        "namespace",
        "queue",
        "table",
        "vault",
    ]
    assert all(endpoint["zone"].startswith("privatelink.") for endpoint in endpoints)
    main_modules = bicep.main()["modules"]
    condition = main_modules["network"]["config"]["condition"]
    assert condition == "privateNetworking", "the network exists only when private networking is asked for"
