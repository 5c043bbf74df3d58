"""`python -m tests.bench.logging_cost [records]`: what the redaction filter adds to one log record.

For each kind of line, the best of five rounds of `records` records: the CPU time to make the record and
format it as a handler would, without and with `RedactingFilter` in between. Our own lines (ids and counts)
are what production logs; the sp_api lines are what raising a level to DEBUG would add.
"""

from __future__ import annotations

import logging
import sys
import time

from shared.logging_policy import RedactingFilter

LINES: dict[str, tuple[str, tuple[object, ...]]] = {
    "app line (ids and counts)": (
        "Order %s: transient failure, messages rescheduled: %s",
        ("113-4567890-1234567", "SpApiThrottled"),
    ),
    "app summary line": ("Order sync: %s", ("applied=3, duplicate=1, messages=5, written=2",)),
    "sp_api request headers": (
        "Request Headers: %s",
        (
            {
                "host": "sellingpartnerapi-na.amazon.com",
                "user-agent": "python-sp-api-2.1.35",
                "x-amz-access-token": "Atza|IwEBIExampleExampleExampleExample",
                "x-amz-date": "20260101T000000Z",
                "content-type": "application/json; charset=utf-8",
            },
        ),
    ),
    "sp_api response (buyer, address)": (
        "Response: %s",
        (
            {
                "payload": {
                    "orderId": "113-4567890-1234567",
                    "buyer": {"buyerName": "Jane Example", "buyerEmail": "x7@marketplace.amazon.com"},
                    "recipient": {
                        "deliveryAddress": {
                            "name": "Jane Example",
                            "addressLine1": "1 Example Street",
                            "city": "Seattle",
                            "postalCode": "98101",
                            "phone": "+1 206 555 0100",
                        }
                    },
                }
            },
        ),
    ),
}
FORMATTER = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def microseconds_per_record(
    message: str, args: tuple[object, ...], records: int, filter_: logging.Filter | None
) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(records):
            record = logging.LogRecord("bench", logging.INFO, __file__, 1, message, args, None)
            if filter_ is not None:
                filter_.filter(record)
            FORMATTER.format(record)
        best = min(best, time.process_time() - started)
    return best / records * 1e6


def main(records: int = 20_000) -> None:
    print(f"Redaction filter cost per log record (best of 5 rounds of {records})")
    redaction = RedactingFilter()
    for name, (message, args) in LINES.items():
        without = microseconds_per_record(message, args, records, None)
        with_filter = microseconds_per_record(message, args, records, redaction)
        print(f"  {name:<34} {without:6.2f} us -> {with_filter:6.2f} us  (+{with_filter - without:.2f} us)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
