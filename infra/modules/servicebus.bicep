// Service Bus namespace and every queue and topic the app uses, created from ONE list (`entities`, passed in
// by main.bicep). Local (SAS) auth is off: the app connects with its managed identity.
param name string
param location string
param tags object
param appPrincipalId string
@description('Person or pipeline running azd (may be empty): lists and replays dead letters with shared.servicebus.deadletters.')
param operatorPrincipalId string
@description('Queues and topics: { kind: \'queue\' | \'topic\', name, setting?, properties?, subscriptions? }.')
param entities array
@description('Private networking needs Premium: only Premium namespaces accept private endpoints.')
param privateNetworking bool

var roles = loadJsonContent('built-in-roles.json')

// What every queue (and topic subscription) gets unless its entry overrides it under `properties`. These are
// the values the README's queue table documents; tests/infra compares the two.
var queueDefaults = {
  maxDeliveryCount: 10
  lockDuration: 'PT5M'
  requiresDuplicateDetection: true
  duplicateDetectionHistoryTimeWindow: 'PT10M'
  deadLetteringOnMessageExpiration: true
}
var queues = filter(entities, e => e.kind == 'queue')
var topics = filter(entities, e => e.kind == 'topic')

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: privateNetworking ? { name: 'Premium', tier: 'Premium', capacity: 1 } : { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for item in queues: {
  parent: namespace
  name: item.name
  properties: union(queueDefaults, item.?properties ?? {})
}]

module topic 'servicebus-topic.bicep' = [for item in topics: {
  name: 'topic-${item.name}'
  params: {
    namespaceName: namespace.name
    name: item.name
    subscriptions: item.subscriptions
    subscriptionProperties: union(queueDefaults, item.?properties ?? {})
    appPrincipalId: appPrincipalId
  }
}]

// Azure Service Bus Data Receiver: the amazon_notifications trigger receives and settles messages.
resource appReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, appPrincipalId, roles.serviceBusDataReceiver)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Sender: the sqs_bridge timer sends Amazon notifications to the queue; the flows reschedule
// copies of messages and publish inventory changes to the topic.
resource appSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, appPrincipalId, roles.serviceBusDataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner, per queue: the trigger's scaler reads the queue length (needs the Manage claim, which
// Receiver lacks; without it Flex Consumption scales on the oldest message's age only). Dead-letter replay does NOT need
// it: listing peeks (Receiver), replay sends a copy (Sender) and completes the dead letter (Receiver).
resource appQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (item, i) in queues: {
  name: guid(queue[i].id, appPrincipalId, roles.serviceBusDataOwner)
  scope: queue[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Azure Service Bus Data Receiver for the operator: `deadletters list` peeks and `replay` completes dead letters.
resource operatorReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(namespace.id, operatorPrincipalId, roles.serviceBusDataReceiver)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: operatorPrincipalId
  }
}

// Azure Service Bus Data Sender for the operator: `deadletters replay` sends the copy back to the queue.
resource operatorSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(namespace.id, operatorPrincipalId, roles.serviceBusDataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: operatorPrincipalId
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
