"""What the app needs in Dataverse and at Amazon, declared per feature.

Adding a feature's needs is one file: a module here with `declare(context: SchemaContext) -> Feature`
(shared/model/crm_schema.py has the types: Column, AlternateKey, CustomTable, ServiceEndpointStep,
Subscription). registry.py finds every such module; both provisioning commands read the merged result.
Take column names from `context.mapping` where the mapping writes them, so a MAPPING_FILE rename is
provisioned too, and prefix new names with `context.prefix`.
"""
