"""`python -m sandbox`: the main job on the built-in sandbox, no Azure and no Amazon account needed.

Starts Azurite and the SP-API and Dataverse emulators, delivers the demo scenario's notifications through
the registered `amazon_notifications` function, then prints what landed in the CRM and what it cost. Then the
other direction: a person's stock, price and shipment in Dynamics reach Amazon through `dataverse_events`,
Amazon's FBA stock reaches Dynamics, and every applied stock change is published to the inventory topic.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox.crm_report import print_crm_to_amazon
from sandbox.crm_scenario import run_crm_scenario
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.scenario import run_money_day, run_scenario, ship_open_orders

STATES = {
    (0, 1): "Active / New",
    (0, 2): "Active / Pending",
    (1, 3): "Submitted / In Progress",
    (2, 4): "Canceled / No Money",
    (3, 100001): "Fulfilled / Complete",
    (3, 100002): "Fulfilled / Partial",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show the app's log lines")
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.ERROR,
        format="  log: %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("azure.functions").setLevel(logging.ERROR)

    print(
        "Starting the sandbox: Azurite (Table Storage), moto (Amazon SQS), the Service Bus stand-in (AMQP),\n"
        "the SP-API + LWA emulator and the Dataverse emulator, all on 127.0.0.1 ..."
    )
    with Sandbox(SandboxOptions(pipeline="amazon", crm_events=True)) as sandbox:
        pipeline = sandbox.pipeline
        assert pipeline is not None
        print(f"  SQS         {pipeline.queue_url}")
        print(f"  Service Bus {pipeline.bus.connection_string.split(';')[0]} queue {pipeline.queue}")
        print(f"  SP-API      {sandbox.spapi.base_url}\n  Dataverse   {sandbox.dataverse.service_root}\n")
        print_provisioning(sandbox)
        print("Notifications travel SQS -> sqs_bridge -> Service Bus -> amazon_notifications -> Dataverse.\n")
        log = run_scenario(sandbox, say=print)
        ship_open_orders(sandbox, log, say=print)
        print()
        orders_cost = Cost.of(sandbox)
        run_money_day(sandbox, log, say=print)
        money_cost = Cost.of(sandbox) - orders_cost
        print()
        print_crm(sandbox)
        print_money(sandbox)
        print_dead_letters(sandbox)
        print_costs(sandbox, orders_cost, money_cost)
        print()
        print("Dynamics -> Amazon " + "-" * 90)
        crm_log = run_crm_scenario(sandbox, say=print)
        print()
        print_crm_to_amazon(sandbox, crm_log)
    return 0


def print_provisioning(sandbox: Sandbox) -> None:
    """What the deployment's hooks did to the fresh emulators (the org has no custom column or key before),
    and a second run, which finds everything in place and only reads."""
    print(
        "Provisioning, as `azd up`'s hooks do it (the emulated org starts without the app's columns and keys):"
    )
    print(_indented(sandbox.provision_log))
    print("Provisioning again changes nothing:")
    print(_indented(sandbox.provision()))
    # The app's costs below count from here.
    sandbox.spapi.requests.reset()
    sandbox.dataverse.requests.reset()


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.rstrip().splitlines()) + "\n"


def print_crm(sandbox: Sandbox) -> None:
    dataverse = sandbox.dataverse
    contacts = {row["contactid"]: row for row in dataverse.records("contacts")}
    accounts = {row["accountid"]: row for row in dataverse.records("accounts")}
    lines_by_order: dict[str, list[dict[str, Any]]] = {}
    for line in dataverse.records("salesorderdetails"):
        lines_by_order.setdefault(line["salesorderid"], []).append(line)
    currencies = {
        row["transactioncurrencyid"]: row["isocurrencycode"]
        for row in dataverse.records("transactioncurrencies")
    }
    orders = sorted(dataverse.records("salesorders"), key=lambda row: row["name"])
    print(f"What landed in Dynamics 365 ({len(orders)} sales orders):")
    for order in orders:
        state = STATES.get(
            (order["statecode"], order["statuscode"]), f"{order['statecode']}/{order['statuscode']}"
        )
        customer = contacts.get(order["customerid"]) or accounts.get(order["customerid"]) or {}
        who = customer.get("fullname") or customer.get("name") or "?"
        kind = "contact" if order["customerid"] in contacts else "account"
        currency = currencies.get(order.get("transactioncurrencyid"), "")
        print(
            f"  {order['name']:<30} {order['new_amazonfulfillmentchannel'] or '':<4} {state:<24} "
            f"total {order['totalamount'] or 0:>8} {currency}  customer {kind}: {who}"
        )
        for line in sorted(
            lines_by_order.get(order["salesorderid"], []), key=lambda row: row["lineitemnumber"] or 0
        ):
            product = "product" if line["productid"] else "write-in"
            print(
                f"      line {line['lineitemnumber']}: {line['new_amazonsellersku']:<22} x{line['quantity']:<4} "
                f"@ {line['priceperunit']:>7}  ({product}, shipped {line['quantityshipped']})"
            )
    print(
        f"  contacts: {len(contacts)}   accounts: {len(accounts)}   (buyer names masked, street/phone/email omitted)\n"
    )


def print_money(sandbox: Sandbox) -> None:
    """Amazon's money side as the accountant finds it in Dynamics."""
    dataverse = sandbox.dataverse
    currencies = {
        row["transactioncurrencyid"]: row["isocurrencycode"]
        for row in dataverse.records("transactioncurrencies")
    }
    transactions = dataverse.records("new_financetransactions")
    kinds = Counter(row["new_transactiontype"] for row in transactions)
    deferred = sum(1 for row in transactions if row["new_transactionstatus"] == "DEFERRED")
    linked = sum(1 for row in transactions if row["new_salesorderid"])
    print(
        f"Amazon's money in Dynamics ({len(transactions)} transactions: {dict(sorted(kinds.items()))}, ",
        end="",
    )
    print(f"{deferred} deferred, {linked} linked to their sales order):")
    for row in sorted(
        dataverse.records("new_settlements"),
        key=lambda r: (r["new_startdate"] or "", r["new_amazonsettlementid"]),
    ):
        base = (
            f", {row['new_basecurrencycode']} {row['new_basetotalamount']} at {row['new_exchangerate']}"
            if row["new_exchangerate"]
            else ""
        )
        print(
            f"  settlement {row['new_amazonsettlementid']}  {str(row['new_startdate'])[:10]} .. {str(row['new_enddate'])[:10]}"
            f"  deposit {str(row['new_depositdate'])[:10]}  {row['new_currencycode']} {row['new_totalamount']:>8}{base}"
            f"  ({row['new_ordercount']} orders, {row['new_mismatchcount']} mismatches)"
        )
    lines_by_invoice: dict[str, list[dict[str, Any]]] = {}
    for line in dataverse.records("invoicedetails"):
        lines_by_invoice.setdefault(line["invoiceid"], []).append(line)
    invoices = sorted(dataverse.records("invoices"), key=lambda row: row["name"])
    paid = sum(1 for row in invoices if row["statecode"] == 2)
    print(f"  invoices ({len(invoices)}, {paid} Paid), one per settled order:")
    for invoice in invoices:
        lines = lines_by_invoice.get(invoice["invoiceid"], [])
        credits = sum(1 for line in lines if (line["quantity"] or 0) < 0)
        currency = currencies.get(invoice.get("transactioncurrencyid"), "")
        print(
            f"    {invoice['name']:<50} {currency} {invoice['totalamount']:>8}  {len(lines)} lines"
            + (f" ({credits} credit)" if credits else "")
        )
    findings = sorted(dataverse.records("new_reconciliations"), key=lambda row: row["new_resultkey"])
    print(f"  reconciliation mismatches ({len(findings)}):")
    for row in findings:
        print(
            f"    {row['new_reason']:<24} {row['new_category'] or '':<6} order {row['new_amazonorderid'] or '-':<20} "
            f"expected {_amount(row['new_expectedamount'])}  settled {_amount(row['new_settledamount'])}  "
            f"{row['new_currencycode']}"
        )
    print()


