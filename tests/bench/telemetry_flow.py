"""Order sync over the unit tests' in-memory fakes, for measuring what the flow itself costs in CPU."""

from __future__ import annotations

import time
from typing import cast

from shared.amazon.orders import OrdersApi
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.orders import CrmOrders
from shared.flows.order_sync import OrderSync
from shared.flows.order_writer import OrderWriter
from shared.mapping.config import load_mapping
from shared.messaging import InboundMessage
from shared.model.crm import ProductRef
from shared.state.store import StateStore
from tests.builders import amazon_order, body, order_change
from tests.fakes import FakeCatalog, FakeCrmOrders, FakeOrdersApi, FakeStateStore

BATCH = 50
SELLER_ID = "A3TH9S8BH6GOGM"  # the builders' seller


def run_flow(orders: int) -> float:
    """CPU seconds to sync `orders` new orders, each announced by one ORDER_CHANGE, in batches of 50."""
    amazon = FakeOrdersApi(get_order_tokens=10**9, search_tokens=10**9)
    ids = [f"113-{index:07d}-0000001" for index in range(orders)]
    amazon.put(*(amazon_order(orderId=order_id) for order_id in ids))
    sync = OrderSync(
        orders=cast(OrdersApi, amazon),
        writer=OrderWriter(cast(CrmOrders, FakeCrmOrders())),
        catalog=cast(
            CrmCatalog,
            FakeCatalog(
                currencies={"USD": "11111111-0000-0000-0000-000000000001"},
                products={"SKU-1": ProductRef("22222222-0000-0000-0000-000000000001", None)},
            ),
        ),
        state=cast(StateStore, FakeStateStore()),
        mapping=load_mapping(),
        seller_id=SELLER_ID,
        sleep=lambda _: None,
    )
    messages = [InboundMessage(f"m-{order_id}", body(order_change(order_id))) for order_id in ids]
    started = time.process_time()
    for start in range(0, orders, BATCH):
        report = sync.handle(messages[start : start + BATCH])
        if report.counts["written"] != len(messages[start : start + BATCH]):
            raise RuntimeError(f"expected every order written: {dict(report.counts)}")
    return time.process_time() - started
