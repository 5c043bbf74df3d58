"""A TCP proxy on 127.0.0.1 that can cut a dependency off and bring it back, data intact.

Stopping Azurite to simulate a Table Storage outage would lose its in-memory tables; this proxy sits
between the app and the real service instead. `cut()` drops every open connection and resets new ones
at once (what a client sees when a service or its network is down); `restore()` lets traffic through
again, to the same service with the same data.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self

from sandbox.services import Service

_CHUNK = 64 * 1024


class TcpProxy(Service):
    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._down = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.refused = 0  # connections reset while cut off

    def start(self) -> Self:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept, name="tcp proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        self._drop_all()

    def cut(self) -> None:
        """The dependency is down from now on: open connections break, new ones are reset."""
        self._down.set()
        self._drop_all()

    def restore(self) -> None:
        self._down.clear()

    @property
    def is_down(self) -> bool:
        return self._down.is_set()

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._forget(source)
            self._forget(sink)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            dropped, self._open = self._open, set()
        for sock in dropped:
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees 'connection reset', as when a service dies."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()
