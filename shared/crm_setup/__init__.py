"""What Dynamics needs for the Dynamics -> Amazon direction: columns, the FBA stock table, keys, the Service Bus
service endpoint and the processing steps with their images, declared as data (declarations.py) and applied
idempotently through the Web API (registrar.py).

Kept in one place so it moves in one step into the provisioning package (`python -m shared.provision
dataverse`) as this feature's declaration module; the registrar is replaced by that package's machinery then.
"""
