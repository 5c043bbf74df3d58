"""Azure Functions entry point (Python v2 programming model). Triggers only: decode, call a flow, settle.

Heavy SDKs are imported inside the functions, on first use, so a cold start pays only for what runs.
No `from __future__ import annotations` here: the Python worker reads the parameter annotations to recognise
the SDK-type Service Bus binding, so they must be real types, not strings.
"""

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

app = func.FunctionApp()


@app.service_bus_queue_trigger(
    arg_name="messages",
    queue_name="%AMAZON_NOTIFICATIONS_QUEUE%",
    connection="ServiceBusConnection",
    cardinality="many",
    auto_complete_messages=False,
)
def amazon_notifications(
    messages: list[servicebus.ServiceBusReceivedMessage],
    message_actions: servicebus.ServiceBusMessageActions,
    context: func.Context,
) -> None:
    """Amazon notifications, routed by type (ORDER_CHANGE -> Dynamics sales orders); every message completed,
    rescheduled (passing trouble), abandoned (the flow failed on it) or dead-lettered with a reason."""
    from functools import partial

    from shared import telemetry
    from shared.runtime import get_runtime
    from shared.servicebus.settlement import run_and_settle

    runtime = get_runtime()
    flow = partial(runtime.notifications.handle, invocation_id=context.invocation_id)
    rescheduling = runtime.rescheduling(runtime.settings.amazon_notifications_queue)
    with telemetry.span("amazon_notifications", parent=telemetry.host_trace(context), messages=len(messages)):
        run_and_settle(messages, message_actions, flow, rescheduling=rescheduling)


@app.timer_trigger(schedule="0 * * * * *", arg_name="timer", run_on_startup=False, use_monitor=False)
def sqs_bridge(timer: func.TimerRequest) -> None:
    """Amazon SQS -> Service Bus: long-poll for up to BRIDGE_MAX_SECONDS, forward, then delete from SQS.

    Timer functions run on one instance at a time (the host holds a lease), so one bridge polls the queue.
    """
    from shared import telemetry
    from shared.bridge import idle_reason
    from shared.runtime import get_runtime

    runtime = get_runtime()
    idle = idle_reason(runtime.settings)
    if idle is not None:
        logging.getLogger(__name__).info("sqs_bridge: %s; nothing to do", idle)
        return
    with telemetry.timer_run("sqs_bridge"):
        runtime.bridge.run().raise_for_failures()


