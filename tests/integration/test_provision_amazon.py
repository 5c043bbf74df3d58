"""`python -m shared.provision amazon` against the SP-API emulator over sockets: the SQS destination (grantless)
and the declared subscriptions are created once, a second run creates nothing, a subscription that sends
elsewhere is reported (or moved with --replace), and the queue policy statement is printed."""

from __future__ import annotations

import io
import json
import os

import pytest
from sp_api.api import Notifications

from sandbox.spapi_emulator import SpApiEmulator
from shared.provision.cli import main
from tests.spapi_emulator_support import forget_library_tokens, library, library_fixtures

pytestmark = pytest.mark.sockets

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/amazon-notifications"
ARN = "arn:aws:sqs:eu-west-1:123456789012:amazon-notifications"
OTHER_ARN = "arn:aws:sqs:eu-west-1:123456789012:someone-elses-queue"
MARKETPLACES = "A1F83G8C2ARO7P,A1PA6795UKMFR9"
TYPES = {
    "ORDER_CHANGE",
    "REPORT_PROCESSING_FINISHED",
    "FBA_INVENTORY_AVAILABILITY_CHANGES",
    "LISTINGS_ITEM_STATUS_CHANGE",
    "LISTINGS_ITEM_ISSUES_CHANGE",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
}
WRITES = ("createDestination", "createSubscription", "deleteSubscriptionById", "deleteDestination")

server, emulator = library_fixtures()


