"""Starts moto's server (PyPI `moto[server]`) on 127.0.0.1 as an Amazon SQS stand-in, like sandbox/azurite.py.

    with MotoSqs() as sqs:
        url = sqs.create_queue("amazon-notifications")
        # SQS_ENDPOINT=sqs.endpoint_url, SQS_QUEUE_URL=url, AWS_ACCESS_KEY_ID/SECRET=the dummy keys below

Looks for `moto_server` next to the running interpreter first (the project's venv), then on PATH. moto keeps
its state in memory, so every start is clean; queues made by one test are not seen by another as long as
each test uses a queue of its own (`create_queue` with a fresh name).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sandbox.azurite import free_port

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
# moto accepts any credentials; these only have to be present so boto3 signs its requests.
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"


def moto_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "moto_server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("moto_server")
    if found:
        return found
    raise FileNotFoundError("moto_server not found: install the dev requirements (moto[server])")


class MotoSqs:
    """moto's server as a subprocess; `endpoint_url` is what SQS_ENDPOINT (or boto3's endpoint_url) takes."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

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

    def start(self, timeout: float = 30.0) -> Self:
        for _attempt in range(3):  # the port we picked may be taken in between: try another
            self.port = free_port()
            self._process = subprocess.Popen(
                [moto_server_binary(), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            )
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError("moto server did not start")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                # The port answers before the app is ready; moto's own API says when it is.
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2) as answer:  # noqa: S310 (loopback URL we built)
                    if answer.status == 200:
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
            self.port = 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
