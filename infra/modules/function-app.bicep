// The function app on Flex Consumption (Linux, Python 3.11): it runs from a package in a blob container that
// the platform reads with the app's user-assigned identity, and every app setting is identity-based.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param applicationInsightsConnectionString string
@description('The app\'s own settings (name/value pairs) from main.bicep; the host\'s are added here.')
param appSettings array
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@description('Subnet (delegated to Microsoft.App/environments) for VNet integration; empty: none.')
param subnetId string

// Settings of the Functions host itself: its storage, telemetry and the default credential, all with the identity.
var hostSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD;ClientId=${identityClientId}' }
  // DefaultAzureCredential (Key Vault, Table Storage, the bridge's Service Bus sender) picks the user-assigned identity.
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Flex Consumption zone redundancy exists only in some regions; a failed run is redelivered by Service Bus or retried by the next timer tick
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:the HTTP functions (resync, failures, health) are called from outside and guarded by function keys; privateNetworking closes the data services instead
  // checkov:skip=CKV_AZURE_17:HTTP callers authenticate with function keys; operators' tools do not present client certificates
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero per trigger; nothing is lost while no instance runs (messages wait in Service Bus, the timer runs on the next tick)
  // checkov:skip=CKV_AZURE_213:App Service health check is not available on Flex Consumption; the timer-missing and failure-rate alerts watch the app instead
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'app' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(hostSettings, appSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No publishing passwords: azd deploys with an Entra token, so basic (user/password) auth to FTP and SCM stays off.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = app.name
output id string = app.id
