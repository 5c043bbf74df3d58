"""Fixtures every test layer shares: where Amazon's and Microsoft's reference documents live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.sandbox_support",
    "tests.telemetry_support",
    "tests.crm_support",
    "tests.ops_support",
    "tests.adfs_support",
    "pytester",
]  # pytester: tests of the test support itself

REPO_ROOT = Path(__file__).resolve().parent.parent


def _reference_dir(variable: str, default: Path) -> Path:
    path = Path(os.environ.get(variable) or default)
    if not path.is_dir():
        pytest.skip(f"{variable} not found at {path}: set {variable} to run the contract checks against it")
    return path


@pytest.fixture(scope="session")
def spapi_models_dir() -> Path:
    """Amazon's published SP-API models (models/, schemas/notifications/, rate_limits.json)."""
    return _reference_dir("SPAPI_MODELS_DIR", REPO_ROOT.parent / "shared" / "reference" / "amazon-sp-api")


@pytest.fixture(scope="session")
def dataverse_cdm_dir() -> Path:
    """Microsoft's CDM table definitions (Order.cdm.json, OrderProduct.cdm.json, ...)."""
    return _reference_dir("DATAVERSE_CDM_DIR", REPO_ROOT.parent / "shared" / "reference" / "dataverse-cdm")


# --- real services, started by the tests on 127.0.0.1 ----------------------------------------------------
@pytest.fixture(scope="session")
def azurite():
    """Azurite's Table service for the whole test session (in-memory, fresh tables per test)."""
    from sandbox.azurite import Azurite

    with Azurite() as instance:
        yield instance


@pytest.fixture
def table_name() -> str:
    import uuid

    return "t" + uuid.uuid4().hex[:16]


@pytest.fixture
def table_client(azurite, table_name):
    """A client of a fresh Azurite table (created by whoever uses it first)."""
    from azure.data.tables import TableServiceClient

    return TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)


@pytest.fixture
def state_store(table_client):
    """A StateStore on a fresh Azurite table."""
    from shared.state.store import StateStore

    store = StateStore(table_client)
    yield store
    store.close()
