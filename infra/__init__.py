"""Deployment (Bicep for azd) and its hooks; a package only so the hooks run as `python -m infra.hooks...`."""