@app.timer_trigger(
    schedule="%ORDERS_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def orders_sweep(timer: func.TimerRequest) -> None:
    """The safety net under notifications: orders Amazon changed since the last sweep (searchOrders), applied
    through order sync; then steps of running backfill jobs, within ORDERS_SWEEP_MAX_SECONDS."""
    from shared import telemetry
    from shared.runtime import get_runtime

    runtime = get_runtime()
    if not runtime.settings.orders_sweep_enabled:
        logging.getLogger(__name__).info("orders_sweep: ORDERS_SWEEP_ENABLED is off; nothing to do")
        return
    with telemetry.timer_run("orders_sweep"):
        runtime.orders_sweep.run()


@app.timer_trigger(
    schedule="%FINANCE_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def finance_sync(timer: func.TimerRequest) -> None:
    """Amazon's financial transactions (fees, refunds, deferrals) -> Dynamics rows; exchange rates refreshed."""
    from shared import telemetry
    from shared.runtime import get_runtime

    runtime = get_runtime()
    if not runtime.settings.finance_sync_enabled:
        logging.getLogger(__name__).info("finance_sync: FINANCE_SYNC_ENABLED is off; nothing to do")
        return
    with telemetry.timer_run("finance_sync"):
        runtime.finance_sync.run()


@app.timer_trigger(
    schedule="%SETTLEMENT_REPORTS_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def settlement_reports(timer: func.TimerRequest) -> None:
    """New settlement reports -> a settlement, an invoice per settled order and the reconciliation findings."""
    from shared import telemetry
    from shared.runtime import get_runtime

    runtime = get_runtime()
    if not runtime.settings.settlement_reports_enabled:
        logging.getLogger(__name__).info(
            "settlement_reports: SETTLEMENT_REPORTS_ENABLED is off; nothing to do"
        )
        return
    with telemetry.timer_run("settlement_reports"):
        runtime.settlement_sync.run()


@app.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    """The operations dashboard: one self-contained page that calls this app's HTTP API with the function key
    it was opened with (`?code=` or the `x-functions-key` header)."""
    from shared.dashboard import render, security_headers

    key = req.params.get("code") or req.headers.get("x-functions-key")
    return func.HttpResponse(render(key), headers=security_headers(), mimetype="text/html", charset="utf-8")


@app.service_bus_queue_trigger(
    arg_name="messages",
    queue_name="%DATAVERSE_EVENTS_QUEUE%",
    connection="ServiceBusConnection",
    cardinality="many",
    auto_complete_messages=False,
)
def dataverse_events(
    messages: list[servicebus.ServiceBusReceivedMessage],
    message_actions: servicebus.ServiceBusMessageActions,
    context: func.Context,
) -> None:
    """Dataverse events (RemoteExecutionContext): stock and price -> Amazon listings, shipped orders ->
    confirmShipment; every message completed, rescheduled (passing trouble, or waiting to coalesce), abandoned
    or dead-lettered with a reason."""
    from functools import partial

    from shared import telemetry
    from shared.runtime import get_runtime
    from shared.servicebus.settlement import run_and_settle

    runtime = get_runtime()
    flow = partial(runtime.dataverse_events.handle, invocation_id=context.invocation_id)
    rescheduling = runtime.rescheduling(runtime.settings.dataverse_events_queue)
    with telemetry.span("dataverse_events", parent=telemetry.host_trace(context), messages=len(messages)):
        run_and_settle(messages, message_actions, flow, rescheduling=rescheduling)


@app.timer_trigger(schedule="%FBA_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def fba_inventory_sweep(timer: func.TimerRequest) -> None:
    """Daily: every marketplace's FBA inventory summaries -> the CRM's FBA stock, where changed (the safety net
    for FBA_INVENTORY_AVAILABILITY_CHANGES notifications that never came)."""
    from shared import telemetry
    from shared.runtime import get_runtime

    with telemetry.timer_run("fba_inventory_sweep"):
        counts = get_runtime().fba_inventory.sweep()
    if counts["failed"]:
        raise RuntimeError(f"FBA sweep: {counts['failed']} quantities not written; the next run tries again")


@app.timer_trigger(schedule="30 * * * * *", arg_name="timer", run_on_startup=False, use_monitor=False)
def listings_backlog(timer: func.TimerRequest) -> None:
    """Every minute: listings that met a spent Listings usage plan go to Amazon, as one JSON_LISTINGS_FEED per
    marketplace from LISTINGS_FEED_THRESHOLD listings on, else patch by patch; answers of earlier feeds are read."""
    from shared import telemetry
    from shared.runtime import get_runtime

    with telemetry.timer_run("listings_backlog"):
        get_runtime().listings_backlog.run()


@app.service_bus_queue_trigger(
    arg_name="messages",
    queue_name="%RESYNC_QUEUE%",
    connection="ServiceBusConnection",
    cardinality="many",
    auto_complete_messages=False,
)
def resync(
    messages: list[servicebus.ServiceBusReceivedMessage],
    message_actions: servicebus.ServiceBusMessageActions,
    context: func.Context,
) -> None:
    """Resync jobs queued by POST /api/resync: orders by id (getOrder, then order sync), date ranges (a
    backfill job), SKUs (the CRM's stock and prices through listings sync); passing trouble reschedules a
    message, as on the notifications queue."""
    from functools import partial

    from shared.runtime import get_runtime
    from shared.servicebus.settlement import run_and_settle

    runtime = get_runtime()
    flow = partial(runtime.resync_worker.handle, invocation_id=context.invocation_id)
    run_and_settle(
        messages, message_actions, flow, rescheduling=runtime.rescheduling(runtime.settings.resync_queue)
    )


# --- operations over HTTP (function keys) ---------------------------------------------------------------
# Each endpoint's work lives in shared/http (imported on the first call): these only hand the request over
# as plain values and the answer back.
@app.route(route="resync", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def resync_start(req: func.HttpRequest) -> func.HttpResponse:
    """Queue a resync of orders by id, of a date range or of listings by SKU: 202 with the job id and its
    status URL."""
    return _http("resync_start", req)


@app.route(route="resync/{jobId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def resync_status(req: func.HttpRequest) -> func.HttpResponse:
    """A resync job's state and counts."""
    return _http("resync_status", req)


@app.route(route="failures", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def failures_list(req: func.HttpRequest) -> func.HttpResponse:
    """Dead letters of the app's queues: identifiers, reasons and counts, never a body."""
    return _http("failures_list", req)


@app.route(route="failures/replay", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def failures_replay(req: func.HttpRequest) -> func.HttpResponse:
    """Replay dead letters by sequence number or reason (or only say which, with dryRun)."""
    return _http("failures_replay", req)


@app.route(route="orders/{amazonOrderId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def order_lookup(req: func.HttpRequest) -> func.HttpResponse:
    """One order: Amazon's status now, the CRM's sales order, the last sync."""
    return _http("order_lookup", req)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Table Storage, Service Bus, Dataverse and Login with Amazon, each checked: 200, or 503 naming the failed."""
    return _http("health", req)


@app.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def ops_status(req: func.HttpRequest) -> func.HttpResponse:
    """The dashboard's figures: orders synced, sync lag, timers, circuit breakers, dead letters."""
    return _http("ops_status", req)


def _http(endpoint: str, req: func.HttpRequest) -> func.HttpResponse:
    from shared.http.serve import serve

    answer = serve(
        endpoint,
        method=req.method,
        url=req.url,
        route_params=req.route_params,
        query=req.params,
        headers=req.headers,
        body=req.get_body(),
    )
    return func.HttpResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))
