"""Azure Service Bus: the trigger's settlement glue, clients for the bridge and the dead-letter tools."""
