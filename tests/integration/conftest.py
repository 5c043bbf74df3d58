"""Fixtures for the integration tests: real services on 127.0.0.1, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.moto_sqs import MotoSqs


@pytest.fixture(scope="session")
def moto_sqs() -> Iterator[MotoSqs]:
    """moto's server as the SQS endpoint for the whole session; each test creates queues of its own."""
    with MotoSqs() as server:
        yield server
