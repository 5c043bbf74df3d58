"""Every app setting, in one place, documented once and validated at start-up.

The names are the deployment contract (Bicep, azd, docs and outside checks use them), so each field reads
its exact app-setting name through `validation_alias`. Secrets name their Key Vault secret in
`json_schema_extra["key_vault_secret"]`: with KEY_VAULT_URL set they come from the vault (see
shared/secrets.py), otherwise from the environment. `python -m shared.config` checks the current
environment; `python -m shared.settings_docs` prints every setting with its meaning (values of secrets
never appear).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from shared.errors import ConfigurationError
from shared.secrets import KeyVaultSettingsSource, key_vault_secret
from shared.urls import is_loopback, service_url

# Orders API v2026-01-01 datasets (orders_2026-01-01.json, parameter includedData).
ORDER_DATASETS = frozenset(
    {
        "BUYER",
        "RECIPIENT",
        "PROCEEDS",
        "EXPENSE",
        "PROMOTION",
        "CANCELLATION",
        "FULFILLMENT",
        "PACKAGES",
        "TAX",
        "PAYMENT",
        "FULFILLMENT_ORDERS",
    }
)
SPAPI_ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """The function app's settings. Field descriptions are the documentation (README and the example
    local.settings.json are checked against them)."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
        env_file=None,
        env_ignore_empty=True,  # an empty app setting means "not set", as in local.settings.json.example
    )

    # --- Service Bus ------------------------------------------------------------------------------
    amazon_notifications_queue: str = Field(
        "amazon-notifications",
        validation_alias="AMAZON_NOTIFICATIONS_QUEUE",
        description="Service Bus queue of Amazon notifications; the trigger reads it as %AMAZON_NOTIFICATIONS_QUEUE%.",
    )
    dataverse_events_queue: str = Field(
        "dataverse-events",
        validation_alias="DATAVERSE_EVENTS_QUEUE",
        description="Service Bus queue Dataverse's service endpoint posts RemoteExecutionContext messages to; the "
        "dataverse_events trigger reads it as %DATAVERSE_EVENTS_QUEUE%.",
    )
    inventory_changes_topic: str = Field(
        "inventory-changes",
        validation_alias="INVENTORY_CHANGES_TOPIC",
        description="Service Bus topic every applied inventory change (either direction) is published to.",
    )
    inventory_publish_enabled: bool = Field(
        True,
        validation_alias="INVENTORY_PUBLISH_ENABLED",
        description="Publish applied inventory changes to INVENTORY_CHANGES_TOPIC.",
    )
    service_bus_connection: SecretStr | None = Field(
        None,
        validation_alias="ServiceBusConnection",
        description="Service Bus connection string (local development); in Azure use the identity-based "
        "ServiceBusConnection__fullyQualifiedNamespace instead.",
    )
    service_bus_namespace: str | None = Field(
        None,
        validation_alias="ServiceBusConnection__fullyQualifiedNamespace",
        description="Service Bus namespace host (<name>.servicebus.windows.net), reached with the app's managed identity.",
    )

    # --- State (Table Storage) ----------------------------------------------------------------------
    azure_webjobs_storage: SecretStr | None = Field(
        None,
        validation_alias="AzureWebJobsStorage",
        description="The Functions host's storage account; STATE_STORAGE_CONNECTION defaults to it.",
    )
    state_storage_connection: SecretStr | None = Field(
        None,
        validation_alias="STATE_STORAGE_CONNECTION",
        description="Table Storage connection string for dedupe records and order checkpoints "
        "(default: the value of AzureWebJobsStorage).",
    )
    state_storage_table_endpoint: str | None = Field(
        None,
        validation_alias="STATE_STORAGE_TABLE_ENDPOINT",
        description="Identity-based alternative to STATE_STORAGE_CONNECTION: https://<account>.table.core.windows.net",
    )
    state_table: str = Field(
        "amazonsync",
        validation_alias="STATE_TABLE",
        pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$",
        description="Name of the state table (created on first use).",
    )

    # --- Secrets ------------------------------------------------------------------------------------
    key_vault_url: str | None = Field(
        None,
        validation_alias="KEY_VAULT_URL",
        description="Key Vault holding the secrets (names in the README); unset: secrets come from the environment.",
    )

    # --- Amazon SP-API ------------------------------------------------------------------------------
    spapi_refresh_token: SecretStr | None = Field(
        None,
        validation_alias="SPAPI_REFRESH_TOKEN",
        json_schema_extra=key_vault_secret("spapi-refresh-token"),
        description="Login with Amazon refresh token of the seller's authorization.",
    )
    spapi_lwa_client_id: str | None = Field(
        None,
        validation_alias="SPAPI_LWA_CLIENT_ID",
        json_schema_extra=key_vault_secret("spapi-lwa-client-id"),
        description="Login with Amazon client id of the SP-API application.",
    )
    spapi_lwa_client_secret: SecretStr | None = Field(
        None,
        validation_alias="SPAPI_LWA_CLIENT_SECRET",
        json_schema_extra=key_vault_secret("spapi-lwa-client-secret"),
        description="Login with Amazon client secret of the SP-API application.",
    )
    spapi_region: Literal["na", "eu", "fe"] = Field(
        "na", validation_alias="SPAPI_REGION", description="SP-API region: na, eu or fe."
    )
    spapi_marketplace_ids: CsvList = Field(
        default_factory=lambda: ["ATVPDKIKX0DER"],
        validation_alias="SPAPI_MARKETPLACE_IDS",
        description="Comma-separated marketplace ids the seller sells in.",
    )
    spapi_seller_id: str | None = Field(
        None,
        validation_alias="SPAPI_SELLER_ID",
        description="The seller's merchant id (required by order sync); notifications for another seller are "
        "dead-lettered.",
    )
    spapi_application_id: str | None = Field(
        None,
        validation_alias="SPAPI_APPLICATION_ID",
        description="The SP-API application id (amzn1.sp.solution...); when set, notifications addressed to "
        "another application are dead-lettered.",
    )
    spapi_endpoint: str | None = Field(
        None,
        validation_alias="SPAPI_ENDPOINT",
        description="SP-API base URL override (sandbox, tests); default: the region's endpoint.",
    )
    spapi_lwa_token_url: str = Field(
        "https://api.amazon.com/auth/o2/token",
        validation_alias="SPAPI_LWA_TOKEN_URL",
        description="Login with Amazon token URL override.",
    )
    spapi_included_data: CsvList = Field(
        default_factory=lambda: ["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "CANCELLATION"],
        validation_alias="SPAPI_INCLUDED_DATA",
        description="Orders API datasets to request (includedData). FULFILLMENT is required for the status; "
        "drop BUYER/RECIPIENT if the app has no PII roles.",
    )
    spapi_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias="SPAPI_TIMEOUT_SECONDS", description="Timeout of one SP-API request."
    )

    # --- Dataverse ----------------------------------------------------------------------------------
    dataverse_url: str | None = Field(
        None,
        validation_alias="DATAVERSE_URL",
        description="Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (needed by every flow "
        "that writes to the CRM).",
    )
    dataverse_api_version: str = Field(
        "9.2", validation_alias="DATAVERSE_API_VERSION", pattern=r"^\d+\.\d+$", description="Web API version."
    )
    dataverse_auth: Literal["managed_identity", "client_secret", "default", "adfs", "none"] = Field(
        "default",
        validation_alias="DATAVERSE_AUTH",
        description="How to get a Dataverse token: managed_identity, client_secret, default "
        "(DefaultAzureCredential), adfs (Dynamics 365 on-premises: AD FS client credentials) or none (only "
        "for a loopback DATAVERSE_URL, i.e. the sandbox).",
    )
    dataverse_tenant_id: str | None = Field(
        None, validation_alias="DATAVERSE_TENANT_ID", description="Entra tenant id (client_secret auth)."
    )
    dataverse_client_id: str | None = Field(
        None,
        validation_alias="DATAVERSE_CLIENT_ID",
        description="Application (client) id for client_secret and adfs auth, or of a user-assigned managed "
        "identity.",
    )
    dataverse_client_secret: SecretStr | None = Field(
        None,
        validation_alias="DATAVERSE_CLIENT_SECRET",
        json_schema_extra=key_vault_secret("dataverse-client-secret"),
        description="Client secret for client_secret and adfs auth.",
    )
    dataverse_adfs_token_url: str | None = Field(
        None,
        validation_alias="DATAVERSE_ADFS_TOKEN_URL",
        description="AD FS token endpoint for DATAVERSE_AUTH=adfs, e.g. https://adfs.contoso.com/adfs/oauth2/token.",
    )
    dataverse_adfs_resource: str | None = Field(
        None,
        validation_alias="DATAVERSE_ADFS_RESOURCE",
        description="Relying party identifier the AD FS token is asked for (DATAVERSE_AUTH=adfs); default: "
        "DATAVERSE_URL.",
    )
    dataverse_prefix: str = Field(
        "new_",
        validation_alias="DATAVERSE_PREFIX",
        pattern=r"^[a-z][a-z0-9]{1,7}_$",
        description="Publisher prefix of the custom columns (new_amazonorderid, ...).",
    )
    dataverse_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="DATAVERSE_TIMEOUT_SECONDS",
        description="Timeout of one Dataverse request.",
    )
    dataverse_integration_user_id: str | None = Field(
        None,
        validation_alias="DATAVERSE_INTEGRATION_USER_ID",
        pattern=r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$",
        description="systemuserid of the app's Dataverse application user: changes it made (InitiatingUserId or "
        "UserId of an event) are never sent back to Amazon. Unset: asked once with WhoAmI.",
    )
    dataverse_organization_id: str | None = Field(
        None,
        validation_alias="DATAVERSE_ORGANIZATION_ID",
        pattern=r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$",
        description="When set, Dataverse events of any other organization are dead-lettered (ForeignOrganization).",
    )
    dataverse_events_sas_key_name: str = Field(
        "dataverse-send",
        validation_alias="DATAVERSE_EVENTS_SAS_KEY_NAME",
        description="Name of the Send-only shared access rule Dataverse's service endpoint uses to post to "
        "DATAVERSE_EVENTS_QUEUE (Dataverse authenticates to Service Bus with a shared access key only).",
    )
    dataverse_events_sas_key: SecretStr | None = Field(
        None,
        validation_alias="DATAVERSE_EVENTS_SAS_KEY",
        json_schema_extra=key_vault_secret("dataverse-events-sas-key"),
        description="Key of DATAVERSE_EVENTS_SAS_KEY_NAME; `python -m shared.provision dataverse` registers the "
        "Dataverse events endpoint and steps only when it is set (the app itself never uses it).",
    )
    dataverse_orders_per_batch: int = Field(
        50,
        ge=1,
        le=100,
        validation_alias="DATAVERSE_ORDERS_PER_BATCH",
        description="Orders written per $batch request (each order is its own atomic change set).",
    )

    # --- SQS -> Service Bus bridge --------------------------------------------------------------------
    sqs_queue_url: str | None = Field(
        None,
        validation_alias="SQS_QUEUE_URL",
        description="URL of the Amazon SQS queue SP-API delivers notifications to; unset: the bridge is idle.",
    )
    aws_region: str = Field(
        "us-east-1",
        validation_alias="AWS_REGION",
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        description="AWS region of the SQS queue.",
    )
    aws_access_key_id: SecretStr | None = Field(
        None,
        validation_alias="AWS_ACCESS_KEY_ID",
        json_schema_extra=key_vault_secret("aws-access-key-id"),
        description="AWS access key of an IAM user allowed sqs:ReceiveMessage, sqs:DeleteMessage and "
        "sqs:ChangeMessageVisibility on the queue (unset: boto3's default chain, e.g. a role).",
    )
    aws_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias="AWS_SECRET_ACCESS_KEY",
        json_schema_extra=key_vault_secret("aws-secret-access-key"),
        description="Secret of AWS_ACCESS_KEY_ID.",
    )
    sqs_queue_arn: str | None = Field(
        None,
        validation_alias="SQS_QUEUE_ARN",
        pattern=r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$",
        description="ARN of the SQS queue, for the SP-API notification destination; default: derived from "
        "SQS_QUEUE_URL and AWS_REGION.",
    )
    sqs_endpoint: str | None = Field(
        None,
        validation_alias="SQS_ENDPOINT",
        description="SQS endpoint override (sandbox, tests); default: the region's endpoint.",
    )
    bridge_max_seconds: float = Field(
        50.0,
        gt=0,
        le=240,
        validation_alias="BRIDGE_MAX_SECONDS",
        description="How long one bridge run long-polls SQS; the timer fires every minute, so keep it under 60.",
    )
    bridge_enabled: bool = Field(
        True, validation_alias="BRIDGE_ENABLED", description="Run the SQS -> Service Bus bridge on its timer."
    )

    # --- Order sweep and backfill ------------------------------------------------------------------
    orders_sweep_schedule: str = Field(
        "0 */10 * * * *",
        validation_alias="ORDERS_SWEEP_SCHEDULE",
        pattern=r"^\S+( \S+){5}$",
        description="NCRONTAB schedule of the orders_sweep timer (the safety net under notifications: orders "
        "Amazon changed since the last sweep, read with searchOrders); the trigger reads it as %ORDERS_SWEEP_SCHEDULE%.",
    )
    orders_sweep_enabled: bool = Field(
        True,
        validation_alias="ORDERS_SWEEP_ENABLED",
        description="Run the order sweep (and the backfill jobs it continues) on its timer.",
    )
    orders_sweep_max_seconds: float = Field(
        240.0,
        gt=0,
        le=540,
        validation_alias="ORDERS_SWEEP_MAX_SECONDS",
        description="Time budget of one sweep run, backfill steps included; a run that needs more stops and the "
        "next one goes on (the Functions timeout is 10 minutes).",
    )
    orders_sweep_first_lookback_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        validation_alias="ORDERS_SWEEP_FIRST_LOOKBACK_HOURS",
        description="Where the very first sweep starts (hours back); older orders are a backfill's job.",
    )

    # --- Dynamics -> Amazon ---------------------------------------------------------------------------
    listings_coalesce_seconds: float = Field(
        3.0,
        ge=0,
        le=300,
        validation_alias="LISTINGS_COALESCE_SECONDS",
        description="After a listing update is sent, further stock and price changes of that SKU and marketplace "
        "wait this long and go out as one patch with the newest values (0: every change at once).",
    )
    listings_feed_threshold: int = Field(
        100,
        ge=1,
        le=10000,
        validation_alias="LISTINGS_FEED_THRESHOLD",
        description="Listings waiting in the backlog (the Listings usage plan was spent) from which the backlog "
        "timer sends one JSON_LISTINGS_FEED per marketplace instead of one patch per listing.",
    )
    fba_sweep_schedule: str = Field(
        "0 30 3 * * *",
        validation_alias="FBA_SWEEP_SCHEDULE",
        pattern=r"^\S+( \S+){5}$",
        description="NCRONTAB schedule (UTC) of the daily FBA inventory sweep (getInventorySummaries -> CRM); "
        "the timer reads it as %FBA_SWEEP_SCHEDULE%.",
    )

    # --- Waiting out passing trouble ----------------------------------------------------------------
    retry_base_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias="RETRY_BASE_SECONDS",
        description="First wait before a message that met passing trouble (an outage, an empty quota) is tried "
        "again; it doubles per attempt. The message is rescheduled, so no delivery count is spent.",
    )
    retry_max_delay_seconds: float = Field(
        900.0,
        gt=0,
        validation_alias="RETRY_MAX_DELAY_SECONDS",
        description="Longest wait between two attempts of a rescheduled message.",
    )
    retry_max_age_hours: float = Field(
        24.0,
        gt=0,
        validation_alias="RETRY_MAX_AGE_HOURS",
        description="How long a message may keep meeting passing trouble before it is dead-lettered as "
        "RetriesExhausted.",
    )

    # --- Circuit breakers (one per dependency: SP-API, Dataverse, Table Storage) ----------------------
    breaker_failures: int = Field(
        5,
        ge=1,
        le=1000,
        validation_alias="BREAKER_FAILURES",
        description="Failed calls in a row (each after its retries) that open a dependency's circuit breaker "
        "(SP-API, Dataverse, Table Storage); while open, its calls fail at once and messages wait.",
    )
    breaker_cooldown_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="BREAKER_COOLDOWN_SECONDS",
        description="How long an open breaker fails calls fast before one probe call is let through; "
        "doubles after each failed probe.",
    )
    breaker_max_cooldown_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias="BREAKER_MAX_COOLDOWN_SECONDS",
        description="Upper bound of the doubling cool-down; at least BREAKER_COOLDOWN_SECONDS.",
    )

    # --- Finance: transactions, settlements, exchange rates ----------------------------------------------
    finance_sync_schedule: str = Field(
        "0 */30 * * * *",
        validation_alias="FINANCE_SYNC_SCHEDULE",
        pattern=r"^\S+( \S+){5}$",
        description="NCRONTAB schedule of the finance_sync timer (Amazon's financial transactions -> Dynamics, "
        "exchange rates refreshed); the trigger reads it as %FINANCE_SYNC_SCHEDULE%.",
    )
    finance_sync_enabled: bool = Field(
        True, validation_alias="FINANCE_SYNC_ENABLED", description="Run the finance sync on its timer."
    )
    finance_sync_max_seconds: float = Field(
        240.0,
        gt=0,
        le=540,
        validation_alias="FINANCE_SYNC_MAX_SECONDS",
        description="Time budget of one finance_sync or settlement_reports run; a run that needs more stops after "
        "a batch and the next one goes on (the Functions timeout is 10 minutes).",
    )
    finance_first_lookback_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        validation_alias="FINANCE_FIRST_LOOKBACK_DAYS",
        description="How far back the very first finance run reads transactions (days); later runs go on from "
        "their watermark.",
    )
    finance_reread_hours: float = Field(
        48.0,
        ge=0,
        le=24 * 30,
        validation_alias="FINANCE_REREAD_HOURS",
        description="Every finance run reads this many hours before its watermark again: Amazon says "
        "transactions may appear up to 48 hours after they were posted.",
    )
    finance_records_per_batch: int = Field(
        100,
        ge=1,
        le=1000,
        validation_alias="FINANCE_RECORDS_PER_BATCH",
        description="Transaction rows, invoices or reconciliation results written per Dataverse $batch request "
        "(each one its own atomic change set).",
    )
    settlement_reports_schedule: str = Field(
        "0 20 */6 * * *",
        validation_alias="SETTLEMENT_REPORTS_SCHEDULE",
        pattern=r"^\S+( \S+){5}$",
        description="NCRONTAB schedule of the settlement_reports timer (new V2 settlement reports -> settlement, "
        "invoices, reconciliation); the trigger reads it as %SETTLEMENT_REPORTS_SCHEDULE%.",
    )
    settlement_reports_enabled: bool = Field(
        True,
        validation_alias="SETTLEMENT_REPORTS_ENABLED",
        description="Read new settlement reports on their timer.",
    )
    settlement_first_lookback_days: float = Field(
        90.0,
        gt=0,
        le=90,
        validation_alias="SETTLEMENT_FIRST_LOOKBACK_DAYS",
        description="How far back the very first settlement run looks for reports (days; Amazon keeps reports "
        "for 90).",
    )
    exchange_rates_enabled: bool = Field(
        True,
        validation_alias="EXCHANGE_RATES_ENABLED",
        description="Refresh Dataverse's currency exchange rates from EXCHANGE_RATES_URL and use them for the "
        "base-currency values of money rows; off: Dataverse's current rates are used as they are.",
    )
    exchange_rates_url: str = Field(
        "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml",
        validation_alias="EXCHANGE_RATES_URL",
        description="Reference exchange rates in the European Central Bank's XML format (daily rates per euro; "
        "the 90-day file covers late transactions).",
    )
    exchange_rates_refresh_hours: float = Field(
        12.0,
        gt=0,
        le=24 * 7,
        validation_alias="EXCHANGE_RATES_REFRESH_HOURS",
        description="How long fetched exchange rates are used before they are fetched again (the ECB publishes "
        "once per business day).",
    )

    # --- Telemetry ----------------------------------------------------------------------------------
    applicationinsights_connection_string: str | None = Field(
        None,
        validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING",
        description="Application Insights connection string; set: the app sends its spans and custom metrics "
        "there (azure-monitor-opentelemetry, loaded on the first invocation). Unset: telemetry is off and costs nothing.",
    )
    applicationinsights_authentication_string: str | None = Field(
        None,
        validation_alias="APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        description="Authorization=AAD;ClientId=<managed identity client id>: telemetry is sent with that identity "
        "(Entra ID authentication, for Application Insights with local authentication off).",
    )
    telemetry_logs: bool = Field(
        False,
        validation_alias="TELEMETRY_LOGS",
        description="Also send log records through OpenTelemetry. Only with host.json telemetryMode OpenTelemetry: "
        "otherwise the Functions host already forwards them and each would be stored twice.",
    )

    # --- Operations over HTTP (resync, failures, health, status) -------------------------------------
    resync_queue: str = Field(
        "resync",
        validation_alias="RESYNC_QUEUE",
        description="Service Bus queue of resync jobs (POST /api/resync queues them, the resync function runs "
        "them); the trigger reads it as %RESYNC_QUEUE%.",
    )
    resync_max_orders: int = Field(
        1000,
        ge=1,
        le=5000,
        validation_alias="RESYNC_MAX_ORDERS",
        description="Most Amazon order ids one POST /api/resync may name (each costs a getOrder call; larger "
        "resyncs go by date range).",
    )
    resync_max_skus: int = Field(
        500,
        ge=1,
        le=1000,  # 1,000 SKUs of 40 characters fit the 64 KB a request body may have
        validation_alias="RESYNC_MAX_SKUS",
        description="Most SKUs one POST /api/resync may name (each costs two Dataverse reads and a listings patch "
        "per marketplace, paced by the Listings usage plan; the backlog timer takes the rest as feeds).",
    )
    resync_max_range_days: float = Field(
        180.0,
        gt=0,
        le=730,
        validation_alias="RESYNC_MAX_RANGE_DAYS",
        description="Longest date range one POST /api/resync may name (days); the range is read as a backfill job.",
    )
    health_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=60,
        validation_alias="HEALTH_TIMEOUT_SECONDS",
        description="How long GET /api/health waits for its checks (run side by side); a check still running "
        "then counts as failed.",
    )

    # --- Mapping ------------------------------------------------------------------------------------
    mapping_file: Path | None = Field(
        None,
        validation_alias="MAPPING_FILE",
        description="TOML mapping file overriding the built-in defaults (statuses, columns, PII policy, unknown SKUs).",
    )

    @field_validator("breaker_max_cooldown_seconds")
    @classmethod
    def _max_cooldown(cls, value: float, info: ValidationInfo) -> float:
        cooldown = info.data.get("breaker_cooldown_seconds")
        if cooldown is not None and value < cooldown:
            raise ValueError("must be at least BREAKER_COOLDOWN_SECONDS")
        return value

    @field_validator("spapi_marketplace_ids", "spapi_included_data", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("spapi_marketplace_ids")
    @classmethod
    def _marketplaces(cls, value: list[str]) -> list[str]:
        if not value or len(value) > 50:
            raise ValueError("give between 1 and 50 marketplace ids")
        bad = [item for item in value if not re.fullmatch(r"[A-Z0-9]{10,14}", item)]
        if bad:
            raise ValueError("marketplace ids are 10-14 upper-case letters and digits")
        return value

    @field_validator("spapi_included_data")
    @classmethod
    def _datasets(cls, value: list[str]) -> list[str]:
        datasets = [item.upper() for item in value]
        unknown = sorted(set(datasets) - ORDER_DATASETS)
        if unknown:
            raise ValueError(f"unknown datasets {unknown}; allowed: {sorted(ORDER_DATASETS)}")
        if "FULFILLMENT" not in datasets:
            raise ValueError("FULFILLMENT is required: without it Amazon returns no order status")
        return datasets

    @field_validator(
        "dataverse_url",
        "dataverse_adfs_token_url",
        "spapi_endpoint",
        "spapi_lwa_token_url",
        "key_vault_url",
        "sqs_endpoint",
        "sqs_queue_url",
        "state_storage_table_endpoint",
        "exchange_rates_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else service_url(value)

    @field_validator("key_vault_url")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be https: the Key Vault SDK sends its token only over TLS")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if (
            self.dataverse_auth == "none"
            and self.dataverse_url
            and not is_loopback(urlsplit(self.dataverse_url).hostname or "")
        ):
            raise ValueError("DATAVERSE_AUTH=none is refused unless DATAVERSE_URL is a loopback address")
        # What each Dataverse connection type needs: checked at start-up, not on the first order.
        needs = {
            "client_secret": ("dataverse_tenant_id", "dataverse_client_id", "dataverse_client_secret"),
            "adfs": ("dataverse_adfs_token_url", "dataverse_client_id", "dataverse_client_secret"),
        }
        missing = [
            setting_name(field) for field in needs.get(self.dataverse_auth, ()) if not getattr(self, field)
        ]
        if missing:
            raise ValueError(f"DATAVERSE_AUTH={self.dataverse_auth} needs {', '.join(missing)}")
        if not (
            self.state_storage_connection or self.azure_webjobs_storage or self.state_storage_table_endpoint
        ):
            raise ValueError(
                "no state storage: set STATE_STORAGE_CONNECTION, AzureWebJobsStorage or STATE_STORAGE_TABLE_ENDPOINT"
            )
        return self

    # --- what one function needs ---------------------------------------------------------------------
    def required(self, *fields: str, needed_by: str) -> tuple[str, ...]:
        """The values of `fields` (secrets revealed), or a ConfigurationError naming every one that is unset.

        Settings only some functions use are optional at start-up and checked here, when first needed:
        the SQS bridge must not refuse to start because the SP-API credentials are missing.
        """
        values = [getattr(self, field) for field in fields]
        missing = [setting_name(field) for field, value in zip(fields, values, strict=True) if not value]
        if missing:
            raise ConfigurationError(f"{needed_by} needs {', '.join(missing)} (not set)")
        return tuple(
            value.get_secret_value() if isinstance(value, SecretStr) else str(value) for value in values
        )

    # --- derived values -----------------------------------------------------------------------------
    @property
    def spapi_base_url(self) -> str:
        return self.spapi_endpoint or SPAPI_ENDPOINTS[self.spapi_region]

    @property
    def state_connection_string(self) -> str | None:
        """STATE_STORAGE_CONNECTION, falling back to AzureWebJobsStorage (unless an endpoint is given)."""
        chosen = self.state_storage_connection or (
            None if self.state_storage_table_endpoint else self.azure_webjobs_storage
        )
        return chosen.get_secret_value() if chosen else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, KeyVaultSettingsSource(settings_cls), env_settings)


def setting_name(field_name: str) -> str:
    """The app-setting name of a Settings field (its validation alias)."""
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field_name.upper()


def load_settings() -> Settings:
    """Read and validate the settings; failures name the setting and why, never its value."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            location = error["loc"][0] if error["loc"] else None
            name = setting_name(str(location)) if location in Settings.model_fields else str(location or "")
            if error["type"] == "missing":
                problems.append(f"{name} is missing")
            elif name:
                problems.append(f"{name} is invalid: {str(error['msg']).removeprefix('Value error, ')}")
            else:
                problems.append(str(error["msg"]).removeprefix("Value error, "))
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use (the functions host has the app settings by then)."""
    return load_settings()
