"""Pure functions from Amazon's order to the canonical order, and from it to Dataverse records.

No I/O happens here: what the mapping needs from Dataverse (currency and product ids) is looked up by the
flow and handed in, so every rule can be tested with plain values.
"""
