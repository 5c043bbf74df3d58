// The one storage account: the Functions host's own storage (AzureWebJobsStorage: timer leases, host keys),
// the deployment package container Flex Consumption runs from, and the app's state table. Shared keys are
// off, so only Entra identities get in.
param name string
param location string
param tags object
param appPrincipalId string
param deploymentContainerName string
param stateTableName string
@description('Private networking: no public endpoint; reached through private endpoints only.')
param privateNetworking bool
@allowed(['Standard_ZRS', 'Standard_LRS'])
@description('Zone-redundant by default; Standard_LRS for a region without availability zones.')
param skuName string

var roles = loadJsonContent('built-in-roles.json')

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:the firewall denies by default when privateNetworking is on; without it shared keys are off, so only Entra identities with a role get in
  // checkov:skip=CKV_AZURE_206:zone-redundant, not geo-replicated: the state table can be rebuilt from Amazon and Dataverse (order repair) and azd re-uploads the package
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tables
  name: stateTableName
}

// Storage Blob Data Owner: the host keeps timer leases and keys in blobs, and Flex Consumption reads the deployment package.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: dedupe records and order checkpoints; account scope because the app creates the table if missing.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, roles.storageTableDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// No Storage Queue Data Contributor: nothing here uses storage queues (no queue or blob trigger, no Durable Functions).

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output stateTableName string = stateTable.name
