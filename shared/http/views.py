"""The JSON each endpoint answers with: the contract the dashboard and operators' scripts read.

Members are camelCase; moments are ISO 8601 UTC with `Z`; a part that could not be read is null (the status
names why in `errors`). Members may be added, never renamed. Free text that reaches an answer (dead-letter
descriptions, notes, reasons) has been made safe where it was produced; nothing of a buyer is in any view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.flows.failures import QueueFailures
from shared.flows.health import HealthReport
from shared.flows.ops_status import ListingsStatus, OpsSnapshot
from shared.flows.order_lookup import OrderView
from shared.flows.resync import FailedItem, ResyncKind, ResyncStatus
from shared.model.listings import AmazonProblem
from shared.sanitize import public_text
from shared.servicebus.deadletters import DeadLetter, ReplayReport
from shared.timeutil import iso_z


def moment(value: datetime | None) -> str | None:
    return None if value is None else iso_z(value)


def resync_accepted(status: ResyncStatus, status_url: str) -> dict[str, Any]:
    return {
        "jobId": status.job_id,
        "statusUrl": status_url,
        "state": status.state.value,
        "queued": status.queued,
    }


def resync_status(status: ResyncStatus) -> dict[str, Any]:
    return {
        "jobId": status.job_id,
        "kind": status.kind,
        "state": status.state.value,
        "queued": status.queued,
        "applied": status.applied,
        "failed": status.failed,
        "createdAt": moment(status.created_at),
        "updatedAt": moment(status.updated_at),
        "failures": [_failure(status.kind, item) for item in status.failures],
        "note": None if status.note is None else public_text(status.note, 500),
    }


def _failure(kind: str, item: FailedItem) -> dict[str, Any]:
    """A failed order names its order id; a failed SKU its SKU and why (Amazon's issues, made safe)."""
    if kind == ResyncKind.LISTINGS:
        return {"sku": item.item, "reason": public_text(item.reason, 500)}
    return {"amazonOrderId": item.item, "reason": item.reason}


def dead_letter(letter: DeadLetter) -> dict[str, Any]:
    return {
        "sequenceNumber": letter.sequence_number,
        "reason": letter.reason,
        "description": letter.description,
        "messageId": letter.message_id,
        "notificationId": letter.notification_id,
        "notificationType": letter.notification_type,
        "amazonOrderId": letter.amazon_order_id,
        "enqueuedTime": moment(letter.enqueued_time),
        "deliveryCount": letter.delivery_count,
        "replayCount": letter.replay_count,
    }


def failures(queues: list[QueueFailures], *, limit: int) -> dict[str, Any]:
    shown: list[dict[str, Any]] = []
    for found in queues:
        listing = found.listing
        if listing is None:
            shown.append(
                {
                    "queue": found.queue,
                    "count": None,
                    "byReason": {},
                    "truncated": False,
                    "messages": [],
                    "error": found.error,
                }
            )
            continue
        shown.append(
            {
                "queue": found.queue,
                "count": len(listing.messages),
                "byReason": listing.by_reason,
                "truncated": listing.truncated or len(listing.messages) > limit,
                "messages": [dead_letter(letter) for letter in listing.messages[:limit]],
            }
        )
    return {"queues": shown}


def replay(report: ReplayReport) -> dict[str, Any]:
    return {
        "queue": report.queue,
        "selection": report.selection,
        "dryRun": report.dry_run,
        "ok": report.ok,
        "counts": report.counts,
        "released": report.released,
        "error": report.error,
        "items": [
            {
                "sequenceNumber": item.sequence_number,
                "status": item.status.value,
                "messageId": item.message_id,
                "replayMessageId": item.replay_message_id,
                "reason": item.reason,
                "notificationId": item.notification_id,
                "amazonOrderId": item.amazon_order_id,
                "detail": item.detail,
            }
            for item in report.items
        ],
    }


def order(view: OrderView) -> dict[str, Any]:
    crm, sync = view.crm, view.last_sync
    return {
        "amazonOrderId": view.order_id,
        "amazon": {"status": view.amazon.status, "lastUpdated": moment(view.amazon.last_updated)},
        "crm": None
        if crm is None
        else {
            "salesorderId": crm.salesorder_id,
            "statecode": crm.statecode,
            "statuscode": crm.statuscode,
            "source": crm.source,
        },
        "lastSync": None
        if sync is None
        else {"at": moment(sync.at), "amazonUpdated": moment(sync.amazon_updated), "outcome": sync.outcome},
        "inSync": view.in_sync,
    }


def health(report: HealthReport) -> dict[str, Any]:
    return {
        "status": "ok" if report.ok else "failing",
        "checks": [
            {"name": check.name, "ok": check.ok, "latencyMs": check.latency_ms, "detail": check.detail}
            for check in report.checks
        ],
    }


def status(snapshot: OpsSnapshot) -> dict[str, Any]:
    orders = snapshot.orders
    failures_summary = snapshot.failures
    return {
        "generatedAt": moment(snapshot.generated_at),
        "orders": None
        if orders is None
        else {
            "syncedLastHour": orders.synced_last_hour,
            "perHour": [{"hour": moment(hour), "count": count} for hour, count in orders.per_hour],
            "lagSeconds": {
                "p50": orders.lag.percentile(0.5),
                "p95": orders.lag.percentile(0.95),
                "max": orders.lag.max_seconds,
            },
            "lagSamples": orders.lag.samples,
        },
        "timers": [
            {
                "name": timer.name,
                "lastRun": moment(timer.last_run),
                "lastOutcome": public_text(timer.last_outcome, 300),
                "position": moment(timer.position),
            }
            for timer in snapshot.timers
        ],
        "breakers": [
            {
                "name": breaker.name,
                "state": breaker.state.value,
                "failures": breaker.failures,
                "nextProbeAt": moment(breaker.next_probe_at),
                "lastFailure": breaker.last_failure,
            }
            for breaker in snapshot.breakers
        ],
        "failures": None
        if failures_summary is None
        else {
            "total": failures_summary.total,
            "byReason": failures_summary.by_reason,
            "truncated": failures_summary.truncated,
            "unreadableQueues": failures_summary.errors,
        },
        "listings": None if snapshot.listings is None else listings_flagged(snapshot.listings),
        "errors": [f"{part}: {why}" for part, why in snapshot.errors.items()],  # the parts shown as null
    }


def listings_flagged(listings: ListingsStatus) -> dict[str, Any]:
    """Listings Amazon flags: counts and the first of them by SKU (seller data) and marketplace, nothing else."""
    return {
        "errors": listings.errors,
        "deleted": listings.deleted,
        "truncated": listings.truncated,
        "shown": [
            {
                "sku": listing.key.sku,
                "marketplaceId": listing.key.marketplace_id,
                "problem": "DELETED" if AmazonProblem.DELETED in listing.problems else "ERROR",
            }
            for listing in listings.shown
        ],
    }
