"""Builds the process-wide objects the functions need, once, on first use.

Kept out of function_app.py so importing the app stays cheap (the SDKs load here, on the first
invocation), and so tests and the sandbox can build a Runtime from explicit settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from shared.breakers import BreakerPolicy, Breakers
from shared.config import Settings, get_settings
from shared.resilience import RetryPolicy

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from shared.amazon.client import SpApiSession
    from shared.amazon.orders import OrdersApi
    from shared.amazon.reports import ReportsApi
    from shared.bridge import Bridge
    from shared.dataverse.catalog import CrmCatalog
    from shared.dataverse.client import DataverseClient
    from shared.dataverse.finance import CrmFinance
    from shared.dataverse.products import ProductDirectory
    from shared.dataverse.record_batches import RecordBatches
    from shared.flows.dataverse_events import DataverseEvents
    from shared.flows.exchange_rates import RateKeeper
    from shared.flows.failures import Failures
    from shared.flows.fba_inventory import FbaInventorySync
    from shared.flows.finance_sync import FinanceSync
    from shared.flows.health import HealthCheck
    from shared.flows.inventory_publish import InventoryPublisher
    from shared.flows.listing_notifications import ListingNotifications
    from shared.flows.listing_sender import ListingSender
    from shared.flows.listings_backlog import ListingsBacklog
    from shared.flows.listings_sync import ListingsSync
    from shared.flows.notification_router import NotificationRouter
    from shared.flows.ops_status import OpsStatus
    from shared.flows.order_lookup import OrderLookup
    from shared.flows.order_pages import PageApplier
    from shared.flows.order_search import SearchWalk
    from shared.flows.order_sync import OrderSync
    from shared.flows.orders_backfill import OrdersBackfill
    from shared.flows.orders_sweep import OrdersSweep
    from shared.flows.resync import Resync
    from shared.flows.resync_worker import ResyncWorker
    from shared.flows.settlements import SettlementSync
    from shared.flows.shipments import ShipmentSync
    from shared.mapping.config import MappingConfig
    from shared.model.finance_tables import FinanceTables
    from shared.rates.ecb import ReferenceRates
    from shared.servicebus.sender import NotificationSender
    from shared.servicebus.settlement import Rescheduling
    from shared.state.listings import ListingStore
    from shared.state.resync_jobs import ResyncJobStore
    from shared.state.store import StateStore
    from shared.state.sync_stats import SyncStats
    from shared.state.watermarks import ProgressStore


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        senders: Mapping[str, NotificationSender] | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()  # one policy for both connectors; the sandbox's tests shorten it
        # Rescheduling senders by queue; the sandbox hands in its own for an in-memory queue.
        self._senders: dict[str, NotificationSender] = dict(senders or {})
        self._senders_lock = threading.Lock()
        self._who_am_i: str | None = None

    @cached_property
    def breakers(self) -> Breakers:
        """One circuit breaker per dependency, for the process's life; health checks read their snapshots,
        timers ask `skip_if_open(runtime.breakers.spapi, ...)` before a run."""
        return Breakers.create(BreakerPolicy.from_settings(self.settings))

    @cached_property
    def spapi(self) -> SpApiSession:
        from shared.amazon.client import SpApiConfig, SpApiSession

        return SpApiSession(
            SpApiConfig.from_settings(self.settings), retry=self.retry, breaker=self.breakers.spapi
        )

    @cached_property
    def orders(self) -> OrdersApi:
        from shared.amazon.orders import OrdersApi

        return OrdersApi(self.spapi)

    @cached_property
    def reports(self) -> ReportsApi:
        from shared.amazon.reports import ReportsApi

        return ReportsApi(self.spapi)

    @cached_property
    def dataverse(self) -> DataverseClient:
        from shared.dataverse.auth import build_token_provider
        from shared.dataverse.client import DataverseClient

        (environment_url,) = self.settings.required("dataverse_url", needed_by="Dataverse")
        return DataverseClient(
            environment_url,
            api_version=self.settings.dataverse_api_version,
            token_provider=build_token_provider(self.settings),
            timeout=self.settings.dataverse_timeout_seconds,
            retry=self.retry,
            breaker=self.breakers.dataverse,
        )

    @cached_property
    def catalog(self) -> CrmCatalog:
        from shared.dataverse.catalog import CrmCatalog

        return CrmCatalog(self.dataverse)

    @cached_property
    def mapping(self) -> MappingConfig:
        from shared.mapping.config import load_mapping

        return load_mapping(self.settings.mapping_file, prefix=self.settings.dataverse_prefix)

    @cached_property
    def state(self) -> StateStore:
        from shared.state.store import StateStore

        return StateStore.from_settings(self.settings, breaker=self.breakers.table_storage)

    @cached_property
    def progress(self) -> ProgressStore:
        from shared.state.watermarks import ProgressStore

        return ProgressStore.from_settings(self.settings, breaker=self.breakers.table_storage)

    @cached_property
    def sync_stats(self) -> SyncStats:
        """Orders written per hour and their sync lag (order sync records, the status endpoint reads)."""
        from shared.state.sync_stats import SyncStats

        return SyncStats.from_settings(self.settings, breaker=self.breakers.table_storage)

    @cached_property
    def order_sync(self) -> OrderSync:
        from shared.dataverse.orders import CrmOrders
        from shared.flows.order_sync import OrderSync
        from shared.flows.order_writer import OrderWriter

        return OrderSync(
            orders=self.orders,
            writer=OrderWriter(
                CrmOrders(self.dataverse), orders_per_batch=self.settings.dataverse_orders_per_batch
            ),
            catalog=self.catalog,
            state=self.state,
            mapping=self.mapping,
            seller_id=self.settings.required("spapi_seller_id", needed_by="order sync")[0],
            application_id=self.settings.spapi_application_id,
            stats=self.sync_stats,
        )

    # --- finance: transactions, settlements, exchange rates --------------------------------------------------
    @cached_property
    def finance_tables(self) -> FinanceTables:
        from shared.model.finance_tables import FinanceTables

        return FinanceTables(self.settings.dataverse_prefix)

    @cached_property
    def crm_finance(self) -> CrmFinance:
        from shared.dataverse.finance import CrmFinance

        return CrmFinance(
            self.dataverse, self.finance_tables, order_id_column=self.mapping.columns.salesorder.order_id
        )

    @cached_property
    def record_batches(self) -> RecordBatches:
        from shared.dataverse.record_batches import RecordBatches

        return RecordBatches(self.dataverse, units_per_batch=self.settings.finance_records_per_batch)

    @cached_property
    def exchange_rates(self) -> ReferenceRates | None:
        """The reference-rate source, or None when EXCHANGE_RATES_ENABLED is off."""
        from shared.rates.ecb import ReferenceRates

        if not self.settings.exchange_rates_enabled:
            return None
        return ReferenceRates(self.settings.exchange_rates_url, retry=self.retry)

    @cached_property
    def rate_keeper(self) -> RateKeeper:
        from datetime import timedelta

        from shared.dataverse.currencies import CrmCurrencies
        from shared.flows.exchange_rates import RateKeeper

        return RateKeeper(
            CrmCurrencies(self.dataverse),
            self.exchange_rates,
            refresh=timedelta(hours=self.settings.exchange_rates_refresh_hours),
        )

    @cached_property
    def finance_sync(self) -> FinanceSync:
        from datetime import timedelta

        from shared.amazon.finances import FinancesApi
        from shared.flows.finance_sync import FinanceSync

        settings = self.settings
        return FinanceSync(
            finances=FinancesApi(self.spapi),
            crm=self.crm_finance,
            writer=self.record_batches,
            rates=self.rate_keeper,
            progress=self.progress,
            tables=self.finance_tables,
            first_lookback=timedelta(days=settings.finance_first_lookback_days),
            reread=timedelta(hours=settings.finance_reread_hours),
            max_seconds=settings.finance_sync_max_seconds,
        )

    @cached_property
    def settlement_sync(self) -> SettlementSync:
        from datetime import timedelta

        from shared.flows.settlements import SettlementSync

        settings = self.settings
        return SettlementSync(
            reports=self.reports,
            crm=self.crm_finance,
            catalog=self.catalog,
            writer=self.record_batches,
            rates=self.rate_keeper,
            progress=self.progress,
            tables=self.finance_tables,
            marketplace_ids=settings.spapi_marketplace_ids,
            first_lookback=timedelta(days=settings.settlement_first_lookback_days),
            max_seconds=settings.finance_sync_max_seconds,
        )

    @cached_property
    def notifications(self) -> NotificationRouter:
        """The Amazon notifications queue's flow: ORDER_CHANGE (and anything unhandled) to order sync, other
        types to their handlers."""
        from shared.amazon.fba_inventory import FBA_INVENTORY_AVAILABILITY_CHANGES
        from shared.amazon.listing_notifications import LISTING_NOTIFICATION_TYPES
        from shared.amazon.order_report import ALL_ORDERS_BY_LAST_UPDATE
        from shared.amazon.reports import REPORT_PROCESSING_FINISHED
        from shared.flows.notification_router import NotificationRouter
        from shared.flows.report_notifications import ReportNotifications

        reports = ReportNotifications(
            {ALL_ORDERS_BY_LAST_UPDATE: self.orders_backfill},
            seller_id=self.settings.required("spapi_seller_id", needed_by="report notifications")[0],
        )
        return NotificationRouter(
            self.order_sync,
            handlers={
                REPORT_PROCESSING_FINISHED: reports,
                FBA_INVENTORY_AVAILABILITY_CHANGES: self.fba_inventory,
                **dict.fromkeys(LISTING_NOTIFICATION_TYPES, self.listing_notifications),
            },
        )

    @cached_property
    def order_pages(self) -> PageApplier:
        from shared.flows.order_pages import PageApplier

        return PageApplier(self.order_sync, self.progress)

    @cached_property
    def order_search(self) -> SearchWalk:
        from shared.flows.order_search import SearchWalk

        return SearchWalk(self.orders, self.order_pages)

    @cached_property
    def orders_backfill(self) -> OrdersBackfill:
        """Backfill of a date range (searchOrders pages, or the all-orders report for large ranges)."""
        from shared.flows.backfill_job import BackfillOptions
        from shared.flows.orders_backfill import OrdersBackfill

        return OrdersBackfill(
            orders=self.orders,
            reports=self.reports,
            state=self.state,
            progress=self.progress,
            pages=self.order_pages,
            walk=self.order_search,
            options=BackfillOptions(marketplaces=tuple(self.settings.spapi_marketplace_ids)),
        )

    @cached_property
    def orders_sweep(self) -> OrdersSweep:
        """The orders_sweep timer's flow: the sweep, then steps of running backfill jobs."""
        from datetime import timedelta

        from shared.flows.orders_sweep import OrdersSweep, SweepOptions

        settings = self.settings
        return OrdersSweep(
            walk=self.order_search,
            progress=self.progress,
            options=SweepOptions(
                max_seconds=settings.orders_sweep_max_seconds,
                first_lookback=timedelta(hours=settings.orders_sweep_first_lookback_hours),
            ),
            backfill=self.orders_backfill,
            blocked=self.dependencies_unavailable,
        )

    def dependencies_unavailable(self) -> bool:
        """True (with a log line) when SP-API, Dataverse or Table Storage has its circuit breaker open, so a
        timer skips its run instead of failing call by call."""
        from shared.breakers import skip_if_open

        return skip_if_open(*self.breakers, run="orders_sweep")

    # --- Dynamics -> Amazon, and FBA stock -> Dynamics ---------------------------------------------------
    @cached_property
    def state_table(self) -> TableClient:
        """The state table for the per-listing, per-shipment and per-FBA-stock rows."""
        from shared.state.store import table_client

        return table_client(self.settings)

    @cached_property
    def seller_id(self) -> str:
        return self.settings.required("spapi_seller_id", needed_by="the listings, shipment and FBA flows")[0]

    @cached_property
    def inventory_publisher(self) -> InventoryPublisher:
        from shared.flows.inventory_publish import InventoryPublisher
        from shared.servicebus.sender import ServiceBusQueueSender

        if not self.settings.inventory_publish_enabled:
            return InventoryPublisher(None)
        topic = self.settings.inventory_changes_topic
        with self._senders_lock:
            if topic not in self._senders:
                self._senders[topic] = ServiceBusQueueSender.to_topic(self.settings, topic)
            return InventoryPublisher(self._senders[topic])

    @cached_property
    def listing_store(self) -> ListingStore:
        from shared.state.listings import ListingStore

        return ListingStore(self.state_table, breaker=self.breakers.table_storage)

    @cached_property
    def listing_sender(self) -> ListingSender:
        from shared.amazon.listings import ListingsApi
        from shared.flows.listing_sender import ListingSender

        return ListingSender(
            ListingsApi(self.spapi, self.seller_id), self.listing_store, self.inventory_publisher
        )

    @cached_property
    def listings_sync(self) -> ListingsSync:
        from datetime import timedelta

        from shared.flows.listings_sync import ListingsOptions, ListingsSync

        options = ListingsOptions(coalesce=timedelta(seconds=self.settings.listings_coalesce_seconds))
        return ListingsSync(self.listing_sender, options=options)

    @cached_property
    def listing_notifications(self) -> ListingNotifications:
        """Amazon's listing status, issues and merchant quantity into the listing state rows."""
        from shared.flows.listing_notifications import ListingNotifications

        return ListingNotifications(
            sender=self.listing_sender,
            listings=self.listings_sync,
            publisher=self.inventory_publisher,
            seller_id=self.seller_id,
            marketplace_ids=self.settings.spapi_marketplace_ids,
        )

    @cached_property
    def listings_backlog(self) -> ListingsBacklog:
        from shared.amazon.feeds import FeedsApi
        from shared.flows.listings_backlog import BacklogOptions, ListingsBacklog

        return ListingsBacklog(
            self.listing_sender,
            FeedsApi(self.spapi, self.seller_id),
            options=BacklogOptions(feed_threshold=self.settings.listings_feed_threshold),
        )

    @cached_property
    def shipment_sync(self) -> ShipmentSync:
        from shared.amazon.shipments import ShipmentsApi
        from shared.dataverse.shipments import CrmShipments
        from shared.flows.shipments import ShipmentSync
        from shared.state.shipments import ShipmentStore

        return ShipmentSync(
            crm=CrmShipments(
                self.dataverse,
                order_column=self.mapping.columns.salesorderdetail.order_id,
                item_column=self.mapping.columns.salesorderdetail.order_item_id,
            ),
            shipments=ShipmentsApi(self.spapi),
            orders=self.orders,
            store=ShipmentStore(self.state_table, breaker=self.breakers.table_storage),
            mapping=self.mapping,
        )

    @cached_property
    def fba_inventory(self) -> FbaInventorySync:
        from shared.amazon.fba_inventory import FbaInventoryApi
        from shared.dataverse.fba_stock import CrmFbaStock
        from shared.flows.fba_inventory import FbaInventorySync
        from shared.state.fba_stock import FbaStockStore

        return FbaInventorySync(
            inventory=FbaInventoryApi(self.spapi),
            catalog=self.catalog,
            crm=CrmFbaStock(self.dataverse),
            store=FbaStockStore(self.state_table, breaker=self.breakers.table_storage),
            publisher=self.inventory_publisher,
            mapping=self.mapping,
            seller_id=self.seller_id,
            marketplace_ids=self.settings.spapi_marketplace_ids,
        )

    @cached_property
    def product_directory(self) -> ProductDirectory:
        """SKUs of products, price lists' names and currencies: cached for the events and listings resyncs."""
        from shared.dataverse.products import ProductDirectory

        return ProductDirectory(self.dataverse, sku_column=self.mapping.columns.product.sku)

    @cached_property
    def dataverse_events(self) -> DataverseEvents:
        """The Dataverse events queue's flow: stock and price to listings, shipments to confirmShipment."""
        from shared.flows.dataverse_events import DataverseEvents

        return DataverseEvents(
            listings=self.listings_sync,
            shipments=self.shipment_sync,
            directory=self.product_directory,
            mapping=self.mapping,
            marketplace_ids=self.settings.spapi_marketplace_ids,
            integration_user=self.integration_user_id,
            organization_id=self.settings.dataverse_organization_id,
        )

    def integration_user_id(self) -> str:
        """The app's Dataverse application user: DATAVERSE_INTEGRATION_USER_ID, else asked once with WhoAmI."""
        configured = self.settings.dataverse_integration_user_id
        if configured:
            return configured.strip("{}").lower()
        with self._senders_lock:
            if self._who_am_i is None:
                from shared.dataverse.identity import who_am_i

                self._who_am_i = who_am_i(self.dataverse)
            return self._who_am_i

    @cached_property
    def bridge(self) -> Bridge:
        """The SQS -> Service Bus bridge, on connectors kept for the worker's life (the AMQP link stays open
        between timer runs)."""
        from shared.bridge import Bridge, BridgeOptions
        from shared.bridge.sqs import Boto3SqsQueue
        from shared.servicebus.sender import ServiceBusQueueSender

        return Bridge(
            Boto3SqsQueue.from_settings(self.settings),
            ServiceBusQueueSender.from_settings(self.settings),
            BridgeOptions.from_settings(self.settings),
        )

    # --- operations over HTTP and the resync queue ------------------------------------------------------
    @cached_property
    def resync_jobs(self) -> ResyncJobStore:
        from shared.state.resync_jobs import ResyncJobStore

        return ResyncJobStore.from_settings(self.settings, breaker=self.breakers.table_storage)

    @cached_property
    def resync(self) -> Resync:
        """Resync jobs, the asking side (POST/GET /api/resync): records a job, queues its work."""
        from shared.flows.resync import Resync

        return Resync(
            jobs=self.resync_jobs,
            queue=self.sender(self.settings.resync_queue),
            backfill=self.orders_backfill,
        )

    @cached_property
    def resync_worker(self) -> ResyncWorker:
        """The resync queue's flow: orders by id through getOrder and order sync, ranges as backfill jobs, SKUs'
        CRM stock and prices through listings sync."""
        from shared.dataverse.listing_values import ListingValuesReader
        from shared.flows.listings_resync import ListingsResync
        from shared.flows.resync_worker import ResyncWorker

        columns = self.mapping.columns.product
        listings = ListingsResync(
            listings=self.listings_sync,
            reader=ListingValuesReader(
                self.dataverse, sku_column=columns.sku, quantity_column=columns.quantity
            ),
            directory=self.product_directory,
            mapping=self.mapping,
            marketplace_ids=self.settings.spapi_marketplace_ids,
            jobs=self.resync_jobs,
        )
        return ResyncWorker(
            orders=self.orders,
            sync=self.order_sync,
            jobs=self.resync_jobs,
            backfill=self.orders_backfill,
            listings=listings,
        )

    @cached_property
    def order_lookup(self) -> OrderLookup:
        from shared.dataverse.orders import CrmOrders
        from shared.flows.order_lookup import OrderLookup

        return OrderLookup(
            orders=self.orders,
            state=self.state,
            crm=CrmOrders(self.dataverse),
            order_id_column=self.mapping.columns.salesorder.order_id,
        )

    @cached_property
    def failures(self) -> Failures:
        """Dead letters of the app's queues; each call opens (and closes) its own Service Bus client."""
        from shared.flows.failures import Failures
        from shared.servicebus.deadletters import DeadLetters, app_queues

        settings = self.settings
        return Failures(
            lambda limits: DeadLetters.from_settings(settings, limits=limits), app_queues(settings)
        )

    @cached_property
    def health(self) -> HealthCheck:
        """One cheap call per dependency; each probe builds its connector on first use, so a missing setting
        fails its own check, not the endpoint."""
        from shared.flows.health import HEALTH_KIND, HEALTH_NAME, HealthCheck
        from shared.servicebus.probe import peek_queue

        settings = self.settings
        timeout = settings.health_timeout_seconds

        def table_storage() -> str:
            self.progress.read(HEALTH_KIND, HEALTH_NAME)
            return "the state table answered"

        def service_bus() -> str:
            peek_queue(settings, settings.amazon_notifications_queue, timeout=timeout)
            return "the notifications queue answered a peek"

        def dataverse() -> str:
            self.dataverse.who_am_i()
            return "WhoAmI answered"

        def login_with_amazon() -> str:
            self.spapi.check_login()
            return "an access token is at hand"

        return HealthCheck(
            {
                "table_storage": table_storage,
                "service_bus": service_bus,
                "dataverse": dataverse,
                "login_with_amazon": login_with_amazon,
            },
            timeout=timeout,
        )

    @cached_property
    def ops_status(self) -> OpsStatus:
        """The dashboard's status. A timer that keeps a progress row is listed here with its row."""
        from shared.flows import finance_sync, settlements
        from shared.flows.ops_status import OpsStatus, TimerProgress
        from shared.flows.orders_sweep import SWEEP_KIND, SWEEP_NAME

        timers = [
            TimerProgress("orders_sweep", SWEEP_KIND, SWEEP_NAME),
            TimerProgress("finance_sync", finance_sync.WATERMARK_KIND, finance_sync.WATERMARK_NAME),
            TimerProgress(
                "settlement_reports", settlements.WATERMARK_KIND, settlements.WATERMARK_NAME, "CreatedSince"
            ),
        ]
        return OpsStatus(
            stats=self.sync_stats,
            progress=self.progress,
            breakers=self.breakers,
            failures=self.failures,
            timers=timers,
            listings=self.listing_store,
        )

    # --- Service Bus senders ----------------------------------------------------------------------------
    def sender(self, queue: str) -> NotificationSender:
        """The process's sender to `queue` (opened on first send; the sandbox hands in its own for a queue)."""
        from shared.servicebus.sender import ServiceBusQueueSender

        with self._senders_lock:
            if queue not in self._senders:
                self._senders[queue] = ServiceBusQueueSender.from_settings(self.settings, queue)
            return self._senders[queue]

    def rescheduling(self, queue: str) -> Rescheduling:
        """How messages of `queue` that met passing trouble are tried again later (one sender per queue)."""
        from datetime import timedelta

        from shared.servicebus.settlement import Rescheduling, RetrySchedule

        settings = self.settings
        schedule = RetrySchedule(
            settings.retry_base_seconds,
            settings.retry_max_delay_seconds,
            timedelta(hours=settings.retry_max_age_hours),
        )
        return Rescheduling(self.sender(queue), schedule)

    def close(self) -> None:
        names = (
            "reports",
            "spapi",
            "dataverse",
            "state",
            "progress",
            "sync_stats",
            "resync_jobs",
            "bridge",
            "exchange_rates",
            "state_table",
        )
        for name in names:
            if self.__dict__.get(name) is not None:
                self.__dict__[name].close()
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The worker's Runtime; settings and mapping are validated here, on the first invocation."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = _started(Runtime(get_settings()))
        return _runtime


def _started(runtime: Runtime) -> Runtime:
    from shared.logging_policy import configure_logging
    from shared.telemetry.setup import configure as configure_telemetry

    configure_logging()
    configure_telemetry(runtime.settings)  # Application Insights when configured; off costs nothing
    _ = runtime.mapping  # fail at start-up on a bad MAPPING_FILE, not on the first order
    return runtime


def install_runtime(runtime: Runtime) -> None:
    """Use this runtime for the coming invocations (the sandbox and tests build their own)."""
    global _runtime
    with _lock:
        if _runtime is not None and _runtime is not runtime:
            _runtime.close()
        _runtime = _started(runtime)


def reset_runtime() -> None:
    """Forget the runtime and cached settings (tests and the sandbox change settings between runs)."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None
    get_settings.cache_clear()
    logging.getLogger(__name__).debug("runtime reset")
