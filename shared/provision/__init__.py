"""Provisioning: `python -m shared.provision dataverse|amazon` creates what the app needs, idempotently.

schema/   what the app needs, one module per feature (the only place a feature adds a column, key or step)
dataverse tables, columns, keys and event steps in an unmanaged solution (plan.py decides, dataverse.py acts)
amazon    the SQS destination and the notification subscriptions
"""
