"""The whole app on the built-in sandbox: Azurite, the SP-API and Dataverse emulators, and the registered
`amazon_notifications` function, delivered to by a local stand-in for the Functions host.

Used by the demo (`python -m sandbox`), the end-to-end tests and the benchmark, so all three exercise the
same wiring the deployed app uses: app settings in the environment, `shared.runtime`, `function_app`.
"""

from __future__ import annotations

import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from sandbox.adfs_emulator import AdfsEmulator
from sandbox.amazon_pipeline import AmazonPipeline, DeliveryStats
from sandbox.amazon_samples import DEFAULT_SELLER_ID
from sandbox.azurite import Azurite
from sandbox.crm_catalog import CRM_USER_TOKEN, seed_crm_catalog
from sandbox.crm_pipeline import CrmPipeline
from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.dataverse_seed import SAMPLE_STOCK_ON_HAND, sample_catalog_records, seed_out_of_the_box
from sandbox.ecb_rates import EcbRatesStandIn
from sandbox.functions_host import (
    HostStats,
    InMemoryQueue,
    InMemorySender,
    LocalFunctionsHost,
    MessageSource,
    registered_functions,
)
from sandbox.servicebus_broker import ServiceBusStandIn
from sandbox.spapi_emulator import SpApiEmulator
from sandbox.tcp_proxy import TcpProxy
from shared.resilience import RetryPolicy

SANDBOX_DIR = Path(__file__).resolve().parent
SANDBOX_MAPPING = SANDBOX_DIR / "mapping.toml"
SANDBOX_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:amazon-notifications"
# The on-premises org's relying party and the app's AD FS client (sandbox values, not secrets).
ONPREM_RESOURCE = "https://crm.contoso.local/"
ONPREM_CLIENT_ID = "2f7c1e0a-5b6d-4c3e-9a8b-7d6e5f4a3b2c"
ONPREM_CLIENT_SECRET = "sandbox-adfs-secret"
MARKETPLACE_IDS = ("ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9")


@dataclass
class SandboxOptions:
    prefix: str = "new_"
    mapping_file: Path | None = SANDBOX_MAPPING
    orders_per_batch: int = 50
    max_batch: int = 32  # messages per function invocation (host.json maxMessageBatchSize)
    spapi_rate_limits: Mapping[str, tuple[float, float]] | None = None
    enforce_rate_limits: bool = False
    retry: RetryPolicy | None = None  # None: the product's default policy
    # "memory": notifications go straight onto an in-memory queue (fast, for most tests);
    # "amazon": SQS (moto) -> sqs_bridge -> Service Bus (AMQP stand-in) -> amazon_notifications, as deployed.
    pipeline: Literal["memory", "amazon"] = "memory"
    bridge_seconds: float = 2.0  # BRIDGE_MAX_SECONDS for the amazon pipeline
    # Peek-lock duration of the queue (deployed queues: 5 minutes).
    lock_seconds: float = 30.0
    # Waits of rescheduled messages, time-scaled: deployed defaults are 10 s doubling to 15 minutes; a demo
    # or a test must not wait that long for a message that met passing trouble.
    retry_base_seconds: float = 0.5
    retry_max_delay_seconds: float = 5.0
    # Circuit breakers, time-scaled like the waits above (deployed: 30 s doubling to 5 minutes).
    breaker_cooldown_seconds: float = 0.5
    breaker_max_cooldown_seconds: float = 2.0
    # Route Table Storage through a proxy the test can cut (`sandbox.table_proxy.cut()`) and restore.
    table_proxy: bool = False
    # Dynamics 365 on-premises: the v9.1 Web API, the app authenticating with AD FS client credentials.
    on_premises: bool = False
    # How far back the first finance run reads: the sample orders start in March 2025.
    finance_first_lookback_days: float = 1000.0
    # Dynamics -> Amazon: provision the endpoint and steps, post Dataverse's events to the Service Bus stand-in's
    # dataverse-events queue, publish inventory changes to its topic; seed listings and price lists.
    crm_events: bool = False
    coalesce_seconds: float = 0.5  # LISTINGS_COALESCE_SECONDS, time-scaled like the retry waits
    # Further app settings (name -> value; they win over the sandbox's own), e.g. FINANCE_REREAD_HOURS.
    settings: Mapping[str, str] = field(default_factory=dict)


