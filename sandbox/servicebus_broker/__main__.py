"""Run the stand-in by hand: `python -m sandbox.servicebus_broker --port 5672 --queue orders`."""

from __future__ import annotations

import argparse
import signal
import threading

from .queues import QueueOptions
from .standin import ServiceBusStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.servicebus_broker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--queue", action="append", default=[], help="declare a queue (repeatable)")
    parser.add_argument(
        "--no-auto-create", action="store_true", help="refuse links to queues not declared with --queue"
    )
    args = parser.parse_args(argv)
    queues = {name: QueueOptions() for name in args.queue}
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ServiceBusStandIn(
        queues, auto_create_queues=not args.no_auto_create, host=args.host, port=args.port
    ) as bus:
        print(bus.connection_string, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