@pytest.fixture(autouse=True)
def settings(emulator: SpApiEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("SPAPI_", "SQS_", "DATAVERSE_", "MAPPING_", "KEY_VAULT", "AWS_")):
            monkeypatch.delenv(name, raising=False)
    env = {
        "SPAPI_REFRESH_TOKEN": emulator.refresh_token,
        "SPAPI_LWA_CLIENT_ID": emulator.client_id,
        "SPAPI_LWA_CLIENT_SECRET": emulator.client_secret,
        "SPAPI_ENDPOINT": emulator.base_url,
        "SPAPI_LWA_TOKEN_URL": f"{emulator.base_url}/auth/o2/token",
        "SPAPI_MARKETPLACE_IDS": MARKETPLACES,
        "SQS_QUEUE_URL": QUEUE_URL,
        "AWS_REGION": "us-east-1",  # the queue URL names its own region, which wins
        "STATE_STORAGE_CONNECTION": "UseDevelopmentStorage=true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    forget_library_tokens()


def provision(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["amazon", *args], out=out, err=out)
    forget_library_tokens()
    return code, out.getvalue()


def writes(emulator: SpApiEmulator) -> dict[str, int]:
    return {name: count for name, count in emulator.requests.snapshot().items() if name in WRITES}


def test_first_run_creates_the_destination_and_every_declared_subscription(emulator: SpApiEmulator) -> None:
    """One grantless createDestination for the queue's ARN, then ORDER_CHANGE filtered to the configured
    marketplaces and order change types, REPORT_PROCESSING_FINISHED, FBA_INVENTORY_AVAILABILITY_CHANGES and the
    three listing notifications (issues in their newest payload version)."""
    code, output = provision()

    assert code == 0, output
    [destination] = emulator.notifications.destinations
    assert destination["resource"] == {"sqs": {"arn": ARN}}
    subscriptions = {s["notificationType"]: s for s in emulator.notifications.subscriptions}
    assert set(subscriptions) == TYPES
    assert {s["destinationId"] for s in subscriptions.values()} == {destination["destinationId"]}
    assert subscriptions["ORDER_CHANGE"]["processingDirective"] == {
        "eventFilter": {
            "eventFilterType": "ORDER_CHANGE",
            "marketplaceIds": MARKETPLACES.split(","),
            "orderChangeTypes": ["OrderStatusChange", "BuyerRequestedChange"],
        }
    }
    assert subscriptions["REPORT_PROCESSING_FINISHED"]["payloadVersion"] == "2020-09-04"
    assert subscriptions["LISTINGS_ITEM_ISSUES_CHANGE"]["payloadVersion"] == "2023-12-13"
    assert writes(emulator) == {"createDestination": 1, "createSubscription": 6}


def test_a_second_run_creates_nothing(emulator: SpApiEmulator) -> None:
    """Run again: the destination is found by its ARN, each subscription by its type; only reads are sent."""
    assert provision()[0] == 0
    emulator.requests.reset()

    code, output = provision()

    assert code == 0
    assert "no changes" in output
    assert writes(emulator) == {}
    assert "SP-API calls: 7 (getDestinations 1, getSubscription 6)" in output


def test_an_existing_destination_for_the_queue_is_reused(emulator: SpApiEmulator) -> None:
    """A destination created earlier (by hand, another tool) for the same ARN is used, not created again."""
    with library(Notifications, emulator) as client:
        existing = client.create_destination(name="made-by-hand", arn=ARN).payload["destinationId"]
    emulator.requests.reset()

    assert provision()[0] == 0

    assert len(emulator.notifications.destinations) == 1
    assert {s["destinationId"] for s in emulator.notifications.subscriptions} == {existing}
    assert "createDestination" not in emulator.requests.snapshot()


def test_a_subscription_to_another_destination_is_reported_not_replaced(emulator: SpApiEmulator) -> None:
    """ORDER_CHANGE already sending to another queue is named and left alone (exit 1); the rest is created."""
    with library(Notifications, emulator) as client:
        other = client.create_destination(name="other", arn=OTHER_ARN).payload["destinationId"]
        client.create_subscription("ORDER_CHANGE", destination_id=other)

    code, output = provision()

    assert code == 1
    assert "subscription ORDER_CHANGE (1.0) sends to another destination" in output
    assert "--replace moves it here" in output
    [order_change] = emulator.notifications.subscriptions_for("ORDER_CHANGE")
    assert order_change["destinationId"] == other
    assert len(emulator.notifications.subscriptions) == 6


def test_replace_moves_a_subscription_to_this_destination(emulator: SpApiEmulator) -> None:
    """With --replace the foreign ORDER_CHANGE subscription is deleted and subscribed again here, with the filter."""
    with library(Notifications, emulator) as client:
        other = client.create_destination(name="other", arn=OTHER_ARN).payload["destinationId"]
        client.create_subscription("ORDER_CHANGE", destination_id=other)

    code, output = provision("--replace")

    assert code == 0, output
    [order_change] = emulator.notifications.subscriptions_for("ORDER_CHANGE")
    ours = next(d for d in emulator.notifications.destinations if d["resource"]["sqs"]["arn"] == ARN)
    assert order_change["destinationId"] == ours["destinationId"]
    assert "eventFilter" in order_change["processingDirective"]


def test_dry_run_reads_and_writes_nothing(emulator: SpApiEmulator) -> None:
    """--dry-run says what it would create and sends no write."""
    code, output = provision("--dry-run")

    assert code == 0
    assert "would create destination" in output
    assert "would subscribe ORDER_CHANGE" in output
    assert writes(emulator) == {}
    assert emulator.notifications.destinations == []


def test_the_queue_policy_statement_is_printed_for_amazons_account(emulator: SpApiEmulator) -> None:
    """The printed statement lets Amazon's notification account send to this queue (and is valid JSON)."""
    _, output = provision("--dry-run")
    start = output.index("{\n")
    statement, _ = json.JSONDecoder().raw_decode(output[start:])

    assert statement == {
        "Sid": "AllowSellingPartnerApiNotifications",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::437568002678:root"},
        "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        "Resource": ARN,
    }


def test_without_a_queue_the_command_refuses_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SQS_QUEUE_URL and no SQS_QUEUE_ARN: exit 2 and a message naming both."""
    monkeypatch.delenv("SQS_QUEUE_URL")

    code, output = provision()

    assert code == 2
    assert "SQS_QUEUE_URL or SQS_QUEUE_ARN" in output
