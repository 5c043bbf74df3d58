"""python -m shared.provision dataverse [--dry-run] [--solution NAME] | amazon [--dry-run] [--replace]

Reads the app settings the way the app does (environment, or Key Vault with KEY_VAULT_URL) and what the app
needs from shared/provision/schema/. Exit code 0: everything is in place (or, with --dry-run, the plan has
no problem); 1: a problem was reported, nothing or only part was changed; 2: bad arguments or settings.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from typing import TextIO

from shared.config import Settings, load_settings
from shared.errors import ConfigurationError, SyncError
from shared.provision.dataverse import (
    DEFAULT_KEY_TIMEOUT_SECONDS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_PUBLISHER,
    DEFAULT_SOLUTION,
    DataverseOptions,
)
from shared.provision.schema.context import SchemaContext
from shared.provision.schema.registry import Declaration, declare_all

PROG = "python -m shared.provision"
_UNIQUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,64}$")  # solution and publisher unique names


def _unique_name(value: str) -> str:
    if not _UNIQUE_NAME.match(value):
        raise argparse.ArgumentTypeError(
            "letters, digits and underscores, starting with a letter, at most 65"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Create what the app needs in Dataverse and at Amazon."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dataverse = commands.add_parser(
        "dataverse", help="custom columns, alternate keys, tables and event steps, in an unmanaged solution"
    )
    dataverse.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    dataverse.add_argument(
        "--solution",
        type=_unique_name,
        default=DEFAULT_SOLUTION,
        help=f"unique name (default {DEFAULT_SOLUTION})",
    )
    dataverse.add_argument(
        "--publisher",
        type=_unique_name,
        default=DEFAULT_PUBLISHER,
        help="publisher of a new solution, created with DATAVERSE_PREFIX unless one with that prefix exists "
        f"(default {DEFAULT_PUBLISHER})",
    )
    dataverse.add_argument(
        "--key-timeout",
        type=float,
        default=DEFAULT_KEY_TIMEOUT_SECONDS,
        help="seconds to wait for key indexes",
    )
    dataverse.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS, help=argparse.SUPPRESS)
    amazon = commands.add_parser("amazon", help="the SQS notification destination and the subscriptions")
    amazon.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    amazon.add_argument(
        "--replace", action="store_true", help="move subscriptions that send elsewhere to this destination"
    )
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        declaration = declare_all(SchemaContext.from_settings(settings))
        if args.command == "dataverse":
            options = DataverseOptions(
                args.solution, args.publisher, args.dry_run, args.key_timeout, args.poll_seconds
            )
            return 0 if _dataverse(settings, declaration, options, out) else 1
        return 0 if _amazon(settings, declaration, dry_run=args.dry_run, replace=args.replace, out=out) else 1
    except ConfigurationError as exc:
        err.write(f"{PROG}: {exc}\n")
        return 2
    except SyncError as exc:
        err.write(f"{PROG} {args.command}: {type(exc).__name__}: {str(exc).splitlines()[0]}\n")
        return 1


def _dataverse(settings: Settings, declaration: Declaration, options: DataverseOptions, out: TextIO) -> bool:
    from shared.dataverse.event_registration import EventRegistrations
    from shared.dataverse.metadata import DataverseMetadata
    from shared.provision.dataverse import DataverseProvisioner
    from shared.runtime import Runtime

    runtime = Runtime(settings)
    try:
        client = runtime.dataverse
        out.write(
            f"Dataverse {client.api_root}: solution {options.solution}, prefix {settings.dataverse_prefix} "
            f"({', '.join(declaration.features)})\n"
        )
        provisioner = DataverseProvisioner(
            DataverseMetadata(client),
            EventRegistrations(client),
            declaration,
            prefix=settings.dataverse_prefix,
            out=out,
        )
        done = provisioner.run(options)
        out.write(f"Dataverse requests: {_summary(client.requests_sent)}\n")
        return done
    finally:
        runtime.close()


def _amazon(
    settings: Settings, declaration: Declaration, *, dry_run: bool, replace: bool, out: TextIO
) -> bool:
    from shared.amazon.notifications_api import NotificationsApi
    from shared.provision.amazon import AmazonOptions, AmazonProvisioner, queue_arn
    from shared.runtime import Runtime

    if settings.sqs_queue_arn:
        arn = settings.sqs_queue_arn
    elif settings.sqs_queue_url:
        arn = queue_arn(settings.sqs_queue_url, settings.aws_region)
    else:
        raise ConfigurationError("the amazon command needs SQS_QUEUE_URL or SQS_QUEUE_ARN (not set)")
    runtime = Runtime(settings)
    try:
        session = runtime.spapi
        out.write(f"SP-API notifications -> {arn}\n")
        provisioner = AmazonProvisioner(
            NotificationsApi(session), declaration.subscriptions, queue_arn=arn, out=out
        )
        done = provisioner.run(AmazonOptions(dry_run=dry_run, replace=replace))
        calls = Counter({name: count for name, count in session.calls.items() if name != "lwa.token"})
        out.write(
            f"SP-API calls: {sum(calls.values())} ({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))})\n"
        )
        return done
    finally:
        runtime.close()


def _summary(requests_sent: Counter[str]) -> str:
    writes = sum(count for what, count in requests_sent.items() if what.startswith("create"))
    total = sum(requests_sent.values())
    return f"{total} ({total - writes} reads, {writes} writes)"
