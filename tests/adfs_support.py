"""The emulated AD FS both on-premises test files sign in against: one relying party, one registered client,
and a clock the tests move by hand (token lifetimes and refresh margins without waiting)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.adfs_emulator import AdfsEmulator

RESOURCE = "https://crm.contoso.local/"
CLIENT_ID, SECRET = "6b7e2c1d-3f4a-4b5c-9d8e-0a1b2c3d4e5f", "adfs-secret-value"


class Clock:
    """Seconds since 1970, as AD FS stamps tokens; tests add to `now`."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def adfs_clock() -> Clock:
    return Clock()


@pytest.fixture
def adfs(adfs_clock: Clock) -> Iterator[AdfsEmulator]:
    with AdfsEmulator(clock=adfs_clock) as server:
        server.register_client(CLIENT_ID, SECRET, RESOURCE)
        yield server