def _amount(value: Any) -> str:
    return "-" if value is None else str(value)


def print_dead_letters(sandbox: Sandbox) -> None:
    dead = sandbox.dead_letters()
    print(f"Dead-letter queue ({len(dead)}), listed with `python -m shared.servicebus.deadletters list`:")
    for reason, description in dead:
        print(f"  {reason}: {description}")
    print()


def print_ledger(sandbox: Sandbox) -> None:
    """Where every message went: each one published is accounted for exactly once."""
    pipeline = sandbox.pipeline
    assert pipeline is not None
    totals = sandbox.runtime().order_sync.totals
    bus = pipeline.bus.counts(pipeline.queue)
    applied = totals["written"] + totals["unchanged"] + totals["closed_in_crm"]
    # An order's several notifications in one batch make one write; count messages, not writes.
    applied_messages = totals["messages"] - sum(
        totals[name]
        for name in (
            "stale",
            "duplicate",
            "ignored_type",
            "malformed",
            "dead_lettered",
            "abandoned",
            "rescheduled",
        )
    )
    print(f"Every message accounted for ({pipeline.published} published to SQS):")
    print(
        f"  {bus['duplicates_dropped']:>3} dropped by Service Bus as duplicates (same NotificationId, within 10 min)"
    )
    print(f"  {totals['messages']:>3} delivered to amazon_notifications, of which")
    print(f"  {applied_messages:>7} applied ({applied} order writes or checks)")
    print(f"  {totals['stale']:>7} stale: older than what the CRM holds, completed without a call")
    print(f"  {totals['duplicate']:>7} duplicates by NotificationId (seen before), completed")
    print(f"  {totals['ignored_type']:>7} of a type order sync does not handle, completed")
    print(f"  {totals['malformed'] + totals['dead_lettered']:>7} dead-lettered with a reason (listed above)")
    print(
        f"  {totals['abandoned'] + totals['rescheduled']:>7} deliveries that failed for a while and were retried"
    )
    still = bus["active"] + bus["locked"]
    print(f"  {still:>3} still on the queue\n")


