"""`python -m shared.provision amazon`: the SQS queue as SP-API notification destination, and the declared
subscriptions, created only where missing. A subscription that sends elsewhere is reported and left alone
unless `--replace` says to move it (Amazon allows one subscription per type and payload version).

The queue must also let Amazon's notification account send to it; that is the queue owner's AWS policy, so
the statement is printed, never applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from shared.amazon.notifications_api import Destination, ExistingSubscription, NotificationsApi
from shared.errors import ConfigurationError
from shared.model.crm_schema import Subscription

# The AWS account SP-API (like MWS before it) delivers notifications from, as Amazon's SQS set-up guide names it.
AMAZON_NOTIFICATIONS_ACCOUNT = "437568002678"
DESTINATION_NAME = "amazon-seller-sync"
_SQS_HOST = re.compile(r"^sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_LEGACY_SQS_HOST = re.compile(r"^(?P<region>[a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$")


def queue_arn(queue_url: str, aws_region: str) -> str:
    """arn:aws:sqs:<region>:<account>:<queue> of a queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>);
    the region comes from the host when it names one (AWS_REGION otherwise: local stand-ins, VPC endpoints)."""
    parts = urlsplit(queue_url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) != 2 or not segments[0].isdigit():
        raise ConfigurationError(
            "SQS_QUEUE_URL must look like https://sqs.<region>.amazonaws.com/<account>/<queue>"
        )
    host = (parts.hostname or "").lower()
    match = _SQS_HOST.match(host) or _LEGACY_SQS_HOST.match(host)
    region = match["region"] if match else aws_region
    partition = "aws-cn" if host.endswith(".cn") else "aws"
    return f"arn:{partition}:sqs:{region}:{segments[0]}:{segments[1]}"


def queue_policy_statement(arn: str) -> dict[str, Any]:
    return {
        "Sid": "AllowSellingPartnerApiNotifications",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{AMAZON_NOTIFICATIONS_ACCOUNT}:root"},
        "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        "Resource": arn,
    }


@dataclass(frozen=True)
class AmazonOptions:
    dry_run: bool = False
    replace: bool = False


class AmazonProvisioner:
    def __init__(
        self, api: NotificationsApi, subscriptions: Sequence[Subscription], *, queue_arn: str, out: TextIO
    ) -> None:
        self._api = api
        self._subscriptions = subscriptions
        self._arn = queue_arn
        self._out = out

    def run(self, options: AmazonOptions) -> bool:
        """True when the destination and every declared subscription are in place (or could be, dry run)."""
        verb = "would " if options.dry_run else ""
        changes, problems = 0, 0
        destination = next((d for d in self._api.destinations() if d.sqs_arn == self._arn), None)
        if destination is not None:
            self._say(f"  destination {destination.name} ({destination.id}) already sends to {self._arn}")
        else:
            changes += 1
            self._say(f"  + {verb}create destination {DESTINATION_NAME} -> {self._arn}")
            if not options.dry_run:
                destination = self._api.create_destination(DESTINATION_NAME, self._arn)
        for wanted in self._subscriptions:
            existing = self._api.subscription(wanted.notification_type, wanted.payload_version)
            outcome = self._subscribe(wanted, existing, destination, options)
            changes += outcome == "changed"
            problems += outcome == "problem"
        self._say_policy()
        if problems:
            self._say(f"{problems} subscription(s) left as they are (see above)")
        elif options.dry_run:
            self._say(
                f"dry run: {'would make ' + str(changes) + ' changes' if changes else 'no changes'}; nothing was written"
            )
        else:
            self._say(
                f"done: {changes} created"
                if changes
                else "no changes: destination and subscriptions in place"
            )
        return problems == 0

    def _subscribe(
        self,
        wanted: Subscription,
        existing: ExistingSubscription | None,
        destination: Destination | None,
        options: AmazonOptions,
    ) -> str:
        name = f"{wanted.notification_type} ({wanted.payload_version})"
        verb = "would " if options.dry_run else ""
        if existing is not None:
            same_destination = destination is not None and existing.destination_id == destination.id
            same_filter = _directive(existing.processing_directive) == _directive(wanted.processing_directive)
            if same_destination and same_filter:
                self._say(f"  subscription {name} already in place ({existing.id})")
                return "in place"
            why = (
                "sends to another destination" if not same_destination else "has another processing directive"
            )
            if not options.replace:
                self._say(
                    f"! subscription {name} {why} (subscription {existing.id}, destination "
                    f"{existing.destination_id}): left as it is; --replace moves it here"
                )
                return "problem"
            self._say(f"  - {verb}delete subscription {name} ({existing.id}): it {why}")
            if not options.dry_run:
                self._api.delete_subscription(wanted.notification_type, existing.id)
        self._say(f"  + {verb}subscribe {name}{_describe(wanted)}")
        if not options.dry_run:
            assert destination is not None  # created above when it was missing
            created = self._api.create_subscription(
                wanted.notification_type, wanted.payload_version, destination.id, wanted.processing_directive
            )
            self._say(f"    subscription {created.id}")
        return "changed"

    def _say_policy(self) -> None:
        self._say(
            "The queue's access policy must let Amazon's notification account send to it (apply it in AWS; "
            "not done here). Add this statement to the queue policy's Statement list:"
        )
        self._say(json.dumps(queue_policy_statement(self._arn), indent=2))
        self._say(
            "(A queue encrypted with a customer-managed KMS key also needs kms:GenerateDataKey and kms:Decrypt "
            "for that principal in the key policy.)"
        )

    def _say(self, line: str) -> None:
        self._out.write(line + "\n")


def _directive(directive: Any) -> str:
    """Directives compared as canonical JSON, lists as sets: Amazon may return marketplaces in its own order."""

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: canonical(item) for key, item in value.items()}
        if isinstance(value, list):
            return sorted(canonical(item) for item in value)
        return value

    return json.dumps(canonical(directive or {}), sort_keys=True)


def _describe(subscription: Subscription) -> str:
    event_filter = (subscription.processing_directive or {}).get("eventFilter")
    if not event_filter:
        return ""
    parts = [f"{key} {','.join(value)}" for key, value in event_filter.items() if isinstance(value, list)]
    return ": " + "; ".join(parts)
