"""Starts moto's server (PyPI `moto[server]`) on 127.0.0.1 as an Amazon SQS stand-in, like sandbox/azurite.py.

    with MotoSqs() as sqs:
        url = sqs.create_queue("amazon-notifications")
        # SQS_ENDPOINT=sqs.endpoint_url, SQS_QUEUE_URL=url, AWS_ACCESS_KEY_ID/SECRET=the dummy keys below

Looks for `moto_server` next to the running interpreter first (the project's venv), then on PATH. moto keeps
its state in memory, so every start is clean; queues made by one test are not seen by another as long as
each test uses a queue of its own (`create_queue` with a fresh name).
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.services import LocalProcess, find_program

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
# moto accepts any credentials; these only have to be present so boto3 signs its requests.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"


def moto_server_binary() -> str:
    return find_program(
        "moto_server",
        first_look_in=Path(sys.executable).parent,
        install_hint="install the dev requirements (moto[server])",
    )


class MotoSqs(LocalProcess):
    """moto's server as a subprocess; `endpoint_url` is what SQS_ENDPOINT (or boto3's endpoint_url) takes."""

    name = "moto server"

    def __init__(self, region: str = REGION) -> None:
        super().__init__()
        self.region = region

    @property
    def endpoint_url(self) -> str:
        if not self.port:
            raise RuntimeError("moto server is not started")
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> SQSClient:
        """A boto3 SQS client on the server (dummy credentials), for tests that publish or inspect."""
        import boto3

        return boto3.client(
            "sqs",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_queue(self, name: str, **attributes: str) -> str:
        """Create a standard queue (attributes as in CreateQueue, e.g. VisibilityTimeout="5"); returns its URL."""
        client = self.client()
        try:
            return client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        finally:
            client.close()

    def command(self, port: int) -> list[str]:
        return [moto_server_binary(), "-H", "127.0.0.1", "-p", str(port)]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "MOTO_ALLOW_NONEXISTENT_REGION": "true"}

    def is_ready(self) -> bool:
        """The port answers before the app is ready; moto's own API says when it is."""
        if not super().is_ready():
            return False
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2) as answer:  # noqa: S310 (loopback URL we built)
                return bool(answer.status == 200)
        except OSError:
            return False
