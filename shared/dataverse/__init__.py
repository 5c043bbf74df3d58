"""Dataverse Web API: the client (the only code that calls Dataverse), OData escaping and the $batch codec."""
