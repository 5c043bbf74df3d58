"""Logging rules for the whole app: third-party loggers that would print secrets or personal data are
kept at WARNING, whatever the host's default level.

- python-amazon-sp-api logs request headers (the LWA access token) and response bodies (buyer names and
  addresses) at DEBUG;
- azure-core's HTTP logging policy logs URLs and headers at INFO;
- urllib3 logs every URL at DEBUG (Dataverse URLs carry order ids, which are fine, but not tokens).
Our own modules log ids and counts only, with %-style arguments.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = (
    "sp_api",
    "httpx",
    "httpcore",
    "urllib3",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.identity",
    "azure.servicebus",
    "uamqp",
)


def configure_logging() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
