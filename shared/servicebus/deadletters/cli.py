"""Command line for the dead letters of the app's Service Bus queues.

    python -m shared.servicebus.deadletters list [--queue Q ...] [--json]
    python -m shared.servicebus.deadletters replay (--sequence N [N ...] | --reason R | --all)
                                                   [--queue Q] [--dry-run] [--json]

The connection comes from the app settings (`shared.config.load_settings()`: environment, Key Vault with
KEY_VAULT_URL), like the function app's own: ServiceBusConnection, or
ServiceBusConnection__fullyQualifiedNamespace with the signed-in identity (DefaultAzureCredential). The
default queue is AMAZON_NOTIFICATIONS_QUEUE. No message body is ever printed: only broker facts and the
NotificationId, notification type and Amazon order id read from it.

Exit codes: 0 done (also when there was nothing to replay), 1 something failed or was left over (see the
report), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from shared.errors import ConfigurationError
from shared.sanitize import public_text, safe_text
from shared.servicebus.deadletters.listing import DeadLetterList, Limits
from shared.servicebus.deadletters.replay import ReplayReport, ReplayStatus
from shared.servicebus.deadletters.tool import DeadLetters

if TYPE_CHECKING:
    from shared.config import Settings

PROG = "python -m shared.servicebus.deadletters"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_DESCRIPTION_WIDTH = 160
MAX_LINE = 2_000  # characters of one printed line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="List and replay the dead letters of the app's Service Bus queues."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,replay}")

    listing = commands.add_parser(
        "list", help="show the dead letters (reason, description, ids; never the body)"
    )
    listing.add_argument(
        "--queue",
        action="append",
        metavar="Q",
        help="queue to look at (repeatable; default: AMAZON_NOTIFICATIONS_QUEUE)",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument(
        "--max", type=_positive, default=Limits.max_list, help="dead letters listed per queue"
    )

    replay = commands.add_parser("replay", help="send dead letters back to their queue, then remove them")
    chosen = replay.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--sequence",
        type=_positive,
        nargs="+",
        action="extend",
        metavar="N",
        help="sequence numbers from `list` (repeatable)",
    )
    chosen.add_argument("--reason", metavar="R", help="every dead letter with this reason (case-insensitive)")
    chosen.add_argument("--all", action="store_true", help="every dead letter of the queue")
    replay.add_argument("--queue", metavar="Q", help="default: AMAZON_NOTIFICATIONS_QUEUE")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed; change nothing")
    replay.add_argument("--json", action="store_true", help="print JSON instead of text")
    replay.add_argument(
        "--max",
        type=_positive,
        default=Limits.max_replay,
        help="messages replayed per run (default %(default)s)",
    )
    for command in (listing, replay):
        command.add_argument(
            "--wait",
            type=float,
            default=Limits.max_wait_seconds,
            metavar="SECONDS",
            help="how long a receive waits for a message (default %(default)s)",
        )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    connect: Callable[[Settings, Limits], DeadLetters] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code. `connect` replaces the Service Bus connection (tests)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        limits = Limits(
            max_list=args.max if args.command == "list" else Limits.max_list,
            max_replay=args.max if args.command == "replay" else Limits.max_replay,
            max_wait_seconds=args.wait,
        )
    except ValueError as exc:
        _say(err, f"{PROG}: {exc}")
        return EXIT_USAGE
    try:
        from shared.config import load_settings

        settings = load_settings()
        tool = (connect or _connect)(settings, limits)
    except ConfigurationError as exc:
        _say(err, f"{PROG}: {exc}")
        return EXIT_USAGE
    try:
        with tool:
            if args.command == "list":
                return _list(tool, args, out)
            return _replay(tool, args, out)
    except Exception as exc:  # noqa: BLE001 - one line, no traceback full of SDK internals
        _say(err, f"{PROG}: {args.command} failed: {type(exc).__name__}: {_first_line(exc)}")
        return EXIT_FAILED


def _connect(settings: Settings, limits: Limits) -> DeadLetters:
    return DeadLetters.from_settings(settings, limits=limits)


def _list(tool: DeadLetters, args: argparse.Namespace, out: TextIO) -> int:
    listings = [tool.list(queue) for queue in (args.queue or [tool.default_queue])]
    if args.json:
        _print_json({"queues": [listing.to_json() for listing in listings]}, out)
    else:
        for index, listing in enumerate(listings):
            if index:
                _say(out)
            _print_listing(listing, out)
    return EXIT_OK


def _replay(tool: DeadLetters, args: argparse.Namespace, out: TextIO) -> int:
    report = tool.replay(
        args.queue,
        sequence_numbers=args.sequence,
        reason=args.reason,
        all=args.all,
        dry_run=args.dry_run,
    )
    if args.json:
        _print_json(report.to_json(), out)
    else:
        _print_report(report, out)
    return EXIT_OK if report.ok else EXIT_FAILED


# --- text output -----------------------------------------------------------------------------------------
def _print_listing(listing: DeadLetterList, out: TextIO) -> None:
    count = len(listing.messages)
    more = " (more not shown: raise --max)" if listing.truncated else ""
    _say(out, f"Dead letters of {listing.queue}: {count}{more}")
    if not count:
        return
    header = (
        "seq",
        "reason",
        "deliveries",
        "enqueued (UTC)",
        "type",
        "notification id",
        "order id",
        "message id",
    )
    rows = [
        (
            str(letter.sequence_number),
            letter.reason_key,
            str(letter.delivery_count),
            "" if letter.enqueued_time is None else letter.enqueued_time.strftime("%Y-%m-%d %H:%M:%S"),
            letter.notification_type or "",
            letter.notification_id or "",
            letter.amazon_order_id or "",
            letter.message_id or "",
        )
        for letter in listing.messages
    ]
    descriptions = [_shorten(letter.description or "") for letter in listing.messages]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    _say(out, "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip())
    for row, description in zip(rows, descriptions, strict=True):
        _say(out, "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if description:
            _say(out, f"    {description}")
    summary = ", ".join(f"{reason} {n}" for reason, n in listing.by_reason.items())
    _say(out, f"By reason: {summary}")


def _print_report(report: ReplayReport, out: TextIO) -> None:
    action = "Dry run of replaying" if report.dry_run else "Replayed"
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items()) or "nothing selected"
    _say(out, f"{action} dead letters of {report.queue} ({report.selection}): {counts}")
    for item in report.items:
        parts = [f"  seq {item.sequence_number}", item.status.value]
        if item.reason:
            parts.append(f"reason {item.reason}")
        if item.notification_id:
            parts.append(f"notification {item.notification_id}")
        if item.amazon_order_id:
            parts.append(f"order {item.amazon_order_id}")
        if item.replay_message_id and item.status is ReplayStatus.REPLAYED:
            parts.append(f"as message {item.replay_message_id}")
        if item.detail:
            parts.append(item.detail)
        _say(out, "  ".join(parts))
    if report.released:
        _say(out, f"{report.released} other dead letters were looked at and left in place")
    if report.error:
        _say(out, f"Stopped early: {report.error}")
    if report.with_status(ReplayStatus.OVER_LIMIT):
        _say(out, "More dead letters match than --max allows: run again for the rest")


# --- everything printed passes here ------------------------------------------------------------------------
# Dead letters carry text anyone could have written (reasons, descriptions, message ids, the broker's error
# messages): no terminal escape sequence, no forged line, no unencodable character that would crash the
# print, no secret and no unbounded text reaches the terminal or a JSON consumer.
def _say(out: TextIO, text: str = "") -> None:
    print(public_text(text, MAX_LINE), file=out)


def _print_json(data: dict[str, Any], out: TextIO) -> None:
    json.dump(_safe_json(data), out, indent=2, ensure_ascii=False)
    print(file=out)


def _safe_json(value: Any) -> Any:
    if isinstance(value, str):
        return public_text(value, MAX_LINE)
    if isinstance(value, dict):
        return {_safe_json(key): _safe_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe_json(item) for item in value]
    return value


def _shorten(text: str) -> str:
    return safe_text(" ".join(text.split()), _DESCRIPTION_WIDTH)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


if __name__ == "__main__":
    raise SystemExit(main())
