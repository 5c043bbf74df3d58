"""What every local stand-in has in common: started on 127.0.0.1, stopped again, usable with `with`.

`LocalProcess` is for the ones that are separate programs (Azurite from npm, moto's server from PyPI): it
picks a free port, starts the program, waits until it answers and stops it (terminate, then kill).
"""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def find_program(name: str, *, first_look_in: Path, install_hint: str) -> str:
    """A program from the project's own install (node_modules/.bin, the venv's bin) before PATH."""
    local = first_look_in / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: {install_hint}")


def serve_in_background(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Run an in-process server (an emulator, a stand-in) on a daemon thread."""
    thread = threading.Thread(
        target=server.serve_forever, name=name, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return thread


def shut_down(server: socketserver.BaseServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


class Service:
    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LocalProcess(Service):
    """A server program on a free loopback port, for the length of a test session or a sandbox run."""

    name = "service"
    start_timeout = 30.0

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def is_ready(self) -> bool:
        """By default: the port accepts connections."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self) -> Self:
        for _attempt in range(3):  # the port we picked may be taken in between: try another
            self.port = free_port()
            self._process = subprocess.Popen(
                self.command(self.port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.environment(),
            )
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"{self.name} did not start")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if self.is_ready():
                return True
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
