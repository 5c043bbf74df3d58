"""Azurite's Table service (npm `azurite`, Microsoft's storage emulator) on 127.0.0.1.

Looks for `azurite-table` in ./node_modules/.bin first (installed by `npm ci`), then on PATH. The data
lives in memory only, so every run starts clean.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.services import LocalProcess, find_program, free_port

REPO = Path(__file__).resolve().parent.parent
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

__all__ = ["Azurite", "free_port"]


def azurite_table_binary() -> str:
    return find_program(
        "azurite-table",
        first_look_in=REPO / "node_modules" / ".bin",
        install_hint="run `npm ci` in the repository (see README)",
    )


class Azurite(LocalProcess):
    name = "Azurite"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    def command(self, port: int) -> list[str]:
        return [
            azurite_table_binary(),
            "--inMemoryPersistence",
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(port),
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
        ]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "AZURITE_ACCEPT_EULA": "true"}
