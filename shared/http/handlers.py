"""One function per HTTP endpoint: validate the request, call one flow, shape the answer.

Each takes the plain request and the worker's Runtime and returns a Response, or raises a Problem (or a
SyncError, which serve.py turns into one). The work of a resync is queued, never done here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.http import views
from shared.http.bodies import FailuresQuery, JobRoute, NoQuery, OrderRoute, ReplayBody, ResyncBody
from shared.http.exchange import Request, Response, json_response
from shared.http.parsing import parse_body, parse_query, parse_route
from shared.http.problems import NOT_FOUND, Problem
from shared.timeutil import utc_now

if TYPE_CHECKING:
    from shared.runtime import Runtime

Handler = Callable[[Request, "Runtime"], Response]


def resync_start(request: Request, runtime: Runtime) -> Response:
    """POST /api/resync: queue a resync of orders by id, of a date range, or of listings by SKU; 202 with where
    to follow it."""
    parse_query(NoQuery, request)
    settings = runtime.settings
    body = parse_body(
        ResyncBody,
        request,
        context={
            "max_orders": settings.resync_max_orders,
            "max_skus": settings.resync_max_skus,
            "max_range": timedelta(days=settings.resync_max_range_days),
            "now": utc_now(),
        },
    )
    if body.amazon_order_ids is not None:
        status = runtime.resync.start_orders(body.amazon_order_ids)
    elif body.skus is not None:
        status = runtime.resync.start_skus(body.skus)
    else:
        status = runtime.resync.start_range(*body.date_range)
    status_url = request.link(f"{request.path.rstrip('/')}/{status.job_id}")
    return json_response(202, views.resync_accepted(status, status_url), headers={"Location": status_url})


def resync_status(request: Request, runtime: Runtime) -> Response:
    """GET /api/resync/{jobId}"""
    parse_query(NoQuery, request)
    job_id = parse_route(JobRoute, request).job_id
    status = runtime.resync.status(job_id)
    if status is None:
        raise Problem(NOT_FOUND, f"there is no resync job {job_id}")
    return json_response(200, views.resync_status(status))


def failures_list(request: Request, runtime: Runtime) -> Response:
    """GET /api/failures[?queue=&limit=]: the dead letters of the app's queues (never a body)."""
    failures = runtime.failures
    query = parse_query(FailuresQuery, request, context={"queues": failures.queues})
    found = failures.list([query.queue] if query.queue else None)
    return json_response(200, views.failures(found, limit=query.limit))


def failures_replay(request: Request, runtime: Runtime) -> Response:
    """POST /api/failures/replay: send chosen dead letters back to their queue (or only say which, dryRun)."""
    parse_query(NoQuery, request)
    failures = runtime.failures
    body = parse_body(ReplayBody, request, context={"queues": failures.queues})
    report = failures.replay(
        body.queue, sequence_numbers=body.sequence_numbers, reason=body.reason, dry_run=body.dry_run
    )
    return json_response(200, views.replay(report))


def order_lookup(request: Request, runtime: Runtime) -> Response:
    """GET /api/orders/{amazonOrderId}: Amazon's status now, the CRM's order, the last sync."""
    parse_query(NoQuery, request)
    order_id = parse_route(OrderRoute, request).amazon_order_id
    view = runtime.order_lookup.lookup(order_id)
    if view is None:
        raise Problem(NOT_FOUND, f"Amazon knows no order {order_id}")
    return json_response(200, views.order(view))


def health(request: Request, runtime: Runtime) -> Response:
    """GET /api/health: 200 when every check passed, 503 naming the one that did not."""
    parse_query(NoQuery, request)
    report = runtime.health.run()
    return json_response(200 if report.ok else 503, views.health(report))


def ops_status(request: Request, runtime: Runtime) -> Response:
    """GET /api/status: what the dashboard shows."""
    parse_query(NoQuery, request)
    return json_response(200, views.status(runtime.ops_status.snapshot()))


HANDLERS: dict[str, Handler] = {
    "resync_start": resync_start,
    "resync_status": resync_status,
    "failures_list": failures_list,
    "failures_replay": failures_replay,
    "order_lookup": order_lookup,
    "health": health,
    "ops_status": ops_status,
}
