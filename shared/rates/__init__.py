"""Reference exchange rates from outside Dataverse (the ECB's daily rates), read over HTTP."""
