"""A fake of the HTTP operations API (status, failures, replay, resync, health) answering with the documented
JSON shapes from in-memory state, registered as real HTTP functions so the local HTTP host serves it in
front of function_app's dashboard. The browser tests use it for states the sandbox cannot easily be put in
(an open breaker, a truncated list, a job that takes several polls, hostile text)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func


@dataclass
class FakeOps:
    """What the fake API knows and what it was asked."""

    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)  # request bodies of POST failures/replay
    resyncs: list[dict[str, Any]] = field(default_factory=list)  # request bodies of POST resync
    keys_seen: set[str | None] = field(default_factory=set)  # x-functions-key of every API call
    status_url: str | None = None  # what POST resync answers as statusUrl (None: this app's URL)
    polls_until_done: int = 2
    job_failures: list[dict[str, Any]] = field(default_factory=list)  # what a finished job reports as failed
    flagged_listings: list[dict[str, Any]] = field(default_factory=list)  # status' listings.shown
    _polls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> func.FunctionApp:
        app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
        app.route(route="status", methods=["GET"])(self._wrap(self.status))
        app.route(route="failures", methods=["GET"])(self._wrap(self.failures))
        app.route(route="failures/replay", methods=["POST"])(self._wrap(self.replay))
        app.route(route="health", methods=["GET"])(self._wrap(self.health))
        app.route(route="resync", methods=["POST"])(self._wrap(self.resync))
        app.route(route="resync/{jobId}", methods=["GET"])(self._wrap(self.job))
        return app

    def _wrap(self, handler: Any) -> Any:
        def function(req: func.HttpRequest) -> func.HttpResponse:
            with self._lock:
                self.keys_seen.add(req.headers.get("x-functions-key"))
                status, body = handler(req)
            return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")

        function.__name__ = handler.__name__  # the function's name in the app
        return function

    # --- the endpoints ------------------------------------------------------------------------------------
    def status(self, req: func.HttpRequest) -> tuple[int, Any]:
        per_hour = [{"hour": f"2026-11-27T{hour:02d}:00:00Z", "count": count} for hour, count in STATUS_HOURS]
        return 200, {
            "generatedAt": "2026-11-27T12:00:00Z",
            "orders": {
                "syncedLastHour": 42,
                "perHour": per_hour,
                "lagSeconds": {"p50": 4.2, "p95": 61.0, "max": 7260.0},
            },
            "timers": [
                {"name": "orders_sweep", "lastRun": "2026-11-27T11:50:00Z", "lastOutcome": "succeeded"},
                {"name": "sqs_bridge", "lastRun": "2026-11-27T11:59:00Z", "lastOutcome": "failed"},
            ],
            "breakers": [
                {"name": "SP-API", "state": "closed", "failures": 0, "nextProbeAt": None},
                {"name": "Dataverse", "state": "open", "failures": 5, "nextProbeAt": "2099-01-01T00:00:00Z"},
            ],
            "failures": {"total": len(self.dead_letters), "byReason": self._by_reason()},
            "listings": {
                "errors": sum(listing["problem"] == "ERROR" for listing in self.flagged_listings),
                "deleted": sum(listing["problem"] == "DELETED" for listing in self.flagged_listings),
                "truncated": False,
                "shown": list(self.flagged_listings),
            },
        }

    def failures(self, req: func.HttpRequest) -> tuple[int, Any]:
        return 200, {
            "queues": [
                {
                    "queue": "amazon-notifications",
                    "count": len(self.dead_letters),
                    "byReason": self._by_reason(),
                    "truncated": False,
                    "messages": list(self.dead_letters),
                }
            ]
        }

    def replay(self, req: func.HttpRequest) -> tuple[int, Any]:
        body = req.get_json()
        self.replays.append(body)
        if "sequenceNumbers" in body:
            chosen = [m for m in self.dead_letters if m["sequenceNumber"] in body["sequenceNumbers"]]
        else:
            chosen = [m for m in self.dead_letters if m["reason"] == body.get("reason")]
        self.dead_letters = [m for m in self.dead_letters if m not in chosen]
        items = [{"sequenceNumber": m["sequenceNumber"], "status": "replayed"} for m in chosen]
        return 200, {
            "queue": body.get("queue"),
            "ok": True,
            "counts": {"replayed": len(chosen)},
            "items": items,
        }

    def health(self, req: func.HttpRequest) -> tuple[int, Any]:
        return 503, {  # as the real endpoint answers when a check fails
            "status": "failing",
            "checks": [
                {"name": "Table Storage", "ok": True, "latencyMs": 12.4, "detail": "reachable"},
                {"name": "Dataverse", "ok": False, "latencyMs": 30001, "detail": "circuit open"},
            ],
        }

    def resync(self, req: func.HttpRequest) -> tuple[int, Any]:
        body = req.get_json()
        self.resyncs.append(body)
        self._polls = 0
        url = self.status_url or req.url.split("/api/")[0] + "/api/resync/job-1"
        return 202, {"jobId": "job-1", "statusUrl": url}

    def job(self, req: func.HttpRequest) -> tuple[int, Any]:
        self._polls += 1
        done = self._polls >= self.polls_until_done
        body = self.resyncs[-1]
        queued = len(body.get("amazonOrderIds") or body.get("skus") or []) or 10
        failures = self.job_failures if done else []
        return 200, {
            "jobId": req.route_params["jobId"],
            "kind": "listings" if "skus" in body else "orders" if "amazonOrderIds" in body else "range",
            "state": "done" if done else "running",
            "queued": queued,
            "applied": queued - len(failures) if done else 1,
            "failed": len(failures),
            "createdAt": "2026-11-27T12:00:00Z",
            "updatedAt": "2026-11-27T12:00:05Z",
            "failures": failures,
            "note": None,
        }

    def _by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.dead_letters:
            counts[message["reason"]] = counts.get(message["reason"], 0) + 1
        return counts


STATUS_HOURS = [
    (hour, count) for hour, count in zip(range(12), (3, 0, 5, 8, 13, 21, 34, 21, 13, 8, 5, 42), strict=True)
]


def dead_letter(
    sequence_number: int, reason: str, description: str = "", order_id: str = "113-0000000-0000001"
) -> dict[str, Any]:
    return {
        "sequenceNumber": sequence_number,
        "reason": reason,
        "description": description,
        "messageId": f"m-{sequence_number}",
        "notificationId": f"n-{sequence_number}",
        "notificationType": "ORDER_CHANGE",
        "amazonOrderId": order_id,
        "enqueuedTime": "2026-11-27T11:00:00Z",
        "deliveryCount": 1,
    }
