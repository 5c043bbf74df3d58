"""The types the layers exchange, below everything that does I/O.

`order` is the canonical order (what the product means by an Amazon order, independent of both APIs);
`crm` holds the Dataverse-side records and write plans the mapping produces and the connector sends;
`applied` says what the CRM already holds for an order and decides when a change is stale.
Nothing here imports a connector, the mapping, state or a flow.
"""
