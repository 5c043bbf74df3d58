"""No keys anywhere: no connection strings, account keys, SAS rules or shared-key access in the templates,
and every service that could accept a key has local auth switched off."""

from __future__ import annotations

import re

import pytest

from tests.infra import bicep

# Text that only appears where a key, a SAS or a key-bearing connection string is made or used.
FORBIDDEN = {
    "a list*() call (listKeys, listConnectionStrings, listAccountSas, ...) returns keys": re.compile(
        r"\blist[A-Z]\w*\(|\.list\w*\(", re.IGNORECASE
    ),
    "a storage connection string": re.compile(r"DefaultEndpointsProtocol|AccountKey=", re.IGNORECASE),
    "a Service Bus connection string or SAS": re.compile(
        r"Endpoint=sb://|SharedAccessKey|SharedAccessSignature", re.IGNORECASE
    ),
    "a SAS authorization rule": re.compile(r"authorizationRules", re.IGNORECASE),
    "shared-key access switched on": re.compile(r"allowSharedKeyAccess:\s*true", re.IGNORECASE),
    "local (key) auth switched on": re.compile(r"disableLocalAuth:\s*false", re.IGNORECASE),
    "a secure parameter (secrets go to Key Vault through the hook, never through a deployment)": re.compile(
        r"@secure\(\)"
    ),
}


def violations(text: str) -> list[str]:
    return [reason for reason, pattern in FORBIDDEN.items() if pattern.search(text)]


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("value: storage.listKeys().keys[0].value", "list*() call"),
        ("value: 'DefaultEndpointsProtocol=https;AccountName=${name}'", "storage connection string"),
        ("value: listKeys(ruleId, '2022-10-01-preview').primaryConnectionString", "list*() call"),
        (
            "resource rule 'Microsoft.ServiceBus/namespaces/AuthorizationRules@2024-01-01' = {",
            "SAS authorization",
        ),
        ("  allowSharedKeyAccess: true", "shared-key access"),
        ("  disableLocalAuth: false", "local (key) auth"),
        ("value: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a'", "Service Bus connection"),
    ],
)
def test_the_key_detector_recognises_each_kind_of_key(snippet: str, reason: str) -> None:
    assert any(reason in found for found in violations(snippet)), violations(snippet)


@pytest.mark.parametrize("path", bicep.bicep_files(), ids=lambda path: path.name)
def test_no_template_makes_or_uses_a_key(path) -> None:
    assert violations(bicep.code(path)) == []


def test_every_storage_account_refuses_shared_keys_and_plain_http() -> None:
    accounts = bicep.resources_of_type("Microsoft.Storage/storageAccounts")
    assert accounts
    for account in accounts:
        properties = account.body["properties"]
        assert properties["allowSharedKeyAccess"] is False
        assert properties["allowBlobPublicAccess"] is False
        assert properties["supportsHttpsTrafficOnly"] is True
        assert properties["minimumTlsVersion"] == "TLS1_2"


def test_service_bus_application_insights_and_log_analytics_accept_entra_tokens_only() -> None:
    (namespace,) = bicep.resources_of_type("Microsoft.ServiceBus/namespaces")
    assert namespace.body["properties"]["disableLocalAuth"] is True
    (insights,) = bicep.resources_of_type("Microsoft.Insights/components")
    assert insights.body["properties"]["DisableLocalAuth"] is True
    (workspace,) = bicep.resources_of_type("Microsoft.OperationalInsights/workspaces")
    assert workspace.body["properties"]["features"]["disableLocalAuth"] is True


def test_key_vault_uses_rbac_with_soft_delete_and_purge_protection() -> None:
    (vault,) = bicep.resources_of_type("Microsoft.KeyVault/vaults")
    properties = vault.body["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    assert "accessPolicies" not in properties


def test_publishing_passwords_are_off_for_ftp_and_scm() -> None:
    policies = bicep.resources_of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert sorted(policy.body["name"] for policy in policies) == ["ftp", "scm"]
    assert all(policy.body["properties"]["allow"] is False for policy in policies)
