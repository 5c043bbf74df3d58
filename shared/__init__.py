"""The function app's own package: settings, connectors, mapping, state and flows.

Nothing here imports a heavy SDK at module import time; connectors import theirs where first used, so
`import function_app` stays fast on a cold start.
"""
