// The one identity the function app uses for every connection (storage, Service Bus, Key Vault,
// Application Insights, Dataverse). User-assigned, so roles exist before the app starts and survive
// a re-created app.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
