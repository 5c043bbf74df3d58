// What pages the operator (one e-mail action group): dead letters on any queue, a function failure rate, and a
// timer function that stopped running.
param namePrefix string
param location string
param tags object
param alertEmail string
param serviceBusNamespaceId string
param applicationInsightsId string
@description('Timer functions expected to run at least once per window (their App Insights request name).')
param timerFunctionNames array
@description('Alert when more than this percentage of function runs failed in 15 minutes (and there were at least 5).')
param failureRatePercent int = 10

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'amazonsync'
    enabled: true
    emailReceivers: [
      { name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

// A dead letter needs a person: each one is a message that was parked with a reason (see the README's replay tool).
// Split by EntityName, so every queue and subscription, including ones added later, alerts on its own.
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'dead-letters-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Dead-lettered messages are waiting on a Service Bus queue: list them with python -m shared.servicebus.deadletters list.'
    severity: 2
    enabled: true
    scopes: [serviceBusNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            { name: 'EntityName', operator: 'Include', values: ['*'] }
          ]
          timeAggregation: 'Average'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    actions: [
      { actionGroupId: actionGroup.id }
    ]
  }
}

// Both queries read App Insights' requests table, which exists only after the first telemetry arrives; hence
// skipQueryValidation on the rules.
var failureRateQuery = 'requests | summarize runs = count(), failed = countif(success == false) by name | where runs >= 5 and failed * 100.0 / runs > ${failureRatePercent}'

resource failureRate 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'function-failures-${namePrefix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Function failure rate'
    description: 'More than ${failureRatePercent}% of a function\'s runs failed in the last 15 minutes.'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: failureRateQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'name', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}

// Lists the expected timer functions that have no run in the window: a stopped bridge means no notification arrives.
var timerMissingQuery = 'let expected = dynamic(${string(timerFunctionNames)}); let seen = requests | where name in (expected) | distinct name; print name = expected | mv-expand name to typeof(string) | join kind=leftanti seen on name'

resource timerMissing 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'timer-missing-${namePrefix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Timer function not running'
    description: 'A timer function (e.g. sqs_bridge) has not run in the last 15 minutes.'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    skipQueryValidation: true
    criteria: {
      allOf: [
        {
          query: timerMissingQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'name', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}
