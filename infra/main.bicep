// Amazon Seller Central <-> Dynamics 365 sync on Azure Functions (Flex Consumption). `azd up` deploys this.
// One user-assigned managed identity makes every connection: no account keys, SAS or connection strings.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; choose one with Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of whoever runs azd (azd fills it in): may write Key Vault secrets and list/replay dead letters. Empty: nobody.')
param principalId string = ''

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com')
param dataverseUrl string

@description('The seller\'s merchant id; notifications for any other seller are dead-lettered.')
param spapiSellerId string

@description('Comma-separated marketplace ids the seller sells in.')
param spapiMarketplaceIds string = 'ATVPDKIKX0DER'

@allowed(['na', 'eu', 'fe'])
@description('SP-API region of the marketplaces.')
param spapiRegion string = 'na'

@description('URL of the Amazon SQS queue SP-API delivers notifications to (the sqs_bridge timer polls it).')
param sqsQueueUrl string

@description('AWS region of the SQS queue.')
param awsRegion string = 'us-east-1'

@description('Who gets the alerts (dead letters, failures, a stopped timer).')
param alertEmail string

@allowed([512, 2048, 4096])
@description('Memory of one function instance (MB).')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most instances Flex Consumption may run; Dataverse allows 52 concurrent requests per user and host.json runs 16 calls per instance.')
param maximumInstanceCount int = 3

@description('Private endpoints for storage, Service Bus (switches it to Premium) and Key Vault, plus VNet integration.')
param privateNetworking bool = false

@description('NCRONTAB schedule (UTC) of the daily FBA inventory sweep.')
param fbaSweepSchedule string = '0 30 3 * * *'

@allowed(['Standard_ZRS', 'Standard_LRS'])
@description('Storage redundancy; Standard_LRS for a region without availability zones.')
param storageSkuName string = 'Standard_ZRS'

// Every Service Bus queue and topic, in ONE list: adding a queue is one line here (plus its row in the README's
// queue table). Delivery settings default to servicebus.bicep's queueDefaults; an entry may override them under
// `properties`. `setting` names the app setting that carries the queue name (the trigger reads %SETTING%).
// A topic's subscriptions each take every message, or, with `source`, only those whose application property
// `source` has that value (a correlation filter); they are documented in the README's topic table.
var serviceBusEntities = [
  { kind: 'queue', name: 'amazon-notifications', setting: 'AMAZON_NOTIFICATIONS_QUEUE' }
  // Dataverse's service endpoint posts RemoteExecutionContext messages here (registered by provisioning).
  { kind: 'queue', name: 'dataverse-events', setting: 'DATAVERSE_EVENTS_QUEUE' }
  // Resync jobs queued by POST /api/resync, run by the resync function.
  { kind: 'queue', name: 'resync', setting: 'RESYNC_QUEUE' }
  {
    kind: 'topic'
    name: 'inventory-changes'
    setting: 'INVENTORY_CHANGES_TOPIC'
    subscriptions: [
      { name: 'all-changes' }
      { name: 'from-crm', source: 'crm' }
      { name: 'from-amazon-fba', source: 'amazon-fba' }
      { name: 'from-amazon-mfn', source: 'amazon-mfn' }
    ]
  }
]

// Timer functions the "timer not running" alert watches (App Insights request names = function names).
var timerFunctionNames = [
  'sqs_bridge'
  'orders_sweep'
  'finance_sync'
  'settlement_reports'
  'listings_backlog'
  'fba_inventory_sweep'
]

var stateTableName = 'amazonsync'
var deploymentContainerName = 'app-package'
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: 'id-${resourceToken}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    deploymentContainerName: deploymentContainerName
    stateTableName: stateTableName
    privateNetworking: privateNetworking
    skuName: storageSkuName
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    entities: serviceBusEntities
    privateNetworking: privateNetworking
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    privateNetworking: privateNetworking
  }
}

module network 'modules/private-network.bicep' = if (privateNetworking) {
  name: 'private-network'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    serviceBusNamespaceId: serviceBus.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

// The app's settings, named as in shared/config.py. Secrets are not among them: the app reads those from
// Key Vault (KEY_VAULT_URL) with its identity.
var queueSettings = [for entity in filter(serviceBusEntities, e => contains(e, 'setting')): { name: entity.setting, value: entity.name }]
var connectionSettings = [
  { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: serviceBus.outputs.fullyQualifiedNamespace }
  { name: 'ServiceBusConnection__credential', value: 'managedidentity' }
  { name: 'ServiceBusConnection__clientId', value: identity.outputs.clientId }
  { name: 'STATE_STORAGE_TABLE_ENDPOINT', value: storage.outputs.tableEndpoint }
  { name: 'STATE_TABLE', value: storage.outputs.stateTableName }
  { name: 'KEY_VAULT_URL', value: keyVault.outputs.uri }
]
var amazonSettings = [
  { name: 'SPAPI_REGION', value: spapiRegion }
  { name: 'SPAPI_MARKETPLACE_IDS', value: spapiMarketplaceIds }
  { name: 'SPAPI_SELLER_ID', value: spapiSellerId }
  { name: 'SQS_QUEUE_URL', value: sqsQueueUrl }
  { name: 'AWS_REGION', value: awsRegion }
  // The orders_sweep timer reads its schedule as %ORDERS_SWEEP_SCHEDULE%: without the setting it would not start.
  { name: 'ORDERS_SWEEP_SCHEDULE', value: '0 */10 * * * *' }
  // finance_sync (transactions, exchange rates) and settlement_reports read their schedules the same way.
  { name: 'FINANCE_SYNC_SCHEDULE', value: '0 */30 * * * *' }
  { name: 'SETTLEMENT_REPORTS_SCHEDULE', value: '0 20 */6 * * *' }
]
var dataverseSettings = [
  { name: 'DATAVERSE_URL', value: dataverseUrl }
  { name: 'DATAVERSE_AUTH', value: 'managed_identity' }
  { name: 'DATAVERSE_CLIENT_ID', value: identity.outputs.clientId }
]
// Dynamics -> Amazon: the daily FBA sweep's schedule is a binding expression (%FBA_SWEEP_SCHEDULE%), so the host
// needs it as an app setting; the rest keep the defaults of shared/config.py.
var crmToAmazonSettings = [
  { name: 'FBA_SWEEP_SCHEDULE', value: fbaSweepSchedule }
]

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    appSettings: concat(queueSettings, connectionSettings, amazonSettings, dataverseSettings, crmToAmazonSettings)
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    subnetId: privateNetworking ? network.outputs.appSubnetId : ''
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.id
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    timerFunctionNames: timerFunctionNames
  }
}

// azd stores these in the environment (.azure/<env>/.env); the hooks and the operator tools read them, under
// the same names as the app settings.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URL string = keyVault.outputs.uri
output ServiceBusConnection__fullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output STATE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output STATE_TABLE string = storage.outputs.stateTableName
output DATAVERSE_URL string = dataverseUrl
// The app identity's client id: `python -m shared.provision dataverse` makes it a Dataverse application user.
output DATAVERSE_CLIENT_ID string = identity.outputs.clientId
output SPAPI_SELLER_ID string = spapiSellerId
output SPAPI_MARKETPLACE_IDS string = spapiMarketplaceIds
output SPAPI_REGION string = spapiRegion
output SQS_QUEUE_URL string = sqsQueueUrl
output AWS_REGION string = awsRegion
