"""ServiceBusStandIn: the broker on a background thread, plus inspection and fault injection for tests.

The unmodified azure-servicebus SDK connects with `ServiceBusClient.from_connection_string(...)`:
`UseDevelopmentEmulator=true` makes it (7.15) skip TLS and keep the port of the endpoint, so it speaks
plain AMQP to 127.0.0.1:<port>. It then authenticates with SASL ANONYMOUS and a $cbs put-token, which the
stand-in accepts whatever the key.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Self

from proton.reactor import ApplicationEvent, Container, EventInjector

from sandbox.services import Service

from . import codec
from .broker import BrokerHandler
from .codec import MessageView
from .queues import SERVER_BUSY, QueueOptions, QueueStore, SubQueue, TopicOptions

_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0


class ServiceBusStandIn(Service):
    """An AMQP 1.0 stand-in for a Service Bus namespace with queues and topics (no sessions, transactions)."""

    def __init__(
        self,
        queues: Mapping[str, QueueOptions] | None = None,
        *,
        topics: Mapping[str, TopicOptions] | None = None,
        auto_create_queues: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._store = QueueStore(queues, topics=topics, auto_create_queues=auto_create_queues)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._injector: EventInjector | None = None
        self._failure: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the stand-in is already running")
        handler = BrokerHandler(self._store, self._host, self._requested_port, self._on_listening)
        container = Container(handler)
        self._injector = EventInjector()
        container.selectable(self._injector)
        self._thread = threading.Thread(
            target=self._run, args=(container,), name="servicebus-stand-in", daemon=True
        )
        self._thread.start()
        if not self._listening.wait(_START_TIMEOUT_SECONDS):
            raise RuntimeError("the Service Bus stand-in did not start listening") from self._failure
        if self._failure is not None:
            raise RuntimeError("the Service Bus stand-in failed to start") from self._failure
        return self

    def stop(self) -> None:
        if self._thread is None or self._injector is None:
            return
        self._injector.trigger(ApplicationEvent("stand_in_stop"))
        self._injector.close()
        self._thread.join(_STOP_TIMEOUT_SECONDS)
        self._thread = None
        self._injector = None
        if self._failure is not None:
            # A bug in the broker kills its thread and leaves clients waiting; say so at teardown at least.
            raise RuntimeError("the Service Bus stand-in crashed while running") from self._failure

    def _run(self, container: Container) -> None:
        try:
            container.run()
        except BaseException as error:  # the thread must report why it died, whatever it was
            self._failure = error
            self._listening.set()
            raise

    def _on_listening(self, port: int) -> None:
        self._port = port
        self._listening.set()

    # -- addressing -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the stand-in is not started")
        return self._port

    @property
    def connection_string(self) -> str:
        # The key is never checked; it only has to be present for the SDK's connection-string parser.
        return (
            f"Endpoint=sb://{self._host}:{self.port}/;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=c3RhbmQtaW4=;UseDevelopmentEmulator=true"
        )

    # -- inspection (thread-safe, bypasses AMQP) ------------------------------------------------------

    def add_queue(self, name: str, options: QueueOptions) -> None:
        """Declare a queue with its options (also while running)."""
        self._store.add_queue(name, options)

    def add_topic(self, name: str, options: TopicOptions) -> None:
        """Declare a topic and its subscriptions (also while running)."""
        self._store.add_topic(name, options)

    def active_messages(self, queue: str) -> list[MessageView]:
        return [codec.view_of(m) for m in self._store.messages(queue, SubQueue.ACTIVE)]

    def dead_letters(self, queue: str) -> list[MessageView]:
        return [codec.view_of(m) for m in self._store.messages(queue, SubQueue.DEAD_LETTER)]

    def counts(self, queue: str) -> dict[str, int]:
        """{"active", "dead_letter", "locked", "duplicates_dropped"} of a queue or subscription (`<topic>/
        Subscriptions/<name>`); locked messages count as active too. A topic has only "duplicates_dropped"."""
        return self._store.counts(queue)

    # -- fault injection ------------------------------------------------------------------------------

    def fail_next_sends(self, queue: str, n: int, condition: str = SERVER_BUSY) -> None:
        """Reject the next n transfers to the queue (an SDK batch is one transfer) with that AMQP error."""
        self._store.fail_next_sends(queue, n, condition)

    def stall_sends(self, queue: str, seconds: float) -> None:
        """Hold back the acknowledgement of every transfer to the queue for the next `seconds`."""
        self._store.stall_sends(queue, seconds)