class Sandbox:
    """Start with `with Sandbox() as sandbox:`; publish notifications; `deliver()`; inspect `dataverse`."""

    def __init__(self, options: SandboxOptions | None = None, *, azurite: Azurite | None = None) -> None:
        self.options = options or SandboxOptions()
        self._own_azurite = azurite is None
        self.azurite = azurite or Azurite()
        self.table_proxy: TcpProxy | None = None
        self.spapi = SpApiEmulator(
            enforce_rate_limits=self.options.enforce_rate_limits, rate_limits=self.options.spapi_rate_limits
        )
        self.adfs = AdfsEmulator() if self.options.on_premises else None
        # On premises, __enter__ replaces this with the org that trusts the AD FS (which must run first).
        self.dataverse = DataverseEmulator(prefix=self.options.prefix)
        self.provision_log = ""  # what `python -m shared.provision dataverse` and `amazon` printed
        self.rates = EcbRatesStandIn()
        self.queue = InMemoryQueue(lock_duration=timedelta(seconds=self.options.lock_seconds))
        needs_bus = self.options.pipeline == "amazon" or self.options.crm_events
        self.bus = ServiceBusStandIn() if needs_bus else None
        self.pipeline = (
            AmazonPipeline(
                "amazon-notifications",
                bridge_seconds=self.options.bridge_seconds,
                max_batch=self.options.max_batch,
                bus=self.bus,
            )
            if self.options.pipeline == "amazon"
            else None
        )
        self.crm_pipeline = (
            CrmPipeline(self.bus, lock_seconds=self.options.lock_seconds, max_batch=self.options.max_batch)
            if self.options.crm_events and self.bus is not None
            else None
        )
        self.last_delivery: DeliveryStats | None = None
        self.table = "sandbox" + uuid.uuid4().hex[:10]
        self._saved_environment: dict[str, str | None] = {}

    # --- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        if self._own_azurite:
            self.azurite.start()
        if self.options.table_proxy:
            self.table_proxy = TcpProxy(self.azurite.port).start()
        self.spapi.start()
        if self.adfs is not None:
            self.adfs.start()
            self.adfs.register_client(ONPREM_CLIENT_ID, ONPREM_CLIENT_SECRET, ONPREM_RESOURCE)
            self.dataverse = DataverseEmulator.on_premises(
                self.adfs, ONPREM_RESOURCE, prefix=self.options.prefix
            )
            # An administrator's step on premises: the app's AD FS client becomes an application user.
            self.dataverse.add_application_user(ONPREM_CLIENT_ID, "Amazon Seller Central sync")
        self.dataverse.start()
        self.rates.start()
        if self.bus is not None:
            self.bus.start()
        if self.pipeline is not None:
            self.pipeline.start()
        seed_out_of_the_box(self.dataverse)
        self.dataverse.seed("products", *sample_catalog_records())
        if self.crm_pipeline is not None:
            seed_crm_catalog(self.dataverse)
            self.spapi.listings.seed_catalog(MARKETPLACE_IDS, quantity=int(SAMPLE_STOCK_ON_HAND))
        self._apply_environment(self.environment())
        _forget_process_caches()
        self.provision_log = self.provision()
        # The app starts afresh: its own tokens, and counters that show only what the app itself costs.
        _forget_process_caches()
        self.spapi.requests.reset()
        self.dataverse.requests.reset()
        from shared.config import load_settings
        from shared.runtime import Runtime, install_runtime

        settings = load_settings()
        # The in-memory queue is no Service Bus: rescheduled copies go back to it through a sender of its own.
        senders = (
            {}
            if self.pipeline is not None
            else {settings.amazon_notifications_queue: InMemorySender(self.queue)}
        )
        install_runtime(Runtime(settings, retry=self.options.retry, senders=senders))
        if self.crm_pipeline is not None:
            self.crm_pipeline.connect(self.dataverse)
        return self

    def __exit__(self, *exc: object) -> None:
        _forget_process_caches()
        self._restore_environment()
        if self.crm_pipeline is not None:
            self.crm_pipeline.close()
        if self.pipeline is not None:
            self.pipeline.stop()
        self.rates.stop()
        if self.bus is not None:
            self.bus.stop()
        self.dataverse.stop()
        if self.adfs is not None:
            self.adfs.stop()
        self.spapi.stop()
        if self.table_proxy is not None:
            self.table_proxy.stop()
        if self._own_azurite:
            self.azurite.stop()

    def _table_connection_string(self) -> str:
        connection = self.azurite.connection_string
        if self.table_proxy is None:
            return connection
        return connection.replace(f"127.0.0.1:{self.azurite.port}/", f"127.0.0.1:{self.table_proxy.port}/")

    def provision(self, *, dry_run: bool = False) -> str:
        """Run both provisioning commands against the emulators, as the deployment's hooks do; their output.
        The keys' indexes build on the emulator's time (requests), so polling needs no real wait."""
        from shared.provision.cli import main as provision

        out = io.StringIO()
        dry = ["--dry-run"] if dry_run else []
        for command in (["dataverse", "--poll-seconds", "0.01", *dry], ["amazon", *dry]):
            out.write(f"$ python -m shared.provision {' '.join(command)}\n")
            if provision(command, out=out, err=out) != 0:
                raise RuntimeError("provisioning the sandbox failed:\n" + out.getvalue())
        _forget_library_tokens()  # the app fetches its own, as a deployed one would
        return out.getvalue()

    def environment(self) -> dict[str, str]:
        """The app settings that point the function app at the sandbox."""
        env = {
            "AMAZON_NOTIFICATIONS_QUEUE": "amazon-notifications",
            "STATE_STORAGE_CONNECTION": self._table_connection_string(),
            "STATE_TABLE": self.table,
            "SPAPI_REFRESH_TOKEN": self.spapi.refresh_token,
            "SPAPI_LWA_CLIENT_ID": self.spapi.client_id,
            "SPAPI_LWA_CLIENT_SECRET": self.spapi.client_secret,
            "SPAPI_ENDPOINT": self.spapi.base_url,
            "SPAPI_LWA_TOKEN_URL": f"{self.spapi.base_url}/auth/o2/token",
            "SPAPI_SELLER_ID": DEFAULT_SELLER_ID,
            "SPAPI_MARKETPLACE_IDS": ",".join(MARKETPLACE_IDS),
            "DATAVERSE_URL": self.dataverse.base_url,
            "DATAVERSE_AUTH": "none",
            "DATAVERSE_PREFIX": self.options.prefix,
            "DATAVERSE_ORDERS_PER_BATCH": str(self.options.orders_per_batch),
            "RETRY_BASE_SECONDS": str(self.options.retry_base_seconds),
            "RETRY_MAX_DELAY_SECONDS": str(self.options.retry_max_delay_seconds),
            "BREAKER_COOLDOWN_SECONDS": str(self.options.breaker_cooldown_seconds),
            "BREAKER_MAX_COOLDOWN_SECONDS": str(self.options.breaker_max_cooldown_seconds),
            "EXCHANGE_RATES_URL": self.rates.url(),
            "FINANCE_FIRST_LOOKBACK_DAYS": str(self.options.finance_first_lookback_days),
        }
        if self.adfs is not None:
            env |= {
                "DATAVERSE_AUTH": "adfs",
                "DATAVERSE_API_VERSION": "9.1",
                "DATAVERSE_ADFS_TOKEN_URL": self.adfs.token_url,
                "DATAVERSE_ADFS_RESOURCE": ONPREM_RESOURCE,
                "DATAVERSE_CLIENT_ID": ONPREM_CLIENT_ID,
                "DATAVERSE_CLIENT_SECRET": ONPREM_CLIENT_SECRET,
            }
        if self.options.mapping_file is not None:
            env["MAPPING_FILE"] = str(self.options.mapping_file)
        if self.pipeline is not None:
            env.update(self.pipeline.environment())
        else:  # no SQS here: the destination names a queue that only exists as an ARN
            env["SQS_QUEUE_ARN"] = SANDBOX_QUEUE_ARN
        if self.bus is not None:
            env["ServiceBusConnection"] = self.bus.connection_string
        else:  # the in-memory queue has no topic to publish inventory changes on
            env["INVENTORY_PUBLISH_ENABLED"] = "false"
        if self.crm_pipeline is not None:
            env.update(self.crm_pipeline.environment())
            env["LISTINGS_COALESCE_SECONDS"] = str(self.options.coalesce_seconds)
        env.update(self.options.settings)
        return env

    def _apply_environment(self, env: Mapping[str, str]) -> None:
        for name in ("KEY_VAULT_URL", "MAPPING_FILE", *env):
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ.pop(name, None)
        os.environ.update(env)

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()

    # --- Amazon's side --------------------------------------------------------------------------------
    def publish(self, envelope: Mapping[str, Any]) -> bool:
        """Send a notification the way it reaches us: onto SQS (amazon pipeline), or straight onto the
        queue as the bridge would (message_id = NotificationId)."""
        body = json.dumps(envelope).encode("utf-8")
        if self.pipeline is not None:
            self.pipeline.publish(body)
            return True
        metadata = envelope.get("NotificationMetadata") or envelope.get("notificationMetadata") or {}
        notification_id = metadata.get("NotificationId") or metadata.get("notificationId")
        return self.queue.send(body, message_id=notification_id)

    def publish_raw(self, body: bytes, message_id: str | None = None) -> bool:
        if self.pipeline is not None:
            self.pipeline.publish(body)
            return True
        return self.queue.send(body, message_id=message_id or str(uuid.uuid4()))

    def dead_letters(self) -> list[tuple[str | None, str | None]]:
        """(reason, description) of every dead-lettered message, whichever pipeline."""
        if self.pipeline is not None:
            return [
                (view.dead_letter_reason, view.dead_letter_error_description)
                for view in self.pipeline.dead_letters()
            ]
        return [(letter.reason, letter.description) for letter in self.queue.dead_letters]

    # --- the function app -----------------------------------------------------------------------------
    def host(self, source: MessageSource | None = None) -> LocalFunctionsHost:
        import function_app

        return LocalFunctionsHost(
            function_app.app, "amazon_notifications", source or self.queue, max_batch=self.options.max_batch
        )

    def deliver(self, *, timeout: float = 300.0, publisher: Callable[[], None] | None = None) -> HostStats:
        """Run the function over everything queued, redeliveries included, until the queue is empty.
        With the amazon pipeline, the bridge runs too, until SQS and Service Bus are both empty, and a
        `publisher` may keep publishing meanwhile."""
        if self.pipeline is not None:
            import function_app

            delivery = self.pipeline.deliver(function_app.app, timeout=timeout, publisher=publisher)
            self.last_delivery = delivery
            return delivery.host
        if publisher is not None:
            publisher()
        return self.host().pump(timeout=timeout)

    # --- Dynamics' side (crm_events) ----------------------------------------------------------------------
    def crm(self) -> WebApiClient:
        """The Web API as a person using Dynamics (not the integration's application user)."""
        return WebApiClient(self.dataverse.service_root, token=CRM_USER_TOKEN)

    def deliver_crm_events(self, *, timeout: float = 120.0) -> HostStats:
        """Run `dataverse_events` until the Dataverse events queue is empty."""
        import function_app

        assert self.crm_pipeline is not None, "SandboxOptions(crm_events=True) wires the events"
        return self.crm_pipeline.deliver(function_app.app, timeout=timeout)

    @staticmethod
    def run_timer(name: str) -> None:
        """Fire a registered timer function once, as the Functions host does on schedule."""
        import types

        import function_app

        registered_functions(function_app.app)[name](timer=types.SimpleNamespace(past_due=False))

    @staticmethod
    def runtime() -> Any:
        from shared.runtime import get_runtime

        return get_runtime()


def _forget_process_caches() -> None:
    """Settings, runtime and python-amazon-sp-api's process-wide LWA token cache belong to one sandbox."""
    from shared.runtime import reset_runtime

    reset_runtime()
    _forget_library_tokens()


def _forget_library_tokens() -> None:
    """python-amazon-sp-api's process-wide LWA caches (seller and grantless tokens)."""
    token_module = sys.modules.get("sp_api.auth.access_token_client")
    if token_module is not None:
        token_module.cache.clear()
        token_module.grantless_cache.clear()


@contextmanager
def running_sandbox(
    options: SandboxOptions | None = None, *, azurite: Azurite | None = None
) -> Iterator[Sandbox]:
    with Sandbox(options, azurite=azurite) as sandbox:
        yield sandbox
