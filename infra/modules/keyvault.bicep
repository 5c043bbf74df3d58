// Key Vault for the app's secrets (SP-API and AWS credentials; names in shared/config.py). Access is by Azure
// RBAC only; values are written by infra/hooks/store_secrets.py after provisioning, never by this template.
param name string
param location string
param tags object
param appPrincipalId string
@description('Person or pipeline running azd (may be empty): writes the secret values.')
param operatorPrincipalId string
param privateNetworking bool

var roles = loadJsonContent('built-in-roles.json')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:the firewall denies by default when privateNetworking is on; without it the operator's machine must reach the vault to store the secrets, and RBAC guards every read
  // checkov:skip=CKV_AZURE_189:public access is Disabled when privateNetworking is on (a conditional value checkov cannot evaluate); otherwise RBAC-only access as above
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    // The shortest allowed: a vault removed by `azd down` keeps its name reserved this long.
    softDeleteRetentionInDays: 7
    enablePurgeProtection: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

// Key Vault Secrets User: the app reads its secrets at start-up (shared/secrets.py).
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets Officer for the operator: the post-provision hook writes the secret values.
resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
