"""A corpus of hostile and broken message bodies, by class: what an attacker or a bad day puts on the queue.

Every case is a (class, name, body) triple; the test runs them all through the registered function and
checks that each ends completed or dead-lettered with a reason, never raised, never hung, never written.
Built from a valid ORDER_CHANGE envelope so each case differs from a real notification in one way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.amazon_samples import DEFAULT_SELLER_ID
from tests.builders import order_change

Case = tuple[str, str, bytes]


def _valid(index: int) -> dict[str, Any]:
    """A valid notification for the sandbox's seller, of an order Amazon (the emulator) does not know."""
    return order_change(
        order_id=f"113-{index:07d}-0000000", notification_id=f"hostile-{index}", seller_id=DEFAULT_SELLER_ID
    )


def _mutated(index: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    envelope = copy.deepcopy(_valid(index))
    change(envelope)
    return json.dumps(envelope).encode("utf-8")


def _payload(envelope: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = envelope["Payload"]["OrderChangeNotification"]
    return payload


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        target: Any = envelope
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        target: Any = envelope
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[last]

    return change


ORDER = "Payload.OrderChangeNotification"
FIELDS = [
    "NotificationVersion",
    "NotificationType",
    "PayloadVersion",
    "EventTime",
    "NotificationMetadata.NotificationId",
    "NotificationMetadata.PublishTime",
    "NotificationMetadata.ApplicationId",
    f"{ORDER}.AmazonOrderId",
    f"{ORDER}.SellerId",
    f"{ORDER}.OrderChangeType",
    f"{ORDER}.OrderChangeTrigger.TimeOfOrderChange",
    f"{ORDER}.Summary.OrderStatus",
    f"{ORDER}.Summary.MarketplaceId",
    f"{ORDER}.Summary.OrderItems.0.Quantity",
    f"{ORDER}.Summary.OrderItems.0.SellerSKU",
]
WRONG_VALUES: list[tuple[str, Any]] = [
    ("null", None),
    ("number", 12345),
    ("negative", -1),
    ("float", 1.5e308),
    ("bool", True),
    ("list", ["x"]),
    ("object", {"x": 1}),
    ("empty", ""),
]
UNICODE: list[tuple[str, str]] = [
    ("lone-surrogate", "\ud800"),
    ("rtl-override", "113\u202e-evil"),
    ("zero-width", "113\u200b-1"),
    ("nul", "113\x00-1"),
    ("ansi-escape", "\x1b[31mred\x1b[0m"),
    ("crlf", "113\r\nX-Injected: 1"),
    ("emoji", "113-\U0001f600"),
    ("bom", "\ufeff113-1"),
    ("combining", "e\u0301\u0301\u0301"),
    ("private-use", "\ue000\uf8ff"),
]
INJECTIONS: list[tuple[str, str]] = [
    ("odata-quote", "113' or 1 eq 1 or 'a"),
    ("odata-doubled", "113''--"),
    ("content-id", "$1"),
    ("content-id-2", "$2/salesorderdetails"),
    ("path-traversal", "../../$metadata"),
    ("percent", "%27%20or%201%20eq%201"),
    ("query", "113?$select=*"),
    ("fragment", "113#x"),
    ("ampersand", "113&$filter=true"),
    ("plus", "113+1"),
    ("slash", "113/1"),
    ("backslash", "113\\1"),
    ("sql", "113'; DROP TABLE salesorders;--"),
    ("format", "{order_id}{0}%s%n"),
    ("json-in-string", '{"a": 1}'),
    ("log-forging", "113\n[ERROR] forged line"),
    ("html", "<script>alert(1)</script>"),
    ("header", "x\r\nAuthorization: Bearer stolen"),
]


def corpus() -> list[Case]:
    return list(_cases())


def _cases() -> Iterator[Case]:
    index = 0

    def next_index() -> int:
        nonlocal index
        index += 1
        return index

    # 1. Not JSON, not UTF-8, not an object.
    raw_bodies = [
        ("empty", b""),
        ("whitespace", b"   \n\t "),
        ("truncated", json.dumps(_valid(0)).encode()[:60]),
        ("trailing-garbage", json.dumps(_valid(0)).encode() + b"}}}"),
        ("latin-1", "Bestellung für Müller".encode("latin-1")),
        ("utf-16", json.dumps(_valid(0)).encode("utf-16")),
        ("bom", b"\xef\xbb\xbf" + json.dumps(_valid(0)).encode()),
        ("nan", b'{"NotificationVersion": NaN}'),
        ("infinity", b'{"NotificationVersion": Infinity}'),
        ("xml", b"<Notification><Type>ORDER_CHANGE</Type></Notification>"),
        ("single-quotes", b"{'NotificationType': 'ORDER_CHANGE'}"),
        ("binary", bytes(range(256))),
        ("null-bytes", b"\x00" * 64),
        ("huge-int", b'{"a": ' + b"9" * 5000 + b"}"),
        ("duplicate-keys", b'{"NotificationType": "ORDER_CHANGE", "NotificationType": "X"}'),
    ]
    for name, raw in raw_bodies:
        yield ("malformed", name, raw)
    not_objects: list[tuple[str, Any]] = [("array", []), ("string", "x"), ("null", None), ("number", 1)]
    for name, shape in not_objects:
        yield ("malformed", f"json-{name}", json.dumps(shape).encode())

    # 2. Every field missing, or of the wrong type.
    for field in FIELDS:
        yield ("wrong-shape", f"missing-{field}", _mutated(next_index(), _delete(field)))
        for name, value in WRONG_VALUES:
            yield ("wrong-shape", f"{field}={name}", _mutated(next_index(), _set(field, value)))

    # 3. Oversized.
    for field in ("NotificationMetadata.NotificationId", f"{ORDER}.AmazonOrderId", f"{ORDER}.SellerId"):
        for size in (129, 5_000, 70_000):
            yield ("oversized", f"{field}x{size}", _mutated(next_index(), _set(field, "n" * size)))
    yield ("oversized", "body-300k", _mutated(next_index(), _set("Payload.Padding", "x" * 300_000)))
    yield ("oversized", "items-5000", _mutated(next_index(), _many_items(5000)))
    yield ("oversized", "keys-long", _mutated(next_index(), _set("Payload.Extra", {"k" * 10_000: 1})))

    # 4. Deep nesting.
    for depth in (33, 100, 999, 2000, 20_000):
        body = '{"a":' * depth + "1" + "}" * depth
        yield ("deep", f"object-{depth}", body.encode())
        yield ("deep", f"array-{depth}", ("[" * depth + "]" * depth).encode())
    yield (
        "deep",
        "payload-40",
        _mutated(next_index(), _set("Payload.Extra", json.loads('{"a":' * 40 + "1" + "}" * 40))),
    )

    # 5. Unicode edge cases in every identifying field.
    for field in FIELDS[:12]:
        for name, text in UNICODE:
            yield ("unicode", f"{field}={name}", _mutated(next_index(), _set(field, text)))

    # 6. Injection attempts where an id reaches a URL, a filter, a key or a log line.
    for field in (
        f"{ORDER}.AmazonOrderId",
        "NotificationMetadata.NotificationId",
        f"{ORDER}.Summary.OrderItems.0.SellerSKU",
        f"{ORDER}.Summary.MarketplaceId",
        f"{ORDER}.OrderChangeType",
    ):
        for name, text in INJECTIONS:
            yield ("injection", f"{field}={name}", _mutated(next_index(), _set(field, text)))

    # 7. Near misses: almost a notification we handle.
    for name, change in [
        ("type-lower", _set("NotificationType", "order_change")),
        ("type-space", _set("NotificationType", "ORDER_CHANGE ")),
        ("type-dash", _set("NotificationType", "ORDER-CHANGE")),
        ("version-2", _set("NotificationVersion", "2.0")),
        ("payload-version-2", _set("PayloadVersion", "2.0")),
        ("numeric-event-time", _set("EventTime", 0)),
        ("numeric-change-time", _set(f"{ORDER}.OrderChangeTrigger.TimeOfOrderChange", 1_700_000_000)),
        ("date-only", _set("EventTime", "2026-11-27")),
        ("foreign-seller", _set(f"{ORDER}.SellerId", "A0THERSELLER00")),
        ("no-payload", _set("Payload", {})),
        ("payload-list", _set("Payload", [])),
        ("unknown-status", _set(f"{ORDER}.Summary.OrderStatus", "Teleported")),
    ]:
        yield ("near-miss", name, _mutated(next_index(), change))


def _many_items(count: int) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        items = _payload(envelope)["Summary"]["OrderItems"]
        _payload(envelope)["Summary"]["OrderItems"] = [
            dict(items[0], OrderItemId=str(n)) for n in range(count)
        ]

    return change