@dataclass(frozen=True)
class Cost:
    """Requests the emulators answered (LWA tokens aside), by operation."""

    spapi: Counter[str]
    dataverse: Counter[str]

    @classmethod
    def of(cls, sandbox: Sandbox) -> Cost:
        spapi = Counter(sandbox.spapi.requests.snapshot())
        del spapi["lwa.token"]
        return cls(spapi, Counter(sandbox.dataverse.requests.snapshot()))

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.spapi - other.spapi, self.dataverse - other.dataverse)


def print_costs(sandbox: Sandbox, orders: Cost, money: Cost) -> None:
    runtime = sandbox.runtime()
    totals = runtime.order_sync.totals
    calls = sum(orders.spapi.values())
    print_ledger(sandbox)
    print("What it cost (notifications to sales orders):")
    print(f"  SP-API calls: {calls} ({dict(orders.spapi)})")
    print(f"  Dataverse HTTP requests: {sum(orders.dataverse.values())} ({dict(orders.dataverse)})")
    print(f"  Table Storage requests: {runtime.state.requests}")
    if totals["written"]:
        per_write = totals["written"]
        print(
            f"  per order write: {calls / per_write:.2f} SP-API calls, "
            f"{sum(orders.dataverse.values()) / per_write:.2f} Dataverse requests (reference data lookups included)"
        )
    finance = runtime.finance_sync.totals
    settled = runtime.settlement_sync.totals
    print("What the money side cost (finance_sync and settlement_reports):")
    print(f"  SP-API calls: {sum(money.spapi.values())} ({dict(money.spapi)})")
    print(
        f"  Dataverse HTTP requests: {sum(money.dataverse.values())}, of which {money.dataverse['batch']} $batch, "
        f"for {finance['written']} transactions, {settled['reports']} settlements and "
        f"{settled['invoices_written']} invoices"
    )


if __name__ == "__main__":
    sys.exit(main())
