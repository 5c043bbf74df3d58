// One topic and its subscriptions (called once per topic entry of main.bicep's serviceBusEntities list).
param namespaceName string
param name string
@description('Subscriptions: { name, source? } (source: a correlation filter on the `source` application property).')
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

resource subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = [for item in subscriptions: {
  parent: topic
  name: item.name
  properties: {
    maxDeliveryCount: subscriptionProperties.maxDeliveryCount
    lockDuration: subscriptionProperties.lockDuration
    deadLetteringOnMessageExpiration: subscriptionProperties.deadLetteringOnMessageExpiration
  }
}]

// A subscription with a `source` keeps only messages whose application property `source` has that value: its
// $Default rule (the TrueFilter Service Bus creates) is replaced by a correlation filter.
resource sourceFilter 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2024-01-01' = [for (item, i) in subscriptions: if (contains(item, 'source')) {
  parent: subscription[i]
  name: '$Default'
  properties: {
    filterType: 'CorrelationFilter'
    correlationFilter: {
      properties: { source: item.?source ?? '' }
    }
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
