// One topic and its subscriptions (called once per topic entry of main.bicep's serviceBusEntities list).
param namespaceName string
param name string
param subscriptions array
@description('Delivery settings of every subscription (the same defaults as the queues).')
param subscriptionProperties object
param appPrincipalId string

var roles = loadJsonContent('built-in-roles.json')

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: name
  properties: {
    requiresDuplicateDetection: subscriptionProperties.requiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: subscriptionProperties.duplicateDetectionHistoryTimeWindow
  }
}

resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = [for subscriptionName in subscriptions: {
  parent: topic
  name: subscriptionName
  properties: {
    maxDeliveryCount: subscriptionProperties.maxDeliveryCount
    lockDuration: subscriptionProperties.lockDuration
    deadLetteringOnMessageExpiration: subscriptionProperties.deadLetteringOnMessageExpiration
  }
}]

// Azure Service Bus Data Owner on the topic: the trigger's scaler reads subscription lengths (Manage claim), as for queues.
resource appTopicOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, roles.serviceBusDataOwner)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
